// Recoverable secrets (an environment's SSH password) never enter the log in
// clear: they are sealed with AES-256-GCM under a per-tenant data key that
// lives outside the log. Deleting a tenant's key (Shred) makes every secret
// sealed under it unreadable while the log stays append-only (GDPR erasure
// by crypto-shredding).
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"

namespace remotegpu::commands {

struct DataKey {
  std::string key_id;  // Stored beside the sealed secret.
  std::string key;     // 32 raw bytes.
};

// Thread-safe.
class DataKeyStore {
 public:
  virtual ~DataKeyStore() = default;
  // The tenant's key, created on first use.
  virtual Result<DataKey> KeyFor(const std::string& tenant) = 0;
  // A key by id; NotFound once shredded.
  virtual Result<DataKey> KeyById(const std::string& key_id) = 0;
  // Destroys the tenant's key for good.
  virtual Status Shred(const std::string& tenant) = 0;
};

// One file per tenant under `dir` (mode 0600), named by the key id.
class FileDataKeyStore final : public DataKeyStore {
 public:
  explicit FileDataKeyStore(std::string dir) : dir_(std::move(dir)) {}
  Result<DataKey> KeyFor(const std::string& tenant) override;
  Result<DataKey> KeyById(const std::string& key_id) override;
  Status Shred(const std::string& tenant) override;

 private:
  std::string PathFor(const std::string& key_id) const;
  Result<DataKey> LoadLocked(const std::string& key_id);  // Needs mu_.

  std::string dir_;
  std::mutex mu_;  // Serialises key creation and guards loaded_.
  // Keys read or created so far, so that a hot tenant's key is read once;
  // Shred forgets the tenant's.
  std::unordered_map<std::string, std::string> loaded_;
};

// nonce (12) ‖ ciphertext ‖ tag (16). `context` is authenticated, not
// stored: a secret sealed for env-1 does not open for env-2.
Result<std::string> Seal(const DataKey& key, const std::string& plaintext,
                         const std::string& context);
// Corruption when the bytes, the key or the context do not match.
Result<std::string> Unseal(const DataKey& key, const std::string& sealed,
                           const std::string& context);

// `n` random bytes from the OS's CSPRNG (OpenSSL RAND_bytes).
std::string RandomBytes(size_t n);

// A random password of `length` letters and digits from the OS's CSPRNG.
std::string GeneratePassword(size_t length = 20);

}  // namespace remotegpu::commands
