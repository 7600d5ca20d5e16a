#include "tests/eventstore/fault_injection.h"

#include <gtest/gtest.h>

#include <thread>

#include "eventstore/log_verifier.h"
#include "tests/eventstore/store_fixture.h"

namespace remotegpu::eventstore {
namespace {

class FaultInjectionTest : public StoreTest {
 protected:
  // Reopens the store with a fault-injecting sink and returns the sink.
  FaultInjectingCommitSink* ReopenWithFaults() {
    auto sink = std::make_unique<FaultInjectingCommitSink>(NewRocksDbCommitSink());
    FaultInjectingCommitSink* raw = sink.get();
    RocksDbEventStoreOptions options = Options();
    options.commit_sink = std::move(sink);
    Reopen(std::move(options));
    return raw;
  }
};

TEST_F(FaultInjectionTest, FailedGroupCommitFailsEveryAppendInTheGroupAndStoreStaysUsable) {
  FaultInjectingCommitSink* faults = ReopenWithFaults();
  AppendOne("host-0", ExpectedVersion::Any());  // Position 1, committed normally.

  // Hold the next commit so that the following appends queue up behind it
  // and form one group.
  faults->HoldNext();
  std::thread first([&] { AppendOne("host-held", ExpectedVersion::Any()); });
  faults->AwaitHeld();

  constexpr int kGrouped = 8;
  std::vector<Result<AppendResult>> results(kGrouped, Status::Internal("not run"));
  std::vector<std::thread> grouped;
  for (int i = 0; i < kGrouped; ++i) {
    grouped.emplace_back([&, i] {
      // The last one breaks a rule of its own: it fails with its own error.
      ExpectedVersion expected =
          i == kGrouped - 1 ? ExpectedVersion::Exact(9) : ExpectedVersion::NoStream();
      results[i] = store_->Append(
          {ToStream("env-" + std::to_string(i), expected, {MakeEvent("EnvironmentCreated")})});
    });
  }
  while (store_->WriterQueueDepth() < kGrouped) std::this_thread::yield();
  faults->FailNth(1);  // The commit after the held one: the group of eight.
  faults->Release();
  first.join();
  for (auto& t : grouped) t.join();

  for (int i = 0; i < kGrouped - 1; ++i) {
    ASSERT_FALSE(results[i].ok()) << "append " << i;
    EXPECT_EQ(results[i].status().code(), StatusCode::kIoError) << "append " << i;
  }
  EXPECT_EQ(results[kGrouped - 1].status().code(), StatusCode::kVersionConflict);
  EXPECT_EQ(store_->LastPosition(), 2u);
  for (int i = 0; i < kGrouped; ++i) EXPECT_EQ(*store_->StreamHead("env-" + std::to_string(i)), 0u);

  // Usable afterwards: the same appends succeed, positions and the chain go
  // on from the last good commit, and all of it survives a reopen.
  for (int i = 0; i < kGrouped - 1; ++i) {
    AppendResult r = AppendOne("env-" + std::to_string(i), ExpectedVersion::NoStream());
    EXPECT_EQ(r.first_position, 3u + i);
  }
  ASSERT_TRUE(VerifyLog(*store_).ok());
  Reopen();
  auto report = VerifyLog(*store_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, 2u + kGrouped - 1);
}

// Beast-style: fail each commit in turn and check the rest of the run.
TEST_F(FaultInjectionTest, EveryFailurePointLeavesAGapFreeVerifiableLog) {
  constexpr int kAppends = 6;
  for (int fail_at = 1; fail_at <= kAppends; ++fail_at) {
    SCOPED_TRACE("failing commit " + std::to_string(fail_at));
    testing::TempDir dir;
    auto sink = std::make_unique<FaultInjectingCommitSink>(NewRocksDbCommitSink());
    sink->FailNth(fail_at);
    RocksDbEventStoreOptions options = Options();
    options.path = dir.Sub("events");
    options.commit_sink = std::move(sink);
    Reopen(std::move(options));

    uint64_t expected_position = 1;
    for (int i = 1; i <= kAppends; ++i) {
      auto r = store_->Append(
          {ToStream("host-" + std::to_string(i % 2), ExpectedVersion::Any(), {MakeEvent("E")})});
      if (i == fail_at) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().code(), StatusCode::kIoError);
      } else {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_EQ(r->first_position, expected_position++);
      }
    }
    RocksDbEventStoreOptions plain = Options();
    plain.path = dir.Sub("events");
    Reopen(std::move(plain));
    auto report = VerifyLog(*store_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->events, uint64_t{kAppends - 1});
    store_.reset();
  }
}

}  // namespace
}  // namespace remotegpu::eventstore
