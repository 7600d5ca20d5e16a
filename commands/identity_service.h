// Commands on customers, users and API keys, and the credential checks
// behind login, token refresh and API keys. Clear passwords and token
// secrets pass through here and go no further: the log receives argon2id
// hashes and SHA-256 digests (commands/credentials.h), and every commit is
// observed by the IdentityIndex at once, so a token works the moment it is
// issued and stops the moment it is revoked.
//
// Token formats (opaque to clients):
//   refresh token  "rt1.<user id>.<session id>.<secret>"
//   API key        "rgk.<key id>.<secret>"  (the stream is "apikey-<key id>";
//                  "rgk.<key id>" is the visible prefix)
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <optional>
#include <string>

#include "commands/execute.h"
#include "commands/identity_index.h"
#include "commands/notifications.h"
#include "common/uuid.h"

namespace remotegpu::commands {

// How long a refresh token (and so a login) lasts without use.
inline constexpr int64_t kRefreshLifetimeUs = int64_t{7} * 24 * 3600 * 1'000'000;
// How long a password reset code works.
inline constexpr int64_t kResetCodeLifetimeUs = int64_t{15} * 60 * 1'000'000;

struct NewUser {
  std::string username;
  std::string password;  // Clear; checked against the rules, then hashed.
  domain::PlatformRole role = domain::ROLE_CUSTOMER;
  std::string customer_id;
  std::string email;
  std::string display_name;
};

struct Login {
  Principal principal;
  std::string refresh_token;  // Shown once.
  UnixMicros refresh_expires_at_us = 0;
  uint64_t position = 0;
};

struct IssuedApiKey {
  ApiKeyInfo info;
  std::string key;  // Shown once.
  uint64_t position = 0;
};

class IdentityService {
 public:
  // `notifications` (may be null: no password resets) delivers reset codes.
  IdentityService(eventstore::EventStore& store, const Clock& clock, IdentityIndex& index,
                  IdGenerator& ids, NotificationSink* notifications = nullptr)
      : store_(store),
        clock_(clock),
        index_(index),
        ids_(ids),
        notifications_(notifications),
        customers_(store),
        users_(store),
        keys_(store) {}

  // A new customer "customer-<uuid>" (id filled in) with its quota
  // ("quota-<customer id>" at `quota_level`) in the same append.
  // InvalidArgument for a bad form.
  Result<CommandResult> CreateCustomer(const domain::CreateCustomer& form,
                                       domain::QuotaLevel quota_level, const CommandMeta& meta,
                                       std::string* id);
  // NotFound for an unknown customer. Disabling stops its users' tokens and keys at once.
  Result<CommandResult> SetCustomerEnabled(const std::string& id, bool enabled,
                                           const std::string& reason, const CommandMeta& meta);

  // A new user "user-<uuid>" (id filled in), its username claimed in the same
  // append: AlreadyExists when taken. NotFound for a customer that does not
  // exist; InvalidArgument for a password that breaks the rules.
  Result<CommandResult> CreateUser(const NewUser& form, const CommandMeta& meta, std::string* id);
  // The user's own change needs the current password (Unauthenticated when
  // wrong); an admin's reset (`by_admin`) does not. Ends every session.
  Result<CommandResult> ChangePassword(const std::string& user_id, const std::string& current,
                                       const std::string& replacement, bool by_admin,
                                       const CommandMeta& meta);
  Result<CommandResult> SetUserEnabled(const std::string& user_id, bool enabled,
                                       const std::string& reason, const CommandMeta& meta);

  // Unauthenticated, with one message for an unknown name and a wrong
  // password alike; also for a disabled user or customer.
  Result<Login> LogIn(const std::string& username, const std::string& password,
                      const CommandMeta& meta);
  // Exchanges a refresh token for a new one (the old one stops working).
  // Unauthenticated for an unknown, expired or ended session; presenting a
  // token already exchanged ends the session (theft) and is refused too.
  Result<Login> Refresh(const std::string& refresh_token, const CommandMeta& meta);
  Status LogOut(const std::string& user_id, const std::string& session_id, const CommandMeta& meta);

  // A key acting as `user_id` (an agent token when `host_id` is set);
  // expires_at_us 0: never. PermissionDenied when the command comes from an
  // API key (meta.actor) and is not an agent token: keys are minted by
  // sessions only.
  Result<IssuedApiKey> CreateApiKey(const std::string& user_id, const std::string& name,
                                    UnixMicros expires_at_us, const std::string& host_id,
                                    const CommandMeta& meta);
  Result<CommandResult> RevokeApiKey(const std::string& key_id, const std::string& reason,
                                     const CommandMeta& meta);
  // The caller behind "rgk.<id>.<secret>"; Unauthenticated otherwise. Never blocks.
  Result<Principal> AuthenticateApiKey(const std::string& key) const;

  // Sends a one-time 8-digit code (valid kResetCodeLifetimeUs, replacing
  // any earlier one) to the user through the notification sink. An unknown
  // or disabled user gets the same Ok and nothing is sent, so the answer
  // reveals no account. Unavailable without a sink.
  Status RequestPasswordReset(const std::string& username, const CommandMeta& meta);
  // Sets a new password with the code, ending every session (log in again).
  // Unauthenticated for a wrong, expired or used-up code (after
  // kMaxResetFailures wrong ones the code is void) and an unknown user;
  // InvalidArgument for a password that breaks the rules.
  Status ResetPassword(const std::string& username, const std::string& code,
                       const std::string& replacement, const CommandMeta& meta);

  // Creates the user "admin" when no admin exists yet, with `password` or,
  // when it is empty, a generated one, which is returned (to be shown once).
  // Nullopt when an admin exists.
  Result<std::optional<std::string>> EnsureAdmin(const std::string& password);

 private:
  eventstore::EventStore& store_;
  const Clock& clock_;
  IdentityIndex& index_;
  IdGenerator& ids_;
  NotificationSink* notifications_;
  AggregateCache<CustomerTraits> customers_;
  AggregateCache<UserTraits> users_;
  AggregateCache<ApiKeyTraits> keys_;
};

}  // namespace remotegpu::commands
