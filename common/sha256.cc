#include "common/sha256.h"

#include <cstdlib>

#include <openssl/evp.h>

namespace remotegpu {

Sha256Digest Sha256(std::string_view first, std::string_view second) {
  Sha256Digest digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int length = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, first.data(), first.size()) == 1 &&
            EVP_DigestUpdate(ctx, second.data(), second.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest.data(), &length) == 1 && length == digest.size();
  EVP_MD_CTX_free(ctx);
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
