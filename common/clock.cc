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

Result<UnixMicros> ParseRfc3339(const std::string& text) {
  // The C parsers below stop at a NUL; what follows one must not pass unseen.
  if (text.find('\0') != std::string::npos || text.size() > 64) {
    return Status::InvalidArgument("not like 2026-11-22T09:30:00Z");
  }
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return Status::InvalidArgument("not like 2026-11-22T09:30:00Z");
  int64_t micros = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 6) micros = micros * 10 + (*rest - '0'), ++digits;
      ++rest;
    }
    while (digits++ < 6) micros *= 10;
  }
  int64_t offset_seconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly "+hh:mm": each character checked before the next is read, so a
    // short offset can never send `rest` past the end of the text.
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' || !digit(rest[4]) ||
        !digit(rest[5])) {
      return Status::InvalidArgument("bad UTC offset: not +hh:mm");
    }
    const int hours = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int minutes = (rest[4] - '0') * 10 + (rest[5] - '0');
    if (hours > 23 || minutes > 59) return Status::InvalidArgument("bad UTC offset");
    offset_seconds = (hours * 3600 + minutes * 60) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return Status::InvalidArgument("needs a zone: Z or +hh:mm");
  }
  if (*rest != '\0') return Status::InvalidArgument("trailing text");
  return (static_cast<int64_t>(timegm(&tm)) - offset_seconds) * 1'000'000 + micros;
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
