#include "common/uuid.h"

#include <cstring>

namespace remotegpu {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool Uuid::IsNil() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::optional<Uuid> Uuid::FromRaw(std::string_view raw) {
  if (raw.size() != 16) return std::nullopt;
  Uuid id;
  std::memcpy(id.bytes.data(), raw.data(), 16);
  return id;
}

std::string Uuid::ToString() const {
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

std::optional<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid id;
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return id;
}

size_t UuidHash::operator()(const Uuid& id) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, id.bytes.data(), 8);
  std::memcpy(&b, id.bytes.data() + 8, 8);
  return std::hash<uint64_t>()(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

UuidV7Generator::UuidV7Generator(const Clock& clock)
    : UuidV7Generator(clock, std::random_device()() ^ (uint64_t{std::random_device()()} << 32)) {}

UuidV7Generator::UuidV7Generator(const Clock& clock, uint64_t seed)
    : clock_(clock), random_(seed) {}

Uuid UuidV7Generator::NewId() {
  int64_t millis = clock_.NowMicros() / 1000;
  uint64_t random_bits;
  uint16_t counter;
  {
    std::lock_guard lock(mu_);
    if (millis <= last_millis_) {
      // Same millisecond, or the clock went back: stay monotonic by counting,
      // and borrow the next millisecond when the 12-bit counter runs out.
      millis = last_millis_;
      if (++counter_ > 0x0fff) {
        ++millis;
        counter_ = 0;
      }
    } else {
      counter_ = 0;
    }
    last_millis_ = millis;
    counter = counter_;
    random_bits = random_();
  }
  Uuid id;
  for (int i = 0; i < 6; ++i) id.bytes[i] = static_cast<uint8_t>(millis >> (40 - 8 * i));
  id.bytes[6] = static_cast<uint8_t>(0x70 | (counter >> 8));
  id.bytes[7] = static_cast<uint8_t>(counter & 0xff);
  for (int i = 8; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(random_bits >> (8 * (15 - i)));
  id.bytes[8] = static_cast<uint8_t>(0x80 | (id.bytes[8] & 0x3f));  // RFC 9562 variant.
  return id;
}

Uuid SequentialIdGenerator::NewId() {
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = next_++;
  }
  Uuid id;
  id.bytes[6] = 0x70;
  id.bytes[8] = 0x80;
  for (int i = 0; i < 6; ++i) id.bytes[10 + i] = static_cast<uint8_t>(n >> (40 - 8 * i));
  return id;
}

}  // namespace remotegpu
