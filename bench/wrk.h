// wrk, the HTTP load generator the API benchmarks drive: one run and the
// figures read from its report.
#pragma once

#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace remotegpu::bench {

// Lua for wrk scripts: a request `counter` and each thread's number `tid`
// (1, 2, …), so that threads' requests can aim at distinct targets.
inline constexpr char kWrkCounters[] =
    "counter = 0\n"
    "local threads = 0\n"
    "function setup(thread)\n"
    "  threads = threads + 1\n"
    "  thread:set('tid', threads)\n"
    "end\n";

struct WrkFigures {
  double rps = 0;
  double p99_ms = 0;
  long non_2xx = 0;  // Answers other than 2xx and 3xx.
  std::string output;
};

inline double ToMillis(double value, const std::string& unit) {
  if (unit == "us") return value / 1000.0;
  if (unit == "s") return value * 1000.0;
  return value;  // ms
}

// wrk -t2 -c64 for `seconds` against `url` with the Lua `script` (may be
// empty); exits the program when wrk cannot run.
inline WrkFigures RunWrk(const std::string& url, const std::string& script, int seconds) {
  std::vector<std::string> argv = {"wrk", "-t2", "-c64", "-d" + std::to_string(seconds) + "s",
                                   "--latency"};
  if (!script.empty()) {
    argv.push_back("-s");
    argv.push_back(script);
  }
  argv.push_back(url);
  auto out = RunCommand(argv);
  if (!out.ok()) {
    std::cerr << "wrk: " << out.status().ToString() << "\n";
    std::exit(1);
  }
  WrkFigures figures;
  figures.output = *out;
  std::smatch m;
  if (std::regex_search(*out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    figures.rps = std::stod(m[1]);
  }
  if (std::regex_search(*out, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) {
    figures.p99_ms = ToMillis(std::stod(m[1]), m[2]);
  }
  if (std::regex_search(*out, m, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) {
    figures.non_2xx = std::stol(m[1]);
    std::cerr << "  note: " << m[1] << " non-2xx responses from " << url << "\n";
  }
  return figures;
}

}  // namespace remotegpu::bench
