#include "commands/secrets.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/sha256.h"

namespace remotegpu::commands {
namespace {

namespace fs = std::filesystem;

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

// Key ids name the tenant without revealing it: hex of SHA-256("tenant:" ‖ name).
std::string KeyIdFor(const std::string& tenant) {
  return ToHex(DigestBytes(Sha256("tenant:", tenant))).substr(0, 32);
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  // The OS generator failing is a broken machine, not an expected error.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    std::abort();
  }
  return bytes;
}

std::string FileDataKeyStore::PathFor(const std::string& key_id) const {
  return (fs::path(dir_) / (key_id + ".key")).string();
}

Result<DataKey> FileDataKeyStore::KeyFor(const std::string& tenant) {
  if (tenant.empty()) return Status::InvalidArgument("a data key needs a tenant");
  const std::string key_id = KeyIdFor(tenant);
  std::lock_guard lock(mu_);
  auto existing = LoadLocked(key_id);
  if (existing.ok() || existing.status().code() != StatusCode::kNotFound) return existing;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IoError("cannot create key directory " + dir_ + ": " + ec.message());
  const std::string path = PathFor(key_id);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create data key " + path);
  const std::string key = RandomBytes(kKeyBytes);
  bool written =
      write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) return Status::IoError("cannot write data key " + path);
  loaded_[key_id] = key;
  return DataKey{key_id, key};
}

Result<DataKey> FileDataKeyStore::KeyById(const std::string& key_id) {
  std::lock_guard lock(mu_);
  return LoadLocked(key_id);
}

Result<DataKey> FileDataKeyStore::LoadLocked(const std::string& key_id) {
  if (auto it = loaded_.find(key_id); it != loaded_.end()) return DataKey{key_id, it->second};
  std::ifstream in(PathFor(key_id), std::ios::binary);
  if (!in) return Status::NotFound("no data key " + key_id + " (never created, or shredded)");
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() != kKeyBytes) return Status::Corruption("data key " + key_id + " is damaged");
  loaded_[key_id] = key;
  return DataKey{key_id, key};
}

Status FileDataKeyStore::Shred(const std::string& tenant) {
  std::lock_guard lock(mu_);
  loaded_.erase(KeyIdFor(tenant));
  std::error_code ec;
  fs::remove(PathFor(KeyIdFor(tenant)), ec);
  if (ec) return Status::IoError("cannot shred the key of " + tenant + ": " + ec.message());
  return Status::Ok();
}

Result<std::string> Seal(const DataKey& key, const std::string& plaintext,
                         const std::string& context) {
  if (key.key.size() != kKeyBytes) return Status::InvalidArgument("data key is not 32 bytes");
  std::string nonce = RandomBytes(kNonceBytes);
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* data = reinterpret_cast<unsigned char*>(out.data());
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.key.data()),
                               reinterpret_cast<const unsigned char*>(nonce.data())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &length,
                              reinterpret_cast<const unsigned char*>(context.data()),
                              static_cast<int>(context.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), data + kNonceBytes, &length,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), data + kNonceBytes + length, &length) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                data + kNonceBytes + plaintext.size()) == 1;
  if (!ok) return Status::Internal("AES-256-GCM encryption failed");
  return out;
}

Result<std::string> Unseal(const DataKey& key, const std::string& sealed,
                           const std::string& context) {
  if (key.key.size() != kKeyBytes) return Status::InvalidArgument("data key is not 32 bytes");
  if (sealed.size() < kNonceBytes + kTagBytes) return Status::Corruption("sealed secret is short");
  const size_t body = sealed.size() - kNonceBytes - kTagBytes;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string plaintext(body, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  std::string tag = sealed.substr(kNonceBytes + body);
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.key.data()), in) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &length,
                        in + kNonceBytes, static_cast<int>(body)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + length,
                          &length) == 1;
  if (!ok) return Status::Corruption("sealed secret does not open with this key and context");
  return plaintext;
}

std::string GeneratePassword(size_t length) {
  static constexpr char kAlphabet[] =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";  // No 0/O, 1/l/I.
  constexpr size_t kAlphabetSize = sizeof(kAlphabet) - 1;
  std::string password;
  while (password.size() < length) {
    for (unsigned char c : RandomBytes(length)) {
      // Rejection sampling keeps every letter equally likely.
      if (c < 256 - 256 % kAlphabetSize && password.size() < length) {
        password.push_back(kAlphabet[c % kAlphabetSize]);
      }
    }
  }
  return password;
}

}  // namespace remotegpu::commands
