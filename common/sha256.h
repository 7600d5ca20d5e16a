// SHA-256 through OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace remotegpu {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of the concatenation first ‖ second. Thread-safe.
Sha256Digest Sha256(std::string_view first, std::string_view second = {});

std::string_view DigestBytes(const Sha256Digest& digest);
std::string ToHex(std::string_view bytes);

}  // namespace remotegpu
