// The production EventStore: a RocksDB database laid out as key_format.h
// describes.
//
// Writes: Append hands its request to one writer thread and waits. The
// writer takes every request queued since its last commit, checks expected
// versions and event ids against the committed heads plus the earlier
// requests of the same group, and writes the whole group as one RocksDB
// WriteBatch, synced when any request in it asked for sync. So N concurrent
// appenders cost one fsync, not N, and version checks need no locks. A
// request that fails validation fails alone; a failed write fails every
// request that wrote into that group and leaves the in-memory heads, the
// next position and the hash chain where the last successful write left
// them, so the store stays usable.
//
// Reads go straight to RocksDB and see only whole groups.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "eventstore/event_store.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace remotegpu::eventstore {

// The single call that makes a group commit durable. The default writes the
// batch to the database; tests wrap it to inject failures (see
// tests/eventstore/fault_injection.h). Called only from the writer thread.
class GroupCommitSink {
 public:
  virtual ~GroupCommitSink() = default;
  virtual Status Commit(rocksdb::DB& db, rocksdb::WriteBatch& batch, bool sync) = 0;
};

// DB::Write with the given sync flag.
std::unique_ptr<GroupCommitSink> NewRocksDbCommitSink();

struct RocksDbEventStoreOptions {
  std::string path;  // Directory of the database.
  bool create_if_missing = true;
  // Both default to the system clock and a UUIDv7 generator over it. When
  // given, they must outlive the store.
  const Clock* clock = nullptr;
  IdGenerator* id_generator = nullptr;
  // Default: NewRocksDbCommitSink().
  std::unique_ptr<GroupCommitSink> commit_sink;
  // Most events written in one group commit.
  size_t max_group_events = 8192;
  // Appends waiting for the writer; further appenders block until there is
  // room, so a burst cannot grow memory without bound.
  size_t max_queued_appends = 16384;
};

class RocksDbEventStore final : public EventStore {
 public:
  // Opens (or creates) the store and recovers the next position, the stream
  // heads and the hash chain from what was durably written. Corruption when
  // the last stored event does not decode; IoError when RocksDB fails.
  static Result<std::unique_ptr<RocksDbEventStore>> Open(RocksDbEventStoreOptions options);

  // Finishes every queued append, then closes. Subscriptions must be gone.
  ~RocksDbEventStore() override;

  Result<AppendResult> Append(std::vector<StreamAppend> streams,
                              const AppendOptions& options = {}) override;
  Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id,
                                                const StreamReadOptions& options = {}) override;
  Result<std::vector<RecordedEvent>> ReadAll(uint64_t from_position, size_t max_count) override;
  Result<uint64_t> StreamHead(const std::string& stream_id) override;
  uint64_t LastPosition() const override { return last_position_.load(std::memory_order_acquire); }
  Result<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options) override;
  Status SaveSnapshot(const std::string& stream_id, const Snapshot& snapshot) override;
  Result<std::optional<Snapshot>> LoadSnapshot(const std::string& stream_id) override;
  Status SaveCheckpoint(const std::string& name, uint64_t position) override;
  Result<std::optional<uint64_t>> LoadCheckpoint(const std::string& name) override;

  // Blocks until LastPosition() >= position, the timeout passes or the store
  // closes; returns whether the position was reached.
  bool WaitForPosition(uint64_t position, std::chrono::milliseconds timeout);

  // Appends waiting for the writer thread right now (a gauge for metrics).
  size_t WriterQueueDepth();

 private:
  struct PendingAppend;
  struct GroupOverlay;
  struct StagedAppend;
  class RocksDbSubscription;

  explicit RocksDbEventStore(RocksDbEventStoreOptions options);

  Status OpenDatabase();  // rocksdb_event_store.cc
  Status Recover();

  void WriterLoop();  // rocksdb_event_store_write.cc
  void CommitGroup(std::vector<PendingAppend*>& group);
  StagedAppend Stage(PendingAppend& pending, GroupOverlay& overlay, rocksdb::WriteBatch& batch);
  Status CheckForRetry(const PendingAppend& pending, const GroupOverlay& overlay,
                       std::optional<AppendResult>* duplicate_of);
  Result<uint64_t> HeadForWrite(const std::string& stream_id, const GroupOverlay& overlay);

  Result<RecordedEvent> ReadAt(uint64_t position);  // rocksdb_event_store_read.cc

  RocksDbEventStoreOptions options_;
  const Clock* clock_;
  std::unique_ptr<IdGenerator> owned_id_generator_;
  IdGenerator* id_generator_;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // Owned; closed before db_.
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* heads_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_cf_ = nullptr;

  // Appends waiting for the writer.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // Signals the writer: work or stop.
  std::condition_variable space_cv_;  // Signals appenders: room in the queue.
  std::deque<PendingAppend*> queue_;  // Guarded by queue_mu_.
  bool stopping_ = false;             // Guarded by queue_mu_.
  std::thread writer_;

  // Owned by the writer thread (set by Open before it starts).
  uint64_t next_position_ = 1;
  Sha256Digest chain_head_{};
  std::unordered_map<std::string, uint64_t> head_cache_;  // Committed heads.

  // Published commits, for LastPosition and live subscriptions.
  std::atomic<uint64_t> last_position_{0};
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  bool closed_ = false;  // Guarded by commit_mu_.
};

}  // namespace remotegpu::eventstore
