// Many threads race exact-version appends on one stream: exactly one wins
// per version and the stream has no gaps.
#include <atomic>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "eventstore/log_verifier.h"
#include "tests/eventstore/store_fixture.h"

namespace remotegpu::eventstore {
namespace {

using ConcurrencyTest = StoreTest;

TEST_F(ConcurrencyTest, ExactlyOneWinnerPerVersion) {
  constexpr int kThreads = 16;
  constexpr uint64_t kVersions = 200;
  std::atomic<int> conflicts{0};
  std::vector<std::map<uint64_t, int>> wins(kThreads);  // Per thread: version -> count.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto head = store_->StreamHead("host-1");
        ASSERT_TRUE(head.ok());
        if (*head >= kVersions) return;
        EventData event = MakeEvent("Claimed", "thread " + std::to_string(t));
        auto result = store_->Append({ToStream("host-1", ExpectedVersion::Exact(*head), {event})},
                                     {.sync = false});
        if (result.ok()) {
          ASSERT_EQ(result->streams[0].last_version, *head + 1);
          ++wins[t][*head + 1];
        } else {
          ASSERT_EQ(result.status().code(), StatusCode::kVersionConflict)
              << result.status().ToString();
          ASSERT_GT(result.status().conflict()->actual, *head);
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  std::map<uint64_t, int> winners_per_version;
  for (const auto& per_thread : wins) {
    for (auto [version, count] : per_thread) winners_per_version[version] += count;
  }
  ASSERT_EQ(winners_per_version.size(), kVersions);
  for (auto [version, count] : winners_per_version) EXPECT_EQ(count, 1) << "version " << version;

  auto events = store_->ReadStream("host-1", {.from_version = 1, .max_count = 1000});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), kVersions);
  for (uint64_t v = 0; v < kVersions; ++v) EXPECT_EQ((*events)[v].stream_version, v + 1);
  EXPECT_TRUE(VerifyLog(*store_).ok());
  // With 16 racers, conflicts must have happened: the test raced for real.
  EXPECT_GT(conflicts.load(), 0);
}

TEST_F(ConcurrencyTest, ConcurrentAppendsToManyStreamsKeepPositionsGapFree) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->Append(
            {ToStream("env-" + std::to_string(t), ExpectedVersion::Exact(i), {MakeEvent("E")})});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto report = VerifyLog(*store_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(store_->LastPosition(), uint64_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace remotegpu::eventstore
