// CSV as RFC 4180 has it: a field holding a comma, a quote or a line break
// is quoted, its quotes doubled. A field a spreadsheet would run as a
// formula (it starts with '=', '+', '-', '@', a tab or a carriage return) is
// neutralised with a leading apostrophe, as OWASP advises, unless it is a
// plain number ("-12.50" stays a number): exports carry names and notes that
// customers typed, and an operator opens them in a spreadsheet.
#pragma once

#include <string>

namespace remotegpu {

// Whether `text` is a decimal number with an optional sign: "-12.50", "+3".
inline bool CsvPlainNumber(const std::string& text) {
  size_t i = text.empty() ? 0 : (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (i >= text.size()) return false;
  bool digits = false, point = false;
  for (; i < text.size(); ++i) {
    if (text[i] >= '0' && text[i] <= '9') {
      digits = true;
    } else if (text[i] == '.' && !point) {
      point = true;
    } else {
      return false;
    }
  }
  return digits;
}

inline std::string CsvField(const std::string& text) {
  std::string cell = text;
  if (!cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos &&
      !CsvPlainNumber(cell)) {
    cell.insert(cell.begin(), '\'');
  }
  if (cell.find_first_of(",\"\n\r") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace remotegpu
