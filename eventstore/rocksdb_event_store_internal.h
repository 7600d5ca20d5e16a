// The records RocksDbEventStore's two write stages pass between threads.
// Internal to rocksdb_event_store*.cc.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eventstore/rocksdb_event_store.h"

namespace remotegpu::eventstore {

struct RocksDbEventStore::PendingAppend {
  std::vector<StreamAppend> streams;
  AppendOptions options;
  size_t event_count = 0;
  AppendCallback done;
};

// What the requests staged so far in the current group have changed; it
// becomes the writer's state only if the group's write succeeds.
struct RocksDbEventStore::GroupOverlay {
  struct StoredId {
    std::string stream_id;
    uint64_t position;
    uint64_t version;
  };
  uint64_t next_position;
  Sha256Digest chain_head;
  std::unordered_map<std::string, uint64_t> heads;
  std::unordered_map<Uuid, StoredId, UuidHash> ids;
};

struct RocksDbEventStore::StagedAppend {
  Result<AppendResult> result;
  // True when the result holds only once the group is written and synced.
  bool depends_on_commit = false;
};

// A group that is written but not yet answered: the sync thread's work.
struct RocksDbEventStore::WrittenGroup {
  std::vector<std::pair<std::unique_ptr<PendingAppend>, Result<AppendResult>>> appends;
  uint64_t last_position;  // Of the whole log once this group is durable.
  bool needs_sync;
};

}  // namespace remotegpu::eventstore
