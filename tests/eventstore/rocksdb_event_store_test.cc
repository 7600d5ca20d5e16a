#include "eventstore/rocksdb_event_store.h"

#include <future>

#include <gtest/gtest.h>

#include "eventstore/log_verifier.h"
#include "tests/eventstore/store_fixture.h"

namespace remotegpu::eventstore {
namespace {

using RocksDbEventStoreTest = StoreTest;

TEST_F(RocksDbEventStoreTest, FirstAppendGetsVersionOneAndPositionOne) {
  AppendResult result = AppendOne("host-1", ExpectedVersion::NoStream(), "HostRegistered");
  EXPECT_EQ(result.first_position, 1u);
  EXPECT_EQ(result.last_position, 1u);
  ASSERT_EQ(result.streams.size(), 1u);
  EXPECT_EQ(result.streams[0].first_version, 1u);
  EXPECT_EQ(result.streams[0].last_version, 1u);
  EXPECT_FALSE(result.duplicate);
  EXPECT_EQ(store_->LastPosition(), 1u);

  auto events = ReadAllEvents();
  ASSERT_EQ(events.size(), 1u);
  const RecordedEvent& e = events[0];
  EXPECT_EQ(e.stream_id, "host-1");
  EXPECT_EQ(e.stream_version, 1u);
  EXPECT_EQ(e.global_position, 1u);
  EXPECT_EQ(e.data.type, "HostRegistered");
  EXPECT_EQ(e.data.event_id.ToString(), "00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(e.recorded_at_us, kStart);
  EXPECT_EQ(e.data.occurred_at_us, kStart);  // Defaulted to the commit time.
  EXPECT_EQ(e.data.actor, (Actor{ActorKind::kUser, "user-1", "Ada"}));
  EXPECT_EQ(e.prev_hash, Sha256Digest{});
}

TEST_F(RocksDbEventStoreTest, CallerFieldsAreStoredAsGiven) {
  EventData event = MakeEvent("GpuAllocated", "payload-bytes");
  event.event_id = *Uuid::Parse("0190f5a8-1c2b-7d3e-8f40-123456789abc");
  event.schema_version = 3;
  event.occurred_at_us = kStart - 5;
  event.correlation_id = "corr";
  event.causation_id = "cause";
  event.trace_id = "trace";
  ASSERT_TRUE(store_->Append({ToStream("host-1", ExpectedVersion::Any(), {event})}).ok());
  auto events = ReadAllEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, event);
}

TEST_F(RocksDbEventStoreTest, ExpectedNoStream) {
  AppendOne("host-1", ExpectedVersion::NoStream());
  auto again = store_->Append({ToStream("host-1", ExpectedVersion::NoStream(), {MakeEvent("X")})});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kVersionConflict);
  ASSERT_NE(again.status().conflict(), nullptr);
  EXPECT_EQ(again.status().conflict()->stream_id, "host-1");
  EXPECT_EQ(again.status().conflict()->expected, "no_stream");
  EXPECT_EQ(again.status().conflict()->actual, 1u);
}

TEST_F(RocksDbEventStoreTest, ExpectedExists) {
  auto missing = store_->Append({ToStream("host-1", ExpectedVersion::Exists(), {MakeEvent("X")})});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().conflict()->expected, "exists");
  EXPECT_EQ(missing.status().conflict()->actual, 0u);
  AppendOne("host-1", ExpectedVersion::Any());
  AppendOne("host-1", ExpectedVersion::Exists());
  EXPECT_EQ(*store_->StreamHead("host-1"), 2u);
}

TEST_F(RocksDbEventStoreTest, ExpectedExact) {
  AppendOne("host-1", ExpectedVersion::Exact(0));  // Exact(0) means no stream yet.
  AppendOne("host-1", ExpectedVersion::Exact(1));
  auto stale = store_->Append({ToStream("host-1", ExpectedVersion::Exact(1), {MakeEvent("X")})});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().conflict()->expected, "1");
  EXPECT_EQ(stale.status().conflict()->actual, 2u);
  auto ahead = store_->Append({ToStream("host-1", ExpectedVersion::Exact(5), {MakeEvent("X")})});
  ASSERT_FALSE(ahead.ok());
  EXPECT_EQ(ahead.status().conflict()->actual, 2u);
  EXPECT_EQ(ReadAllEvents().size(), 2u);
}

TEST_F(RocksDbEventStoreTest, ExpectedAny) {
  AppendOne("host-1", ExpectedVersion::Any());
  AppendOne("host-1", ExpectedVersion::Any());
  EXPECT_EQ(*store_->StreamHead("host-1"), 2u);
}

TEST_F(RocksDbEventStoreTest, MultiStreamAppendIsContiguousAndInRequestOrder) {
  AppendOne("other-1", ExpectedVersion::Any());
  auto result = store_->Append({
      ToStream("host-1", ExpectedVersion::NoStream(), {MakeEvent("GpuAllocated")}),
      ToStream("env-1", ExpectedVersion::NoStream(),
               {MakeEvent("EnvironmentCreated"), MakeEvent("EnvironmentScheduled")}),
  });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->first_position, 2u);
  EXPECT_EQ(result->last_position, 4u);
  ASSERT_EQ(result->streams.size(), 2u);
  EXPECT_EQ(result->streams[1].stream_id, "env-1");
  EXPECT_EQ(result->streams[1].first_version, 1u);
  EXPECT_EQ(result->streams[1].last_version, 2u);

  auto events = ReadAllEvents();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].stream_id, "host-1");
  EXPECT_EQ(events[2].stream_id, "env-1");
  EXPECT_EQ(events[2].stream_version, 1u);
  EXPECT_EQ(events[3].data.type, "EnvironmentScheduled");
  EXPECT_EQ(events[3].stream_version, 2u);
}

TEST_F(RocksDbEventStoreTest, OneConflictingStreamAbortsTheWholeAppend) {
  AppendOne("host-1", ExpectedVersion::Any());
  auto result = store_->Append({
      ToStream("env-1", ExpectedVersion::NoStream(), {MakeEvent("EnvironmentCreated")}),
      ToStream("host-1", ExpectedVersion::Exact(7), {MakeEvent("GpuAllocated")}),
      ToStream("quota-1", ExpectedVersion::Any(), {MakeEvent("QuotaUsed")}),
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().conflict()->stream_id, "host-1");
  EXPECT_EQ(*store_->StreamHead("env-1"), 0u);
  EXPECT_EQ(*store_->StreamHead("quota-1"), 0u);
  EXPECT_EQ(store_->LastPosition(), 1u);
  EXPECT_EQ(ReadAllEvents().size(), 1u);
  // The store goes on from where it was.
  EXPECT_EQ(AppendOne("env-1", ExpectedVersion::NoStream()).first_position, 2u);
}

TEST_F(RocksDbEventStoreTest, ResentAppendReturnsOriginalPositionsAndWritesNothing) {
  AppendOne("other-1", ExpectedVersion::Any());
  EventData a = MakeEvent("A"), b = MakeEvent("B"), c = MakeEvent("C");
  a.event_id = ids_.NewId();
  b.event_id = ids_.NewId();
  c.event_id = ids_.NewId();
  std::vector<StreamAppend> request = {ToStream("host-1", ExpectedVersion::NoStream(), {a, b}),
                                       ToStream("env-1", ExpectedVersion::NoStream(), {c})};
  auto first = store_->Append(request);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  AppendOne("host-1", ExpectedVersion::Exact(2));  // The stream moves on meanwhile.

  auto retry = store_->Append(request);  // Its expectation no longer holds: still a duplicate.
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->first_position, first->first_position);
  EXPECT_EQ(retry->last_position, first->last_position);
  ASSERT_EQ(retry->streams.size(), 2u);
  EXPECT_EQ(retry->streams[0].first_version, 1u);
  EXPECT_EQ(retry->streams[0].last_version, 2u);
  EXPECT_EQ(retry->streams[1].last_version, 1u);
  EXPECT_EQ(ReadAllEvents().size(), 5u);
}

TEST_F(RocksDbEventStoreTest, ResentAppendIsRecognisedAfterReopen) {
  EventData a = MakeEvent("A");
  a.event_id = ids_.NewId();
  auto first = store_->Append({ToStream("host-1", ExpectedVersion::NoStream(), {a})});
  ASSERT_TRUE(first.ok());
  Reopen();
  auto retry = store_->Append({ToStream("host-1", ExpectedVersion::NoStream(), {a})});
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->last_position, 1u);
  EXPECT_EQ(store_->LastPosition(), 1u);
}

TEST_F(RocksDbEventStoreTest, MixingStoredAndNewEventIdsIsRejected) {
  EventData a = MakeEvent("A"), b = MakeEvent("B");
  a.event_id = ids_.NewId();
  b.event_id = ids_.NewId();
  ASSERT_TRUE(store_->Append({ToStream("host-1", ExpectedVersion::Any(), {a})}).ok());
  auto mixed = store_->Append({ToStream("host-1", ExpectedVersion::Any(), {a, b})});
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LastPosition(), 1u);
}

TEST_F(RocksDbEventStoreTest, StoredEventIdInAnotherStreamIsRejected) {
  EventData a = MakeEvent("A");
  a.event_id = ids_.NewId();
  ASSERT_TRUE(store_->Append({ToStream("host-1", ExpectedVersion::Any(), {a})}).ok());
  auto elsewhere = store_->Append({ToStream("host-2", ExpectedVersion::Any(), {a})});
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->StreamHead("host-2"), 0u);
}

TEST_F(RocksDbEventStoreTest, MalformedRequestsAreRejectedBeforeWriting) {
  auto expect_invalid = [&](std::vector<StreamAppend> request, const char* what) {
    auto result = store_->Append(std::move(request));
    ASSERT_FALSE(result.ok()) << what;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << what;
  };
  expect_invalid({}, "no streams");
  expect_invalid({ToStream("host-1", ExpectedVersion::Any(), {})}, "no events");
  expect_invalid({ToStream("nodash", ExpectedVersion::Any(), {MakeEvent("A")})}, "bad id");
  expect_invalid({ToStream("host-", ExpectedVersion::Any(), {MakeEvent("A")})}, "empty id part");
  expect_invalid({ToStream(std::string("ho\0st-1", 7), ExpectedVersion::Any(), {MakeEvent("A")})},
                 "NUL in id");
  expect_invalid({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("")})}, "no type");
  expect_invalid({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("A")}),
                  ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("B")})},
                 "stream twice");
  EventData a = MakeEvent("A");
  a.event_id = ids_.NewId();
  expect_invalid({ToStream("host-1", ExpectedVersion::Any(), {a, a})}, "id twice");
  EXPECT_EQ(store_->LastPosition(), 0u);
}

TEST_F(RocksDbEventStoreTest, ReadStreamForwardFromAVersion) {
  for (int i = 0; i < 5; ++i) AppendOne("host-1", ExpectedVersion::Any(), "E" + std::to_string(i));
  AppendOne("host-10", ExpectedVersion::Any());  // A stream whose id extends host-1's.
  auto events = store_->ReadStream("host-1", {.from_version = 3, .max_count = 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].stream_version, 3u);
  EXPECT_EQ((*events)[2].data.type, "E4");
  auto limited = store_->ReadStream("host-1", {.from_version = 1, .max_count = 2});
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[1].stream_version, 2u);
}

TEST_F(RocksDbEventStoreTest, ReadStreamBackward) {
  for (int i = 0; i < 5; ++i) AppendOne("host-1", ExpectedVersion::Any(), "E" + std::to_string(i));
  AppendOne("host-10", ExpectedVersion::Any());
  auto from_end = store_->ReadStream("host-1", {.from_version = StreamReadOptions::kFromEnd,
                                                .direction = ReadDirection::kBackward,
                                                .max_count = 3});
  ASSERT_TRUE(from_end.ok());
  ASSERT_EQ(from_end->size(), 3u);
  EXPECT_EQ((*from_end)[0].stream_version, 5u);
  EXPECT_EQ((*from_end)[2].stream_version, 3u);
  auto from_two = store_->ReadStream(
      "host-1", {.from_version = 2, .direction = ReadDirection::kBackward, .max_count = 10});
  ASSERT_EQ(from_two->size(), 2u);
  EXPECT_EQ((*from_two)[0].stream_version, 2u);
  EXPECT_EQ((*from_two)[1].stream_version, 1u);
}

TEST_F(RocksDbEventStoreTest, AbsentStreamReadsEmptyAndHasHeadZero) {
  auto events = store_->ReadStream("host-404");
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(*store_->StreamHead("host-404"), 0u);
  EXPECT_FALSE(*store_->StreamExists("host-404"));
  AppendOne("host-404", ExpectedVersion::Any());
  EXPECT_TRUE(*store_->StreamExists("host-404"));
}

TEST_F(RocksDbEventStoreTest, ReadAllFromAPositionWithALimit) {
  for (int i = 0; i < 10; ++i) AppendOne("host-" + std::to_string(i % 3), ExpectedVersion::Any());
  auto events = store_->ReadAll(4, 5);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].global_position, 4 + i);
  EXPECT_TRUE(store_->ReadAll(11, 5)->empty());
}

TEST_F(RocksDbEventStoreTest, HashChainLinksEveryEvent) {
  for (int i = 0; i < 20; ++i) AppendOne("host-" + std::to_string(i % 4), ExpectedVersion::Any());
  auto events = ReadAllEvents();
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].prev_hash, events[i - 1].hash);
  auto report = VerifyLog(*store_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, 20u);
  EXPECT_EQ(report->streams, 4u);
  EXPECT_EQ(report->chain_head, events.back().hash);
}

TEST_F(RocksDbEventStoreTest, ReopenContinuesPositionsVersionsAndChain) {
  AppendOne("host-1", ExpectedVersion::Any());
  AppendOne("host-1", ExpectedVersion::Any());
  AppendOne("env-1", ExpectedVersion::Any());
  Sha256Digest head_before = ReadAllEvents().back().hash;
  Reopen();
  EXPECT_EQ(store_->LastPosition(), 3u);
  AppendResult next = AppendOne("host-1", ExpectedVersion::Exact(2));
  EXPECT_EQ(next.first_position, 4u);
  EXPECT_EQ(next.streams[0].last_version, 3u);
  EXPECT_EQ(ReadAllEvents().back().prev_hash, head_before);
  EXPECT_TRUE(VerifyLog(*store_).ok());
}

TEST_F(RocksDbEventStoreTest, UnsyncedAppendsAreStoredLikeSyncedOnes) {
  auto result = store_->Append({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("A")})},
                               AppendOptions{.sync = false});
  ASSERT_TRUE(result.ok());
  Reopen();  // A clean close keeps unsynced writes; only a machine crash may lose them.
  EXPECT_EQ(store_->LastPosition(), 1u);
}

TEST_F(RocksDbEventStoreTest, SnapshotsKeepTheLatestPerStream) {
  EXPECT_FALSE(store_->LoadSnapshot("host-1")->has_value());
  AppendOne("host-1", ExpectedVersion::Any());
  AppendOne("host-1", ExpectedVersion::Any());
  ASSERT_TRUE(store_->SaveSnapshot("host-1", {1, "state@1"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("host-1", {2, "state@2"}).ok());
  Reopen();
  auto snapshot = store_->LoadSnapshot("host-1");
  ASSERT_TRUE(snapshot.ok());
  ASSERT_TRUE(snapshot->has_value());
  EXPECT_EQ((*snapshot)->version, 2u);
  EXPECT_EQ((*snapshot)->state, "state@2");
}

TEST_F(RocksDbEventStoreTest, SnapshotBeyondTheHeadIsRejected) {
  AppendOne("host-1", ExpectedVersion::Any());
  Status s = store_->SaveSnapshot("host-1", {2, "future"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SaveSnapshot("host-2", {1, "none"}).code(), StatusCode::kInvalidArgument);
}

TEST_F(RocksDbEventStoreTest, CheckpointsSurviveReopen) {
  EXPECT_FALSE(store_->LoadCheckpoint("kafka-relay")->has_value());
  ASSERT_TRUE(store_->SaveCheckpoint("kafka-relay", 41).ok());
  ASSERT_TRUE(store_->SaveCheckpoint("kafka-relay", 42).ok());
  ASSERT_TRUE(store_->SaveCheckpoint("projection-hosts", 7).ok());
  Reopen();
  EXPECT_EQ(store_->LoadCheckpoint("kafka-relay")->value(), 42u);
  EXPECT_EQ(store_->LoadCheckpoint("projection-hosts")->value(), 7u);
  EXPECT_EQ(store_->SaveCheckpoint("", 1).code(), StatusCode::kInvalidArgument);
}

TEST_F(RocksDbEventStoreTest, AppendAsyncAnswersThroughTheCallback) {
  std::promise<Result<AppendResult>> answer;
  store_->AppendAsync({ToStream("host-1", ExpectedVersion::NoStream(), {MakeEvent("A")})}, {},
                      [&](Result<AppendResult> r) { answer.set_value(std::move(r)); });
  auto result = answer.get_future().get();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->last_position, 1u);

  std::promise<Result<AppendResult>> conflict;
  store_->AppendAsync({ToStream("host-1", ExpectedVersion::NoStream(), {MakeEvent("B")})}, {},
                      [&](Result<AppendResult> r) { conflict.set_value(std::move(r)); });
  EXPECT_EQ(conflict.get_future().get().status().code(), StatusCode::kVersionConflict);
}

TEST_F(RocksDbEventStoreTest, AppendAsyncRejectsMalformedInputOnTheCallingThread) {
  bool called = false;
  store_->AppendAsync({}, {}, [&](Result<AppendResult> r) {
    called = true;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  });
  EXPECT_TRUE(called);
}

TEST_F(RocksDbEventStoreTest, WaitForPositionReturnsOnceCommitted) {
  EXPECT_FALSE(store_->WaitForPosition(1, std::chrono::milliseconds(10)));
  AppendOne("host-1", ExpectedVersion::Any());
  EXPECT_TRUE(store_->WaitForPosition(1, std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace remotegpu::eventstore

namespace remotegpu::eventstore {
namespace {

TEST_F(RocksDbEventStoreTest, AReadOnlyStoreBesideTheWriterCatchesUpOnRequest) {
  ASSERT_TRUE(store_->Append({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("A")})}).ok());
  auto reader = RocksDbEventStore::Open(
      {.path = dir_.Sub("events"), .read_only = true, .secondary_path = dir_.Sub("secondary")});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->LastPosition(), 1u);
  ASSERT_TRUE(
      store_->Append({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("B"), MakeEvent("C")})})
          .ok());
  EXPECT_EQ((*reader)->LastPosition(), 1u) << "sees nothing new until asked";
  ASSERT_TRUE((*reader)->CatchUpWithWriter().ok());
  EXPECT_EQ((*reader)->LastPosition(), 3u);
  auto events = (*reader)->ReadStream("host-1");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[2].data.type, "C");
  auto refused = (*reader)->Append({ToStream("host-1", ExpectedVersion::Any(), {MakeEvent("D")})});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->LastPosition(), 3u);
}

TEST(RocksDbEventStoreReadOnlyTest, AMissingLogIsNotFoundNotCreated) {
  testing::TempDir dir;
  auto reader = RocksDbEventStore::Open(
      {.path = dir.Sub("none"), .read_only = true, .secondary_path = dir.Sub("secondary")});
  EXPECT_FALSE(reader.ok());
}

}  // namespace
}  // namespace remotegpu::eventstore
