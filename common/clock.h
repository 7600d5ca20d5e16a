// Time comes in through this port so that deciders and tests can run on
// simulated time (LevelDB's Env, Envoy's TimeSource).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace remotegpu {

// Microseconds since the Unix epoch, UTC.
using UnixMicros = int64_t;

// "2026-11-22T09:30:00.123456Z": RFC 3339 in UTC with microseconds; `at` >= 0.
std::string FormatRfc3339(UnixMicros at);
// The inverse, for any UTC offset ("Z", "+08:00") and 0–9 fraction digits;
// InvalidArgument saying what is wrong.
Result<UnixMicros> ParseRfc3339(const std::string& text);

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time. Thread-safe.
  virtual UnixMicros NowMicros() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  UnixMicros NowMicros() const override;
  // A process-wide instance; never destroyed.
  static SystemClock& Instance();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMicros start) : now_(start) {}
  UnixMicros NowMicros() const override { return now_.load(); }
  void Set(UnixMicros now) { now_.store(now); }
  void Advance(int64_t micros) { now_.fetch_add(micros); }

 private:
  std::atomic<UnixMicros> now_;
};

}  // namespace remotegpu
