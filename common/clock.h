// Time comes in through this port so that deciders and tests can run on
// simulated time (LevelDB's Env, Envoy's TimeSource).
#pragma once

#include <atomic>
#include <cstdint>

namespace remotegpu {

// Microseconds since the Unix epoch, UTC.
using UnixMicros = int64_t;

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
