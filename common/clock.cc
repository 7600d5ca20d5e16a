#include "common/clock.h"

#include <chrono>

namespace remotegpu {

UnixMicros SystemClock::NowMicros() const {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  return duration_cast<microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SystemClock& SystemClock::Instance() {
  static auto* clock = new SystemClock();
  return *clock;
}

}  // namespace remotegpu
