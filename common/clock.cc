#include "common/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace remotegpu {

std::string FormatRfc3339(UnixMicros at) {
  const std::time_t seconds = static_cast<std::time_t>(at / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(at % 1'000'000));
  return text;
}

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
