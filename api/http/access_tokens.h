// Access tokens: JWTs (RFC 7519) signed with HMAC-SHA256, carrying who the
// user is and which login session they belong to, valid for 15 minutes. They
// carry no authority of their own: on every request the middleware asks the
// identity index whether the user, the session and the customer are still
// in good standing, so a logout or a disabled customer takes effect at once.
//
// Signing keys live under a directory of the data dir (never in the log),
// one file of 32 random bytes per key id (mode 0600) and "current" naming the
// one that signs. Rotate() adds a new current key; tokens signed with older
// keys stay valid until they expire, found by their "kid" header.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"

namespace remotegpu::api {

struct AccessClaims {
  std::string user_id;     // "sub"
  std::string session_id;  // "sid"
  UnixMicros issued_at_us = 0;
  UnixMicros expires_at_us = 0;
};

class AccessTokens {
 public:
  static constexpr int64_t kLifetimeSeconds = 15 * 60;

  // Opens (creating when absent) the key directory. IoError when it cannot.
  static Result<std::unique_ptr<AccessTokens>> Open(const std::string& dir, const Clock& clock);

  // A token for the session, valid kLifetimeSeconds from now.
  std::string Issue(const std::string& user_id, const std::string& session_id) const;
  // The claims of a token this server signed and that has not expired;
  // Unauthenticated saying what is wrong (malformed, unknown key, bad
  // signature, expired) otherwise.
  Result<AccessClaims> Verify(std::string_view token) const;
  // A new signing key; older keys keep verifying. Returns its id.
  Result<std::string> Rotate();

 private:
  AccessTokens(std::string dir, const Clock& clock) : dir_(std::move(dir)), clock_(clock) {}
  Status Load();

  const std::string dir_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> keys_;  // Key id -> secret; guarded by mu_.
  std::string current_;                      // Guarded by mu_.
  // Tokens already verified, so that a client's every request costs a hash
  // lookup rather than two JSON parses and an HMAC; emptied when full.
  mutable std::shared_mutex verified_mu_;
  mutable std::unordered_map<std::string, AccessClaims> verified_;  // Guarded by verified_mu_.
};

}  // namespace remotegpu::api
