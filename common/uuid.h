// UUIDs and the id-generator port. Event ids are UUIDv7 (RFC 9562): 48 bits
// of Unix milliseconds, then a 12-bit counter that keeps ids from one
// generator strictly increasing within a millisecond, then 62 random bits.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace remotegpu {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  bool IsNil() const;
  // The 16 raw bytes, as stored in keys and protobuf `bytes` fields.
  std::string_view Raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  static std::optional<Uuid> FromRaw(std::string_view raw);
  // Canonical text form, lower-case: 8-4-4-4-12 hex digits.
  std::string ToString() const;
  static std::optional<Uuid> Parse(std::string_view text);

  auto operator<=>(const Uuid&) const = default;
};

struct UuidHash {
  size_t operator()(const Uuid& id) const noexcept;
};

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A new id, distinct from every id this generator returned before. Thread-safe.
  virtual Uuid NewId() = 0;
};

// UUIDv7 from a clock and a random source. Thread-safe.
class UuidV7Generator final : public IdGenerator {
 public:
  // `clock` must outlive the generator.
  explicit UuidV7Generator(const Clock& clock);
  UuidV7Generator(const Clock& clock, uint64_t seed);  // Deterministic random bits.
  Uuid NewId() override;

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::mt19937_64 random_;    // Guarded by mu_.
  int64_t last_millis_ = -1;  // Guarded by mu_.
  uint16_t counter_ = 0;      // Guarded by mu_.
};

// Ids 00000000-0000-7000-8000-000000000001, …2, … for tests that want
// readable, predictable ids. Thread-safe.
class SequentialIdGenerator final : public IdGenerator {
 public:
  Uuid NewId() override;

 private:
  std::mutex mu_;
  uint64_t next_ = 1;  // Guarded by mu_.
};

}  // namespace remotegpu
