#include "commands/identity_service.h"

#include <spdlog/spdlog.h>

#include "commands/credentials.h"
#include "commands/secrets.h"
#include "common/sha256.h"
#include "domain/stream_id.h"

namespace remotegpu::commands {
namespace {

// Verified against when a username is unknown, so that a wrong name costs as
// long as a wrong password and reveals nothing.
const std::string& DummyHash() {
  static const std::string hash = *HashPassword("not-a-password-0");
  return hash;
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

Status BadCredentials() { return Status::Unauthenticated("wrong username or password"); }

}  // namespace

Result<CommandResult> IdentityService::CreateCustomer(const domain::CreateCustomer& form,
                                                      domain::QuotaLevel quota_level,
                                                      const CommandMeta& meta, std::string* id) {
  *id = "customer-" + ids_.NewId().ToString();
  const std::string quota_id = "quota-" + *id;
  const UnixMicros now = clock_.NowMicros();
  domain::CustomerCommand command;
  *command.mutable_create() = form;
  auto events = domain::Decide(domain::CustomerState{}, command, {*id, now});
  if (!events.ok()) return events.status();
  domain::QuotaCommand set_quota;
  set_quota.mutable_set()->set_level(quota_level);
  auto quota = domain::Decide(domain::QuotaState{}, set_quota, {quota_id, now});
  if (!quota.ok()) return quota.status();
  auto appended = store_.Append(
      {{*id, eventstore::ExpectedVersion::NoStream(), ToEventData(*events, meta, now)},
       {quota_id, eventstore::ExpectedVersion::NoStream(), ToEventData(*quota, meta, now)}});
  if (!appended.ok()) return appended.status();
  CommandResult result{appended->streams[0].last_version, appended->first_position,
                       appended->last_position, events->size()};
  index_.ObserveCommit(store_, *id, result.version, result.events);
  result.events += quota->size();
  return result;
}

Result<CommandResult> IdentityService::SetCustomerEnabled(const std::string& id, bool enabled,
                                                          const std::string& reason,
                                                          const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(id, "customer"));
  domain::CustomerCommand command;
  if (enabled) {
    command.mutable_enable();
  } else {
    command.mutable_disable()->set_reason(reason);
  }
  auto result = ExecuteOne<CustomerTraits>(store_, customers_, clock_, id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, id, result->version, result->events);
  return result;
}

Result<CommandResult> IdentityService::CreateUser(const NewUser& form, const CommandMeta& meta,
                                                  std::string* id) {
  RGPU_RETURN_IF_ERROR(domain::ValidateUsername(form.username));
  RGPU_RETURN_IF_ERROR(CheckPasswordRules(form.password));
  if (form.role == domain::ROLE_CUSTOMER && !index_.CustomerExists(form.customer_id)) {
    return Status::NotFound("no customer " + form.customer_id);
  }
  auto hash = HashPassword(form.password);
  if (!hash.ok()) return hash.status();
  *id = "user-" + ids_.NewId().ToString();
  domain::UserCommand command;
  auto* create = command.mutable_create();
  create->set_username(form.username);
  create->set_role(form.role);
  create->set_customer_id(form.customer_id);
  create->set_password_hash(*hash);
  create->set_email(form.email);
  create->set_display_name(form.display_name);
  const UnixMicros now = clock_.NowMicros();
  auto events = domain::Decide(domain::UserState{}, command, {*id, now});
  if (!events.ok()) return events.status();
  domain::UsernameClaimed claim;
  claim.set_user_id(*id);
  const std::string name_stream = "username-" + form.username;
  auto appended = store_.Append(
      {{*id, eventstore::ExpectedVersion::NoStream(), ToEventData(*events, meta, now)},
       {name_stream,
        eventstore::ExpectedVersion::NoStream(),
        {EventDataOf(claim, "UsernameClaimed", meta, now)}}});
  if (!appended.ok()) {
    if (appended.status().code() == StatusCode::kVersionConflict) {
      return Status::AlreadyExists("the username " + form.username + " is taken");
    }
    return appended.status();
  }
  CommandResult result{appended->streams[0].last_version, appended->first_position,
                       appended->last_position, events->size()};
  index_.ObserveCommit(store_, *id, result.version, result.events);
  return result;
}

Result<CommandResult> IdentityService::ChangePassword(const std::string& user_id,
                                                      const std::string& current,
                                                      const std::string& replacement, bool by_admin,
                                                      const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(user_id, "user"));
  RGPU_RETURN_IF_ERROR(CheckPasswordRules(replacement));
  auto loaded = users_.Load(user_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->state.created) return Status::NotFound("no " + user_id);
  if (!by_admin && !VerifyPassword(loaded->state.password_hash, current)) {
    return Status::Unauthenticated("the current password is wrong");
  }
  auto hash = HashPassword(replacement);
  if (!hash.ok()) return hash.status();
  domain::UserCommand command;
  command.mutable_change_password()->set_password_hash(*hash);
  command.mutable_change_password()->set_by_admin(by_admin);
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, user_id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, user_id, result->version, result->events);
  return result;
}

Result<CommandResult> IdentityService::SetUserEnabled(const std::string& user_id, bool enabled,
                                                      const std::string& reason,
                                                      const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(user_id, "user"));
  domain::UserCommand command;
  if (enabled) {
    command.mutable_enable();
  } else {
    command.mutable_disable()->set_reason(reason);
  }
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, user_id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, user_id, result->version, result->events);
  return result;
}

Result<Login> IdentityService::LogIn(const std::string& username, const std::string& password,
                                     const CommandMeta& meta) {
  const auto user_id = index_.UserIdByName(username);
  if (!user_id) {
    VerifyPassword(DummyHash(), password);
    return BadCredentials();
  }
  auto loaded = users_.Load(*user_id);
  if (!loaded.ok()) return loaded.status();
  if (!VerifyPassword(loaded->state.password_hash, password)) return BadCredentials();
  // Disabled users and customers are refused after the password check, so
  // the answer says nothing about an account to someone without it.
  if (auto principal = index_.ForUser(*user_id); !principal.ok()) return principal.status();
  const std::string session_id = RandomToken(16);
  const std::string secret = RandomToken(32);
  const UnixMicros expires = clock_.NowMicros() + kRefreshLifetimeUs;
  domain::UserCommand command;
  auto* start = command.mutable_start_session();
  start->set_session_id(session_id);
  start->set_refresh_hash(SecretDigest(secret));
  start->set_expires_at_us(expires);
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, *user_id, command, meta);
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kFailedPrecondition) {
      return Status::Unauthenticated(result.status().message());
    }
    return result.status();
  }
  index_.ObserveCommit(store_, *user_id, result->version, result->events);
  auto session = index_.ForSession(*user_id, session_id);
  if (!session.ok()) return session.status();
  return Login{*session, "rt1." + *user_id + "." + session_id + "." + secret, expires,
               result->last_position};
}

Result<Login> IdentityService::Refresh(const std::string& refresh_token, const CommandMeta& meta) {
  const auto parts = Split(refresh_token, '.');
  if (parts.size() != 4 || parts[0] != "rt1" ||
      !domain::IsKind(parts[1], domain::StreamKind::kUser)) {
    return Status::Unauthenticated("not a refresh token");
  }
  const std::string& user_id = parts[1];
  const std::string& session_id = parts[2];
  // A disabled user or customer gets no new tokens (and its session stays as it is).
  if (auto principal = index_.ForUser(user_id); !principal.ok()) return principal.status();
  const std::string secret = RandomToken(32);
  const UnixMicros expires = clock_.NowMicros() + kRefreshLifetimeUs;
  domain::UserCommand command;
  auto* refresh = command.mutable_refresh_session();
  refresh->set_session_id(session_id);
  refresh->set_presented_hash(SecretDigest(parts[3]));
  refresh->set_new_refresh_hash(SecretDigest(secret));
  refresh->set_expires_at_us(expires);
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, user_id, command, meta);
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kFailedPrecondition ||
        result.status().code() == StatusCode::kNotFound) {
      return Status::Unauthenticated(result.status().message());
    }
    return result.status();
  }
  index_.ObserveCommit(store_, user_id, result->version, result->events);
  auto session = index_.ForSession(user_id, session_id);
  if (!session.ok()) {
    if (result->events > 0) {
      spdlog::warn("refresh token of {} reused: session {} ended", user_id, session_id);
    }
    return Status::Unauthenticated("the refresh token was already used; log in again");
  }
  return Login{*session, "rt1." + user_id + "." + session_id + "." + secret, expires,
               result->last_position};
}

Status IdentityService::LogOut(const std::string& user_id, const std::string& session_id,
                               const CommandMeta& meta) {
  domain::UserCommand command;
  command.mutable_end_session()->set_session_id(session_id);
  command.mutable_end_session()->set_reason("logout");
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, user_id, command, meta);
  if (!result.ok()) return result.status();
  index_.ObserveCommit(store_, user_id, result->version, result->events);
  return Status::Ok();
}

Result<IssuedApiKey> IdentityService::CreateApiKey(const std::string& user_id,
                                                   const std::string& name,
                                                   UnixMicros expires_at_us,
                                                   const std::string& host_id,
                                                   const CommandMeta& meta) {
  // A key is minted by a person's session, never by another key: a key
  // (perhaps short-lived, perhaps leaked) must not outlive itself through a
  // fresh one that never expires. Agent tokens are an admin's to mint.
  if (host_id.empty() && meta.actor.kind == eventstore::ActorKind::kApiKey) {
    return Status::PermissionDenied("an API key cannot create API keys; log in to create one");
  }
  const std::string id = ToHex(RandomBytes(8));
  const std::string key_id = "apikey-" + id;
  const std::string secret = RandomToken(32);
  domain::ApiKeyCommand command;
  auto* create = command.mutable_create();
  create->set_user_id(user_id);
  create->set_name(name);
  create->set_prefix("rgk." + id);
  create->set_secret_hash(SecretDigest(secret));
  create->set_expires_at_us(expires_at_us);
  create->set_host_id(host_id);
  auto result = ExecuteOne<ApiKeyTraits>(store_, keys_, clock_, key_id, command, meta);
  if (!result.ok()) return result.status();
  index_.ObserveCommit(store_, key_id, result->version, result->events);
  auto info = index_.ApiKey(key_id);
  if (!info) return Status::Internal("the new API key is not in the index");
  return IssuedApiKey{*info, "rgk." + id + "." + secret, result->last_position};
}

Result<CommandResult> IdentityService::RevokeApiKey(const std::string& key_id,
                                                    const std::string& reason,
                                                    const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(key_id, "apikey"));
  domain::ApiKeyCommand command;
  command.mutable_revoke()->set_reason(reason);
  auto result = ExecuteOne<ApiKeyTraits>(store_, keys_, clock_, key_id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, key_id, result->version, result->events);
  return result;
}

Result<Principal> IdentityService::AuthenticateApiKey(const std::string& key) const {
  const auto parts = Split(key, '.');
  if (parts.size() != 3 || parts[0] != "rgk") return Status::Unauthenticated("not an API key");
  return index_.ForApiKey("apikey-" + parts[1], SecretDigest(parts[2]), clock_.NowMicros());
}

Status IdentityService::RequestPasswordReset(const std::string& username, const CommandMeta& meta) {
  if (notifications_ == nullptr) return Status::Unavailable("password resets are not configured");
  const auto user_id = index_.UserIdByName(username);
  if (!user_id || !index_.ForUser(*user_id).ok()) {
    [[maybe_unused]] auto same_cost = HashPassword("0000000000");  // Reveals nothing.
    return Status::Ok();
  }
  const std::string random = RandomBytes(8);
  uint64_t number = 0;
  for (unsigned char byte : random) number = number << 8 | byte;
  char code[16];
  std::snprintf(code, sizeof code, "%08llu", static_cast<unsigned long long>(number % 100'000'000));
  auto hash = HashPassword(code);
  if (!hash.ok()) return hash.status();
  const UnixMicros expires = clock_.NowMicros() + kResetCodeLifetimeUs;
  domain::UserCommand command;
  command.mutable_request_password_reset()->set_code_hash(*hash);
  command.mutable_request_password_reset()->set_expires_at_us(expires);
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, *user_id, command, meta);
  if (!result.ok()) return result.status();
  index_.ObserveCommit(store_, *user_id, result->version, result->events);
  auto user = users_.Load(*user_id);
  if (!user.ok()) return user.status();
  return notifications_->Send({*user_id, "email", user->state.email,
                               "Your RemoteGPU password reset code",
                               std::string("Your code is ") + code +
                                   ". It works once, for 15 minutes. If you did not ask "
                                   "for it, ignore this message; your password stays as it is."});
}

Status IdentityService::ResetPassword(const std::string& username, const std::string& code,
                                      const std::string& replacement, const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(CheckPasswordRules(replacement));
  // One answer and the same work (an argon2 verification) whether the user
  // exists, has a code pending or has used its attempts up, so neither the
  // words nor the time tell an attacker which usernames exist.
  static const Status kRefused = Status::Unauthenticated("the code is wrong or has expired");
  const auto user_id = index_.UserIdByName(username);
  if (!user_id) {
    (void)VerifyPassword(DummyHash(), code);
    return kRefused;
  }
  auto loaded = users_.Load(*user_id);
  if (!loaded.ok()) return loaded.status();
  const std::string& pending = loaded->state.reset_code_hash;
  const bool matches =
      VerifyPassword(pending.empty() ? DummyHash() : pending, code) && !pending.empty();
  std::string hash;
  if (matches) {
    auto hashed = HashPassword(replacement);
    if (!hashed.ok()) return hashed.status();
    hash = std::move(*hashed);
  }
  domain::UserCommand command;
  command.mutable_reset_password()->set_code_matches(matches);
  command.mutable_reset_password()->set_password_hash(hash);
  auto result = ExecuteOne<UserTraits>(store_, users_, clock_, *user_id, command, meta);
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kFailedPrecondition) return kRefused;
    return result.status();
  }
  index_.ObserveCommit(store_, *user_id, result->version, result->events);
  if (!matches) return kRefused;
  return Status::Ok();
}

Result<std::optional<std::string>> IdentityService::EnsureAdmin(const std::string& password) {
  if (index_.AnyAdmin()) return std::optional<std::string>();
  const std::string chosen = password.empty() ? GeneratePassword(20) + "7a" : password;
  std::string id;
  auto created =
      CreateUser({.username = "admin",
                  .password = chosen,
                  .role = domain::ROLE_ADMIN,
                  .display_name = "Administrator"},
                 {{eventstore::ActorKind::kSystem, "first-start", "first start"}, "", "", ""}, &id);
  if (!created.ok()) return created.status();
  return password.empty() ? std::optional<std::string>(chosen) : std::optional<std::string>("");
}

}  // namespace remotegpu::commands
