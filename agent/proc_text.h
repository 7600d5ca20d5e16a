// Reading the small text files of /proc, /sys and /etc: the whole file, and
// "key<separator>value" lookups.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace remotegpu::agent {

// The file's contents; empty when it cannot be read.
inline std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` without surrounding blanks, newlines and double quotes.
inline std::string TrimField(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n\"");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n\"");
  return text.substr(first, last - first + 1);
}

// The value of `key` in "key<separator>value" lines, trimmed (and unquoted);
// empty when absent.
inline std::string FieldOf(const std::string& text, const std::string& key, char separator) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t at = line.find(separator);
    if (at != std::string::npos && TrimField(line.substr(0, at)) == key) {
      return TrimField(line.substr(at + 1));
    }
  }
  return "";
}

}  // namespace remotegpu::agent
