// Passwords and bearer secrets. Passwords are hashed with argon2id
// (libargon2, OWASP's parameters: 19 MiB, 2 passes, 1 lane, a 16-byte random
// salt) into the PHC string form the log stores. Refresh tokens and API keys
// are 256-bit random secrets: a SHA-256 digest of one is all the log keeps
// (a slow hash adds nothing to a secret that cannot be guessed).
//
// Thread-safe: every function.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace remotegpu::commands {

// At least 10 characters with a letter and a digit, at most 128.
// InvalidArgument saying which rule fails.
Status CheckPasswordRules(const std::string& password);

// The argon2id PHC string of `password` ("$argon2id$v=19$m=19456,t=2,p=1$…").
Result<std::string> HashPassword(const std::string& password);

// Whether `password` matches `phc_hash`; false for a malformed hash.
bool VerifyPassword(const std::string& phc_hash, const std::string& password);

// `bytes` random bytes as unpadded base64url text.
std::string RandomToken(size_t bytes = 32);

// SHA-256 of a bearer secret, 32 raw bytes.
std::string SecretDigest(std::string_view secret);

// Unpadded base64url (RFC 4648 §5), as JWTs and tokens use it.
std::string Base64UrlEncode(std::string_view bytes);
// Nullopt-like failure as an empty Result: InvalidArgument for bad input.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace remotegpu::commands
