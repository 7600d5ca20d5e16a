#include "domain/identity.h"

#include <algorithm>

#include "domain/stream_id.h"

namespace remotegpu::domain {
namespace {

constexpr size_t kDigestBytes = 32;

Status NotCreated(const DecideContext& context) {
  return Status::NotFound("no " + context.stream_id);
}

}  // namespace

Status ValidateUsername(const std::string& username) {
  if (username.size() < 3 || username.size() > 32) {
    return Status::InvalidArgument("username must be 3 to 32 characters");
  }
  if (!(username[0] >= 'a' && username[0] <= 'z')) {
    return Status::InvalidArgument("username must start with a lower-case letter");
  }
  for (char c : username) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return Status::InvalidArgument("username may hold only a-z, 0-9, '.', '_' and '-'");
  }
  return Status::Ok();
}

const char* Name(PlatformRole role) {
  switch (role) {
    case ROLE_ADMIN:
      return "admin";
    case ROLE_CUSTOMER:
      return "customer";
    default:
      return "unspecified";
  }
}

// ---- Customer

void Apply(CustomerState& state, const CustomerEvent& event) {
  switch (event.event_case()) {
    case CustomerEvent::kCreated:
      state.created = true;
      state.enabled = true;
      state.info = event.created();
      break;
    case CustomerEvent::kDisabled:
      state.enabled = false;
      break;
    case CustomerEvent::kEnabled:
      state.enabled = true;
      break;
    case CustomerEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<CustomerEvent>> Decide(const CustomerState& state,
                                          const CustomerCommand& command,
                                          const DecideContext& context) {
  std::vector<CustomerEvent> events(1);
  switch (command.command_case()) {
    case CustomerCommand::kCreate: {
      const auto& create = command.create();
      if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
      if (create.name().empty()) return Status::InvalidArgument("name is required");
      if (create.name().size() > 128) return Status::InvalidArgument("name is over 128 characters");
      auto* created = events[0].mutable_created();
      created->set_name(create.name());
      created->set_company(create.company());
      created->set_contact(create.contact());
      created->set_email(create.email());
      created->set_phone(create.phone());
      return events;
    }
    case CustomerCommand::kDisable:
      if (!state.created) return NotCreated(context);
      if (!state.enabled) return std::vector<CustomerEvent>();
      events[0].mutable_disabled()->set_reason(command.disable().reason());
      return events;
    case CustomerCommand::kEnable:
      if (!state.created) return NotCreated(context);
      if (state.enabled) return std::vector<CustomerEvent>();
      events[0].mutable_enabled();
      return events;
    case CustomerCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty customer command");
}

// ---- User

void Apply(UserState& state, const UserEvent& event) {
  switch (event.event_case()) {
    case UserEvent::kCreated: {
      const auto& created = event.created();
      state.created = true;
      state.username = created.username();
      state.role = created.role();
      state.customer_id = created.customer_id();
      state.password_hash = created.password_hash();
      state.email = created.email();
      state.display_name = created.display_name();
      break;
    }
    case UserEvent::kPasswordChanged:
      state.password_hash = event.password_changed().password_hash();
      state.reset_code_hash.clear();
      break;
    case UserEvent::kResetRequested:
      state.reset_code_hash = event.reset_requested().code_hash();
      state.reset_expires_at_us = event.reset_requested().expires_at_us();
      state.reset_failures = 0;
      break;
    case UserEvent::kResetFailed:
      ++state.reset_failures;
      break;
    case UserEvent::kDisabled:
      state.disabled = true;
      break;
    case UserEvent::kEnabled:
      state.disabled = false;
      break;
    case UserEvent::kSessionStarted: {
      const auto& started = event.session_started();
      state.sessions[started.session_id()] = {started.refresh_hash(), "", 0,
                                              started.expires_at_us()};
      break;
    }
    case UserEvent::kSessionRefreshed: {
      const auto& refreshed = event.session_refreshed();
      auto it = state.sessions.find(refreshed.session_id());
      if (it == state.sessions.end()) break;
      it->second.previous_hash = std::move(it->second.refresh_hash);
      it->second.refresh_hash = refreshed.refresh_hash();
      it->second.expires_at_us = refreshed.expires_at_us();
      break;
    }
    case UserEvent::kSessionEnded:
      state.sessions.erase(event.session_ended().session_id());
      break;
    case UserEvent::EVENT_NOT_SET:
      break;
  }
}

namespace {

// SessionEnded for every open session, for `reason`.
void EndAllSessions(const UserState& state, const std::string& reason,
                    std::vector<UserEvent>& events) {
  for (const auto& [session_id, session] : state.sessions) {
    auto* ended = events.emplace_back().mutable_session_ended();
    ended->set_session_id(session_id);
    ended->set_reason(reason);
  }
}

Status CheckPasswordHash(const std::string& hash) {
  if (!hash.starts_with("$argon2id$")) {
    return Status::InvalidArgument("password_hash must be an argon2id hash");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<UserEvent>> Decide(const UserState& state, const UserCommand& command,
                                      const DecideContext& context) {
  std::vector<UserEvent> events;
  if (command.command_case() == UserCommand::kCreate) {
    const auto& create = command.create();
    if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
    RGPU_RETURN_IF_ERROR(ValidateUsername(create.username()));
    RGPU_RETURN_IF_ERROR(CheckPasswordHash(create.password_hash()));
    if (create.role() == ROLE_ADMIN && !create.customer_id().empty()) {
      return Status::InvalidArgument("an admin belongs to no customer");
    }
    if (create.role() == ROLE_CUSTOMER && !IsKind(create.customer_id(), StreamKind::kCustomer)) {
      return Status::InvalidArgument("a customer's user needs a customer_id (customer-…)");
    }
    if (create.role() != ROLE_ADMIN && create.role() != ROLE_CUSTOMER) {
      return Status::InvalidArgument("role must be admin or customer");
    }
    auto* created = events.emplace_back().mutable_created();
    created->set_username(create.username());
    created->set_role(create.role());
    created->set_customer_id(create.customer_id());
    created->set_password_hash(create.password_hash());
    created->set_email(create.email());
    created->set_display_name(create.display_name());
    return events;
  }
  if (!state.created) return NotCreated(context);
  switch (command.command_case()) {
    case UserCommand::kChangePassword: {
      RGPU_RETURN_IF_ERROR(CheckPasswordHash(command.change_password().password_hash()));
      auto* changed = events.emplace_back().mutable_password_changed();
      changed->set_password_hash(command.change_password().password_hash());
      changed->set_by_admin(command.change_password().by_admin());
      EndAllSessions(state, "password changed", events);  // Everyone logs in again.
      return events;
    }
    case UserCommand::kDisable:
      if (state.disabled) return events;
      events.emplace_back().mutable_disabled()->set_reason(command.disable().reason());
      EndAllSessions(state, "user disabled", events);
      return events;
    case UserCommand::kEnable:
      if (!state.disabled) return events;
      events.emplace_back().mutable_enabled();
      return events;
    case UserCommand::kStartSession: {
      const auto& start = command.start_session();
      if (state.disabled) return Status::FailedPrecondition("the user is disabled");
      if (start.session_id().empty() || start.refresh_hash().size() != kDigestBytes) {
        return Status::InvalidArgument("a session needs an id and a 32-byte refresh digest");
      }
      if (state.sessions.count(start.session_id())) {
        return Status::AlreadyExists("session " + start.session_id() + " exists");
      }
      if (state.sessions.size() >= kMaxSessionsPerUser) {
        // The session closest to expiry makes room.
        auto oldest = std::min_element(state.sessions.begin(), state.sessions.end(),
                                       [](const auto& a, const auto& b) {
                                         return a.second.expires_at_us < b.second.expires_at_us;
                                       });
        auto* ended = events.emplace_back().mutable_session_ended();
        ended->set_session_id(oldest->first);
        ended->set_reason("too many sessions");
      }
      auto* started = events.emplace_back().mutable_session_started();
      started->set_session_id(start.session_id());
      started->set_refresh_hash(start.refresh_hash());
      started->set_expires_at_us(start.expires_at_us());
      return events;
    }
    case UserCommand::kRefreshSession: {
      const auto& refresh = command.refresh_session();
      auto it = state.sessions.find(refresh.session_id());
      if (it == state.sessions.end()) {
        return Status::FailedPrecondition("the session has ended");
      }
      if (state.disabled) return Status::FailedPrecondition("the user is disabled");
      const UserSession& session = it->second;
      if (!session.previous_hash.empty() && refresh.presented_hash() == session.previous_hash) {
        auto* ended = events.emplace_back().mutable_session_ended();
        ended->set_session_id(refresh.session_id());
        ended->set_reason("refresh token reused");
        return events;
      }
      if (refresh.presented_hash() != session.refresh_hash) {
        return Status::FailedPrecondition("the refresh token does not match its session");
      }
      if (context.now_us >= session.expires_at_us) {
        return Status::FailedPrecondition("the session has expired");
      }
      if (refresh.new_refresh_hash().size() != kDigestBytes) {
        return Status::InvalidArgument("a refresh needs a 32-byte digest");
      }
      auto* refreshed = events.emplace_back().mutable_session_refreshed();
      refreshed->set_session_id(refresh.session_id());
      refreshed->set_refresh_hash(refresh.new_refresh_hash());
      refreshed->set_expires_at_us(refresh.expires_at_us());
      return events;
    }
    case UserCommand::kRequestPasswordReset: {
      const auto& request = command.request_password_reset();
      if (state.disabled) return Status::FailedPrecondition("the user is disabled");
      RGPU_RETURN_IF_ERROR(CheckPasswordHash(request.code_hash()));
      auto* requested = events.emplace_back().mutable_reset_requested();
      requested->set_code_hash(request.code_hash());
      requested->set_expires_at_us(request.expires_at_us());
      return events;
    }
    case UserCommand::kResetPassword: {
      const auto& reset = command.reset_password();
      if (state.disabled) return Status::FailedPrecondition("the user is disabled");
      if (state.reset_code_hash.empty() || context.now_us >= state.reset_expires_at_us ||
          state.reset_failures >= kMaxResetFailures) {
        return Status::FailedPrecondition("no usable reset code; request a new one");
      }
      if (!reset.code_matches()) {
        events.emplace_back().mutable_reset_failed();
        return events;
      }
      RGPU_RETURN_IF_ERROR(CheckPasswordHash(reset.password_hash()));
      auto* changed = events.emplace_back().mutable_password_changed();
      changed->set_password_hash(reset.password_hash());
      changed->set_by_reset(true);
      EndAllSessions(state, "password reset", events);
      return events;
    }
    case UserCommand::kEndSession:
      if (!state.sessions.count(command.end_session().session_id())) return events;
      {
        auto* ended = events.emplace_back().mutable_session_ended();
        ended->set_session_id(command.end_session().session_id());
        ended->set_reason(command.end_session().reason());
        return events;
      }
    default:
      break;
  }
  return Status::InvalidArgument("empty user command");
}

// ---- API key

void Apply(ApiKeyState& state, const ApiKeyEvent& event) {
  switch (event.event_case()) {
    case ApiKeyEvent::kCreated:
      state.created = true;
      state.info = event.created();
      break;
    case ApiKeyEvent::kRevoked:
      state.revoked = true;
      break;
    case ApiKeyEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<ApiKeyEvent>> Decide(const ApiKeyState& state, const ApiKeyCommand& command,
                                        const DecideContext& context) {
  std::vector<ApiKeyEvent> events;
  switch (command.command_case()) {
    case ApiKeyCommand::kCreate: {
      const auto& create = command.create();
      if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
      if (!IsKind(create.user_id(), StreamKind::kUser)) {
        return Status::InvalidArgument("an API key belongs to a user (user-…)");
      }
      if (create.name().empty() || create.name().size() > 64) {
        return Status::InvalidArgument("name must be 1 to 64 characters");
      }
      if (create.secret_hash().size() != kDigestBytes) {
        return Status::InvalidArgument("secret_hash must be a 32-byte digest");
      }
      if (create.expires_at_us() != 0 && create.expires_at_us() <= context.now_us) {
        return Status::InvalidArgument("expires_at is in the past");
      }
      auto* created = events.emplace_back().mutable_created();
      created->set_user_id(create.user_id());
      created->set_name(create.name());
      created->set_prefix(create.prefix());
      created->set_secret_hash(create.secret_hash());
      created->set_expires_at_us(create.expires_at_us());
      created->set_host_id(create.host_id());
      return events;
    }
    case ApiKeyCommand::kRevoke:
      if (!state.created) return NotCreated(context);
      if (state.revoked) return events;
      events.emplace_back().mutable_revoked()->set_reason(command.revoke().reason());
      return events;
    case ApiKeyCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty API key command");
}

}  // namespace remotegpu::domain
