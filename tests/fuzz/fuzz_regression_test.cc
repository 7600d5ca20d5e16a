// Every fuzz target (tests/fuzz/*_fuzz.cc) over its committed corpus, seeds
// and every crash a fuzzing run found, in the normal build: what a fuzzer
// once broke stays fixed. Then a few thousand deterministic mutations of
// those inputs each, as a smoke test between real fuzzing runs.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <gtest/gtest.h>

#include "tests/fuzz/fuzz_target.h"

namespace remotegpu::fuzz {
namespace {

std::vector<std::string> Corpus(const std::string& name) {
  std::vector<std::string> inputs;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(REMOTEGPU_FUZZ_CORPUS) + "/" + name)) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

int RunInput(Target target, const std::string& input) {
  return target(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(FuzzRegression, EveryTargetHasACorpusAndRunsItClean) {
  ASSERT_EQ(Registry().size(), 5u);
  for (const auto& [name, target] : Registry()) {
    const auto inputs = Corpus(name);
    EXPECT_FALSE(inputs.empty()) << "no corpus for " << name;
    for (const auto& input : inputs) EXPECT_EQ(RunInput(target, input), 0) << name;
  }
}

TEST(FuzzRegression, MutationsOfTheCorpusRunClean) {
  std::mt19937 random(20261202);
  for (const auto& [name, target] : Registry()) {
    const auto inputs = Corpus(name);
    ASSERT_FALSE(inputs.empty()) << name;
    for (int i = 0; i < 3000; ++i) {
      std::string input = inputs[random() % inputs.size()];
      const int edits = 1 + static_cast<int>(random() % 8);
      for (int e = 0; e < edits; ++e) {
        const size_t at = input.empty() ? 0 : random() % input.size();
        switch (random() % 4) {
          case 0:
            if (!input.empty()) input[at] = static_cast<char>(random());
            break;
          case 1:
            input.insert(input.begin() + static_cast<std::ptrdiff_t>(at),
                         static_cast<char>(random()));
            break;
          case 2:
            if (!input.empty()) input.erase(at, 1 + random() % 4);
            break;
          default:
            input.insert(at, input.substr(0, random() % 16));
        }
      }
      ASSERT_EQ(RunInput(target, input), 0) << name;
    }
  }
}

}  // namespace
}  // namespace remotegpu::fuzz
