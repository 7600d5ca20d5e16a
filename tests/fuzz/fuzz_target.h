// One source per fuzz target, built two ways:
//  - with clang and libFuzzer (./scripts/fuzz, REMOTEGPU_FUZZ=ON): the
//    target is LLVMFuzzerTestOneInput of its own executable, under
//    AddressSanitizer and UndefinedBehaviorSanitizer;
//  - in the normal build: registered by name, so fuzz_regression_test runs
//    every file of tests/fuzz/corpus/<name>/ (seeds and every crash found,
//    kept as regression inputs) through the same code on each ./scripts/test.
// A target returns 0; a bug is a crash, a sanitizer report or a failed
// FUZZ_CHECK (a property that must hold for every input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace remotegpu::fuzz {

using Target = int (*)(const uint8_t* data, size_t size);

inline std::map<std::string, Target>& Registry() {
  static std::map<std::string, Target> targets;
  return targets;
}
inline bool Register(const char* name, Target target) {
  Registry()[name] = target;
  return true;
}

}  // namespace remotegpu::fuzz

#define FUZZ_CHECK(condition)                                                   \
  do {                                                                          \
    if (!(condition)) {                                                         \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, \
                   #condition);                                                 \
      std::abort();                                                             \
    }                                                                           \
  } while (false)

#ifdef REMOTEGPU_LIBFUZZER
#define FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define FUZZ_TARGET(name)                                                         \
  int FuzzTarget_##name(const uint8_t* data, size_t size);                        \
  [[maybe_unused]] static const bool kRegistered_##name =                         \
      ::remotegpu::fuzz::Register(#name, &FuzzTarget_##name);                     \
  int FuzzTarget_##name(const uint8_t* data, size_t size)
#endif
