#include "common/sha256.h"

#include <cstdlib>

#include <openssl/evp.h>

namespace remotegpu {

namespace {

// OpenSSL 3 looks the algorithm up on every EVP_DigestInit_ex given
// EVP_sha256() (an implicit fetch, with locks); fetching it once and reusing
// one context per thread makes a short hash several times cheaper.
const EVP_MD* Sha256Algorithm() {
#if OPENSSL_VERSION_MAJOR >= 3
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
#else
  return EVP_sha256();
#endif
}

struct ThreadContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~ThreadContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Sha256Digest Sha256(std::string_view first, std::string_view second) {
  thread_local ThreadContext context;
  Sha256Digest digest{};
  EVP_MD_CTX* ctx = context.ctx;
  unsigned int length = 0;
  bool ok = ctx != nullptr && Sha256Algorithm() != nullptr &&
            EVP_DigestInit_ex(ctx, Sha256Algorithm(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, first.data(), first.size()) == 1 &&
            EVP_DigestUpdate(ctx, second.data(), second.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest.data(), &length) == 1 && length == digest.size();
  // SHA-256 over memory cannot fail short of allocation failure: a broken invariant.
  if (!ok) std::abort();
  return digest;
}

std::string_view DigestBytes(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace remotegpu
