#include "tests/eventstore/fault_injection.h"

#include <future>
#include <thread>

#include <gtest/gtest.h>

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

TEST_F(FaultInjectionTest, WrittenButUnsyncedEventsAreInvisibleToReaders) {
  FaultInjectingCommitSink* faults = ReopenWithFaults();
  AppendOne("host-1", ExpectedVersion::Any());
  auto sub = store_->Subscribe({.from_position = 2});
  ASSERT_TRUE(sub.ok());

  faults->HoldNextSync();
  std::thread appender([&] { AppendOne("host-1", ExpectedVersion::Exact(1)); });
  faults->AwaitHeld();  // Written to RocksDB, fsync not done: not acknowledged.
  EXPECT_EQ(store_->LastPosition(), 1u);
  EXPECT_EQ(store_->ReadAll(1, 10)->size(), 1u);
  EXPECT_EQ(*store_->StreamHead("host-1"), 1u);
  EXPECT_EQ(store_->ReadStream("host-1")->size(), 1u);
  EXPECT_EQ(store_
                ->ReadStream("host-1", {.from_version = StreamReadOptions::kFromEnd,
                                        .direction = ReadDirection::kBackward})
                ->size(),
            1u);
  EXPECT_TRUE((*sub)->Next(std::chrono::milliseconds(20))->empty());

  faults->Release();
  appender.join();
  EXPECT_EQ(store_->LastPosition(), 2u);
  EXPECT_EQ(*store_->StreamHead("host-1"), 2u);
  auto live = (*sub)->Next(std::chrono::milliseconds(1000));
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].global_position, 2u);
}

TEST_F(FaultInjectionTest, FailedFsyncFailsItsAppendsAndRefusesWritesUntilReopen) {
  FaultInjectingCommitSink* faults = ReopenWithFaults();
  AppendOne("host-1", ExpectedVersion::Any());
  faults->FailNextSync();
  auto failed = store_->Append({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("E")})});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
  EXPECT_EQ(store_->LastPosition(), 1u);  // Never acknowledged, never shown.

  auto refused = store_->Append({ToStream("host-2", ExpectedVersion::Any(), {MakeEvent("E")})});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
  EXPECT_NE(refused.status().message().find("reopen"), std::string::npos)
      << refused.status().message();

  // Reopening recovers whatever RocksDB has: here the unacknowledged event
  // did reach the WAL (only the fsync "failed"), so it is there, and the log
  // verifies and accepts appends again.
  Reopen();
  auto report = VerifyLog(*store_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->events, 1u);
  AppendResult next = AppendOne("host-2", ExpectedVersion::NoStream());
  EXPECT_EQ(next.first_position, report->events + 1);
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

TEST_F(FaultInjectionTest, FullQueueAnswersAsyncAppendsWithResourceExhausted) {
  auto sink = std::make_unique<FaultInjectingCommitSink>(NewRocksDbCommitSink());
  FaultInjectingCommitSink* faults = sink.get();
  RocksDbEventStoreOptions options = Options();
  options.commit_sink = std::move(sink);
  options.max_queued_appends = 2;
  Reopen(std::move(options));

  faults->HoldNext();  // The writer takes the first append and stops in Write.
  std::vector<std::promise<Result<AppendResult>>> answers(4);
  auto send = [&](int i) {
    store_->AppendAsync(
        {ToStream("host-" + std::to_string(i), ExpectedVersion::Any(), {MakeEvent("E")})}, {},
        [&answers, i](Result<AppendResult> r) { answers[i].set_value(std::move(r)); });
  };
  send(0);
  faults->AwaitHeld();
  send(1);
  send(2);  // The queue now holds two: full.
  send(3);
  auto rejected = answers[3].get_future().get();
  EXPECT_EQ(rejected.status().code(), StatusCode::kResourceExhausted);
  faults->Release();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(answers[i].get_future().get().ok()) << i;
}

}  // namespace
}  // namespace remotegpu::eventstore
