// Money is never floating point: integer minor units (fen for CNY) with the
// currency beside them.
//
// The rounding rule, the only one in the system: an amount that falls
// between two fen (a prorated price) is rounded half away from zero to the
// fen, once per bill line, after summing the line's exact parts (so a line
// split by a price change is not rounded twice); what rounding added or
// took is carried into the same resource's next line (domain/metering.h),
// so a resource's lines always sum to its exact total rounded once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace remotegpu::domain {

inline constexpr const char* kCurrency = "CNY";

// `fen_per_hour` × `seconds` / 3600 as an exact fraction: numerator over
// 3600. Sums of these are rounded once with RoundFen.
struct FenSeconds {
  __int128 fen_seconds = 0;  // Σ fen_per_hour × seconds.
  FenSeconds& operator+=(FenSeconds other) {
    fen_seconds += other.fen_seconds;
    return *this;
  }
  friend FenSeconds operator+(FenSeconds a, FenSeconds b) { return a += b; }
  // What `fen` whole fen amount to.
  static FenSeconds OfFen(int64_t fen) { return {static_cast<__int128>(fen) * 3600}; }
};
inline FenSeconds Charge(int64_t fen_per_hour, int64_t seconds) {
  return {static_cast<__int128>(fen_per_hour) * seconds};
}
// Σ / 3600, rounded half away from zero.
int64_t RoundFen(FenSeconds amount);

// "12.50", "12.5", "12", "-3.07" → fen. InvalidArgument for anything else:
// more than two decimals, exponents, spaces, more than 12 integer digits.
Result<int64_t> ParseYuan(std::string_view text);
// 1875 → "18.75", -5 → "-0.05".
std::string FormatYuan(int64_t fen);

}  // namespace remotegpu::domain
