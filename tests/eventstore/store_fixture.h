// Shared set-up for event store tests: a RocksDB store in a temporary
// directory, on a manual clock and readable sequential ids.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventstore/rocksdb_event_store.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::eventstore {

inline EventData MakeEvent(std::string type, std::string payload = "{}") {
  EventData event;
  event.type = std::move(type);
  event.payload = std::move(payload);
  event.actor = {ActorKind::kUser, "user-1", "Ada"};
  return event;
}

inline StreamAppend ToStream(std::string stream_id, ExpectedVersion expected,
                             std::vector<EventData> events) {
  return StreamAppend{std::move(stream_id), expected, std::move(events)};
}

class StoreTest : public ::testing::Test {
 protected:
  static constexpr UnixMicros kStart = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z

  void SetUp() override { Reopen(); }

  RocksDbEventStoreOptions Options() {
    RocksDbEventStoreOptions options;
    options.path = dir_.Sub("events");
    options.clock = &clock_;
    options.id_generator = &ids_;
    return options;
  }

  // Closes the store (if open) and opens it again from disk.
  void Reopen(RocksDbEventStoreOptions options) {
    store_.reset();
    auto opened = RocksDbEventStore::Open(std::move(options));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  void Reopen() { Reopen(Options()); }

  // Appends one event to one stream and expects success.
  AppendResult AppendOne(const std::string& stream, ExpectedVersion expected,
                         const std::string& type = "Happened") {
    auto result = store_->Append({ToStream(stream, expected, {MakeEvent(type)})});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : AppendResult{};
  }

  std::vector<RecordedEvent> ReadAllEvents() {
    auto events = store_->ReadAll(1, 1'000'000);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    return events.ok() ? *events : std::vector<RecordedEvent>{};
  }

  testing::TempDir dir_;
  ManualClock clock_{kStart};
  SequentialIdGenerator ids_;
  std::unique_ptr<RocksDbEventStore> store_;
};

}  // namespace remotegpu::eventstore
