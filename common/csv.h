// CSV as RFC 4180 has it: a field holding a comma, a quote or a line break
// is quoted, its quotes doubled.
#pragma once

#include <string>

namespace remotegpu {

inline std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace remotegpu
