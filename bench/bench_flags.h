// The command line every benchmark shares: --quick, --json, --help, and
// "-- ARGS" handed to the program under test where there is one.
#pragma once

#include <cstring>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

namespace remotegpu::bench {

struct BenchFlags {
  bool quick = false;                  // A short run.
  bool json = false;                   // End with one JSON object of the figures.
  std::vector<std::string> passed_on;  // Everything after "--", for the program under test.
};

// The flags, or the exit code when the program should stop now (after
// --help: 0; after an unknown flag: 2, with the usage on stderr).
inline std::variant<BenchFlags, int> ParseBenchFlags(int argc, char** argv, const char* name,
                                                     const char* usage) {
  BenchFlags flags;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      flags.passed_on.assign(argv + i + 1, argv + argc);
      break;
    }
    if (std::strcmp(argv[i], "--quick") == 0) {
      flags.quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0) {
      flags.json = true;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << name << ": unknown flag " << argv[i] << "\n\n" << usage;
      return 2;
    }
  }
  return flags;
}

}  // namespace remotegpu::bench
