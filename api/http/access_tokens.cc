#include "api/http/access_tokens.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "commands/credentials.h"
#include "commands/secrets.h"
#include "common/sha256.h"

namespace remotegpu::api {
namespace {

namespace fs = std::filesystem;

std::string HmacSha256(const std::string& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

Status WriteFile(const fs::path& path, const std::string& bytes) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Status::IoError("cannot write " + temporary.string());
  }
  chmod(temporary.c_str(), 0600);
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) return Status::IoError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Status Invalid(const std::string& why) { return Status::Unauthenticated("access token " + why); }

}  // namespace

Result<std::unique_ptr<AccessTokens>> AccessTokens::Open(const std::string& dir,
                                                         const Clock& clock) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  auto tokens = std::unique_ptr<AccessTokens>(new AccessTokens(dir, clock));
  RGPU_RETURN_IF_ERROR(tokens->Load());
  if (tokens->current_.empty()) {
    auto rotated = tokens->Rotate();
    if (!rotated.ok()) return rotated.status();
  }
  return tokens;
}

Status AccessTokens::Load() {
  std::lock_guard lock(mu_);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() != ".key") continue;
    auto secret = ReadFile(entry.path());
    if (!secret.ok()) return secret.status();
    if (secret->size() != 32) return Status::Corruption(entry.path().string() + " is not 32 bytes");
    keys_[entry.path().stem().string()] = std::move(*secret);
  }
  auto current = ReadFile(fs::path(dir_) / "current");
  if (current.ok() && keys_.count(*current)) current_ = *current;
  return Status::Ok();
}

Result<std::string> AccessTokens::Rotate() {
  std::lock_guard lock(mu_);
  const std::string id = "k" + ToHex(commands::RandomBytes(6));
  const std::string secret = commands::RandomBytes(32);
  RGPU_RETURN_IF_ERROR(WriteFile(fs::path(dir_) / (id + ".key"), secret));
  RGPU_RETURN_IF_ERROR(WriteFile(fs::path(dir_) / "current", id));
  keys_[id] = secret;
  current_ = id;
  return id;
}

std::string AccessTokens::Issue(const std::string& user_id, const std::string& session_id) const {
  std::string kid, key;
  {
    std::lock_guard lock(mu_);
    kid = current_;
    key = keys_.at(current_);
  }
  const int64_t now = clock_.NowMicros() / 1'000'000;
  const std::string header = commands::Base64UrlEncode(
      nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}}.dump());
  const std::string payload = commands::Base64UrlEncode(nlohmann::json{
      {"sub", user_id},
      {"sid", session_id},
      {"iat", now},
      {"exp", now + kLifetimeSeconds}}.dump());
  const std::string signing_input = header + "." + payload;
  return signing_input + "." + commands::Base64UrlEncode(HmacSha256(key, signing_input));
}

Result<AccessClaims> AccessTokens::Verify(std::string_view token) const {
  constexpr size_t kMaxVerified = 16384;
  const UnixMicros now = clock_.NowMicros();
  {
    std::shared_lock lock(verified_mu_);
    auto it = verified_.find(std::string(token));
    if (it != verified_.end()) {
      if (now >= it->second.expires_at_us) return Invalid("has expired; refresh it");
      return it->second;
    }
  }
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Invalid("is not a JWT");
  }
  auto header_text = commands::Base64UrlDecode(token.substr(0, first));
  auto payload_text = commands::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = commands::Base64UrlDecode(token.substr(second + 1));
  if (!header_text.ok() || !payload_text.ok() || !signature.ok()) return Invalid("is not a JWT");
  const auto header = nlohmann::json::parse(*header_text, nullptr, false);
  const auto payload = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!header.is_object() || !payload.is_object()) return Invalid("is not a JWT");
  // Only what this server issues: HS256 with a key id it knows.
  // Members of the wrong type are refused, never read (value() would throw).
  const auto alg = header.find("alg");
  const auto kid = header.find("kid");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return Invalid("is not signed with HS256");
  }
  if (kid == header.end() || !kid->is_string()) return Invalid("is signed with an unknown key");
  std::string key;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(kid->get_ref<const std::string&>());
    if (it == keys_.end()) return Invalid("is signed with an unknown key");
    key = it->second;
  }
  const std::string expected = HmacSha256(key, token.substr(0, second));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return Invalid("has a signature that does not verify");
  }
  if (!payload.contains("sub") || !payload["sub"].is_string() || !payload.contains("sid") ||
      !payload["sid"].is_string() || !payload.contains("exp") ||
      !payload["exp"].is_number_integer() || !payload.contains("iat") ||
      !payload["iat"].is_number_integer()) {
    return Invalid("lacks its claims");
  }
  const int64_t exp = payload["exp"].get<int64_t>();
  if (now / 1'000'000 >= exp) return Invalid("has expired; refresh it");
  AccessClaims claims{payload["sub"].get<std::string>(), payload["sid"].get<std::string>(),
                      payload["iat"].get<int64_t>() * 1'000'000, exp * 1'000'000};
  std::unique_lock lock(verified_mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.emplace(std::string(token), claims);
  return claims;
}

}  // namespace remotegpu::api
