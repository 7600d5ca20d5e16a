// The identity deciders: customers (tenants), users with their login
// sessions, and API keys (domain/proto/identity.proto). Pure: hashes, ids and
// times come in with the commands and the context; nothing here sees a
// password or token in clear.
//
//   customer: created -> disabled <-> enabled
//   user:     created -> disabled <-> enabled; sessions start, rotate and
//             end; a password change or disablement ends every session
//   api key:  created -> revoked (final)
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/identity.pb.h"

namespace remotegpu::domain {

// Sessions a user may hold at once; a login beyond it ends the oldest.
inline constexpr size_t kMaxSessionsPerUser = 20;
// Wrong codes a password reset survives; the next request needs a new code.
inline constexpr int kMaxResetFailures = 5;

struct CustomerState {
  bool created = false;
  bool enabled = false;
  CustomerCreated info;
};

struct UserSession {
  std::string refresh_hash;
  std::string previous_hash;  // The hash rotated away last: presenting it again is theft.
  int64_t started_at_us = 0;
  int64_t expires_at_us = 0;
};

struct UserState {
  bool created = false;
  bool disabled = false;
  std::string username;
  PlatformRole role = PLATFORM_ROLE_UNSPECIFIED;
  std::string customer_id;
  std::string password_hash;
  std::string email;
  std::string display_name;
  std::map<std::string, UserSession> sessions;  // Open ones, by session id.
  // A pending password reset: the code's digest (empty: none), its expiry
  // and the wrong codes presented so far.
  std::string reset_code_hash;
  int64_t reset_expires_at_us = 0;
  int reset_failures = 0;
};

struct ApiKeyState {
  bool created = false;
  bool revoked = false;
  ApiKeyCreated info;
};

void Apply(CustomerState& state, const CustomerEvent& event);
void Apply(UserState& state, const UserEvent& event);
void Apply(ApiKeyState& state, const ApiKeyEvent& event);

// InvalidArgument (malformed), AlreadyExists, NotFound (no such customer or
// user), FailedPrecondition (a rule: e.g. a disabled user cannot log in).
Result<std::vector<CustomerEvent>> Decide(const CustomerState& state,
                                          const CustomerCommand& command,
                                          const DecideContext& context);
// RefreshSession answers SessionRefreshed for the current token; for the
// token rotated away just before it answers SessionEnded (reuse: the session
// is closed and the caller must refuse the request); anything else is
// FailedPrecondition. ResetPassword with the right, unexpired code answers
// PasswordChanged (ending every session); with a wrong one it answers
// PasswordResetFailed (to be appended, and the request refused); with no
// usable code (none, expired, too many failures) FailedPrecondition.
Result<std::vector<UserEvent>> Decide(const UserState& state, const UserCommand& command,
                                      const DecideContext& context);
Result<std::vector<ApiKeyEvent>> Decide(const ApiKeyState& state, const ApiKeyCommand& command,
                                        const DecideContext& context);

// Usernames: 3 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter.
Status ValidateUsername(const std::string& username);

const char* Name(PlatformRole role);  // "admin", "customer".

}  // namespace remotegpu::domain
