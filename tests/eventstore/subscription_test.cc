#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/eventstore/store_fixture.h"

namespace remotegpu::eventstore {
namespace {

using std::chrono::milliseconds;
using SubscriptionTest = StoreTest;

std::unique_ptr<Subscription> SubscribeFrom(EventStore& store, uint64_t position, size_t batch) {
  auto sub = store.Subscribe({.from_position = position, .max_batch = batch});
  EXPECT_TRUE(sub.ok());
  return std::move(*sub);
}

TEST_F(SubscriptionTest, CatchesUpInBatchesThenTimesOutEmpty) {
  for (int i = 0; i < 5; ++i) AppendOne("host-1", ExpectedVersion::Any());
  auto sub = SubscribeFrom(*store_, 2, 3);
  auto first = sub->Next(milliseconds(0));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].global_position, 2u);
  auto second = sub->Next(milliseconds(0));
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].global_position, 5u);
  EXPECT_EQ(sub->cursor(), 6u);
  auto none = sub->Next(milliseconds(20));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SubscriptionTest, LiveEventWakesABlockedNext) {
  auto sub = SubscribeFrom(*store_, 1, 10);
  std::thread appender([&] {
    std::this_thread::sleep_for(milliseconds(50));
    AppendOne("host-1", ExpectedVersion::Any());
  });
  auto events = sub->Next(milliseconds(10'000));
  appender.join();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].global_position, 1u);
}

TEST_F(SubscriptionTest, CloseWakesABlockedNext) {
  auto sub = SubscribeFrom(*store_, 1, 10);
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    sub->Close();
  });
  auto events = sub->Next(milliseconds(10'000));
  closer.join();
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), StatusCode::kUnavailable);
}

// The hand-over from catch-up to live under concurrent appends: every
// position arrives exactly once and in order.
TEST_F(SubscriptionTest, HandOverUnderConcurrentAppendsHasNoGapAndNoDuplicate) {
  constexpr int kBefore = 300;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  for (int i = 0; i < kBefore; ++i) {
    ASSERT_TRUE(store_
                    ->Append({ToStream("host-pre", ExpectedVersion::Any(), {MakeEvent("E")})},
                             {.sync = false})
                    .ok());
  }
  auto sub = SubscribeFrom(*store_, 1, 64);
  std::vector<std::thread> appenders;
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->Append(
            {ToStream("host-" + std::to_string(t), ExpectedVersion::Any(), {MakeEvent("E")})},
            {.sync = false});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      }
    });
  }
  const uint64_t total = kBefore + kThreads * kPerThread;
  uint64_t expected = 1;
  while (expected <= total) {
    auto batch = sub->Next(milliseconds(10'000));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_FALSE(batch->empty()) << "stalled at " << expected;
    for (const auto& e : *batch) ASSERT_EQ(e.global_position, expected++);
  }
  for (auto& t : appenders) t.join();
  EXPECT_TRUE(sub->Next(milliseconds(0))->empty());
}

}  // namespace
}  // namespace remotegpu::eventstore
