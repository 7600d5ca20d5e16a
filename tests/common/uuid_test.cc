#include "common/uuid.h"

#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace remotegpu {
namespace {

TEST(UuidTest, TextRoundTrip) {
  auto id = Uuid::Parse("0190f5a8-1c2b-7d3e-8f40-123456789abc");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->ToString(), "0190f5a8-1c2b-7d3e-8f40-123456789abc");
  EXPECT_EQ(Uuid::Parse("0190F5A8-1C2B-7D3E-8F40-123456789ABC"), id);
}

TEST(UuidTest, RejectsMalformedText) {
  EXPECT_FALSE(Uuid::Parse(""));
  EXPECT_FALSE(Uuid::Parse("0190f5a8-1c2b-7d3e-8f40-123456789ab"));   // Short.
  EXPECT_FALSE(Uuid::Parse("0190f5a8x1c2b-7d3e-8f40-123456789abc"));  // Bad dash.
  EXPECT_FALSE(Uuid::Parse("0190f5a8-1c2b-7d3e-8f40-123456789abg"));  // Bad hex.
}

TEST(UuidV7Test, HasVersionVariantAndTimestamp) {
  ManualClock clock(1'700'000'000'123'456);  // µs
  UuidV7Generator generator(clock, 42);
  Uuid id = generator.NewId();
  EXPECT_EQ(id.bytes[6] >> 4, 7);
  EXPECT_EQ(id.bytes[8] >> 6, 2);
  uint64_t millis = 0;
  for (int i = 0; i < 6; ++i) millis = millis << 8 | id.bytes[i];
  EXPECT_EQ(millis, 1'700'000'000'123u);
}

TEST(UuidV7Test, StrictlyIncreasingWithinAMillisecondAndWhenTheClockGoesBack) {
  ManualClock clock(1'700'000'000'000'000);
  UuidV7Generator generator(clock, 1);
  Uuid previous = generator.NewId();
  for (int i = 0; i < 10000; ++i) {  // More than the 4096 a 12-bit counter holds.
    if (i == 5000) clock.Advance(-5'000'000);
    Uuid next = generator.NewId();
    ASSERT_LT(previous, next) << "at " << i;
    previous = next;
  }
}

TEST(UuidV7Test, UniqueAcrossThreads) {
  UuidV7Generator generator(SystemClock::Instance());
  std::vector<std::vector<Uuid>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) ids.push_back(generator.NewId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<Uuid> all;
  for (auto& ids : per_thread) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(SequentialIdGeneratorTest, CountsUp) {
  SequentialIdGenerator generator;
  EXPECT_EQ(generator.NewId().ToString(), "00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(generator.NewId().ToString(), "00000000-0000-7000-8000-000000000002");
}

}  // namespace
}  // namespace remotegpu
