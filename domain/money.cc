#include "domain/money.h"

namespace remotegpu::domain {

int64_t RoundFen(FenSeconds amount) {
  constexpr __int128 kHour = 3600;
  const __int128 value = amount.fen_seconds;
  const __int128 magnitude = value < 0 ? -value : value;
  const __int128 rounded = (magnitude + kHour / 2) / kHour;  // Half away from zero.
  return static_cast<int64_t>(value < 0 ? -rounded : rounded);
}

Result<int64_t> ParseYuan(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not an amount in yuan with at most two decimals");
  };
  bool negative = false;
  std::string_view rest = text;
  if (!rest.empty() && rest[0] == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  const size_t dot = rest.find('.');
  const std::string_view whole = rest.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (whole.empty() || whole.size() > 12 || !digits(whole) || !digits(fraction) ||
      fraction.size() > 2 || (dot != std::string_view::npos && fraction.empty())) {
    return bad();
  }
  int64_t fen = 0;
  for (char c : whole) fen = fen * 10 + (c - '0');
  fen *= 100;
  if (!fraction.empty()) fen += (fraction[0] - '0') * 10;
  if (fraction.size() == 2) fen += fraction[1] - '0';
  return negative ? -fen : fen;
}

std::string FormatYuan(int64_t fen) {
  const bool negative = fen < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  std::string cents = std::to_string(magnitude % 100);
  if (cents.size() == 1) cents = "0" + cents;
  return (negative ? "-" : "") + std::to_string(magnitude / 100) + "." + cents;
}

}  // namespace remotegpu::domain
