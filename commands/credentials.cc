#include "commands/credentials.h"

#include <argon2.h>

#include <cstring>

#include "commands/secrets.h"
#include "common/sha256.h"

namespace remotegpu::commands {
namespace {

constexpr uint32_t kArgonPasses = 2;
constexpr uint32_t kArgonMemoryKiB = 19 * 1024;
constexpr uint32_t kArgonLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

Status CheckPasswordRules(const std::string& password) {
  if (password.size() < 10)
    return Status::InvalidArgument("password must be at least 10 characters");
  if (password.size() > 128)
    return Status::InvalidArgument("password must be at most 128 characters");
  bool letter = false, digit = false;
  for (unsigned char c : password) {
    letter |= std::isalpha(c) != 0;
    digit |= std::isdigit(c) != 0;
  }
  if (!letter || !digit) {
    return Status::InvalidArgument("password must hold at least one letter and one digit");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(const std::string& password) {
  const std::string salt = RandomBytes(kSaltBytes);
  const size_t length = argon2_encodedlen(kArgonPasses, kArgonMemoryKiB, kArgonLanes, kSaltBytes,
                                          kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  const int rc = argon2id_hash_encoded(kArgonPasses, kArgonMemoryKiB, kArgonLanes, password.data(),
                                       password.size(), salt.data(), salt.size(), kHashBytes,
                                       encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return Status::Internal(std::string("argon2id: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool VerifyPassword(const std::string& phc_hash, const std::string& password) {
  if (!phc_hash.starts_with("$argon2id$")) return false;
  return argon2id_verify(phc_hash.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string RandomToken(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

std::string SecretDigest(std::string_view secret) {
  return std::string(DigestBytes(Sha256(secret)));
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* at = std::strchr(kAlphabet, c);
    if (c == '\0' || at == nullptr) return Status::InvalidArgument("not base64url");
    buffer = (buffer << 6) | static_cast<uint32_t>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits >= 6) return Status::InvalidArgument("not base64url");  // A dangling character.
  return out;
}

}  // namespace remotegpu::commands
