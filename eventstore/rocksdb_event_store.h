// The production EventStore: a RocksDB database laid out as key_format.h
// describes.
//
// Writes go through a two-stage pipeline:
//
//  1. The writer thread takes every append queued since its last round,
//     checks expected versions and event ids against the heads written so
//     far plus the earlier requests of the same group, and writes the whole
//     group as one RocksDB WriteBatch (memtable and WAL, not yet synced).
//     Version checks need no locks: this thread is the only one that decides.
//  2. The sync thread takes every group written since its last round, makes
//     them durable with one WAL fsync, publishes the new last position and
//     answers the appenders.
//
// So N concurrent appenders cost one fsync, not N, and the fsync of one
// round overlaps the version checks and memtable writes of the next.
//
// Failures: a request that fails validation fails alone. A failed group
// write fails every request in that group and leaves the next position, the
// heads and the hash chain where the last successful write left them; the
// store stays usable. A failed fsync is different: what the kernel did with
// the unsynced data is unknown (PostgreSQL's "fsyncgate"), so the store
// fails every append after it until it is reopened, which recovers the log
// from what RocksDB finds on disk.
//
// Reads go straight to RocksDB but stop at the last durable position: no
// reader, subscriber or StreamHead ever sees an event before its append was
// acknowledged as durable (or, for unsynced appends, acknowledged at all).
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

// The two calls that make a group commit durable. The default writes to and
// syncs the database; tests wrap it to inject failures (see
// tests/eventstore/fault_injection.h). Write is called only from the writer
// thread, SyncWal only from the sync thread.
class GroupCommitSink {
 public:
  virtual ~GroupCommitSink() = default;
  // Applies the batch atomically, without waiting for the disk.
  virtual Status Write(rocksdb::DB& db, rocksdb::WriteBatch& batch) = 0;
  // Makes every batch written so far durable.
  virtual Status SyncWal(rocksdb::DB& db) = 0;
};

// DB::Write and DB::SyncWAL.
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
  // Read-only beside a running writer (a RocksDB secondary instance, which
  // takes no lock): for the replay tools while the server runs. Appends
  // answer FailedPrecondition; CatchUpWithWriter sees newer events. The
  // secondary keeps its own small files in `secondary_path` (required).
  bool read_only = false;
  std::string secondary_path;
};

// Counters since open, for metrics and benchmarks.
struct WriterStats {
  uint64_t group_writes = 0;  // RocksDB writes (one per group with at least one event).
  uint64_t wal_syncs = 0;     // fsyncs; each covers every group written before it.
  uint64_t appends = 0;       // Appends answered, whatever the outcome.
  uint64_t events = 0;        // Events written.
  uint64_t write_micros = 0;  // Time inside group writes.
  uint64_t sync_micros = 0;   // Time inside fsyncs.
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
  // `done` runs on the store's writer or sync thread (or at once on the
  // caller's for rejected input or a full queue).
  void AppendAsync(std::vector<StreamAppend> streams, const AppendOptions& options,
                   AppendCallback done) override;
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

  // Read-only stores: reads what the writer has flushed or logged since the
  // last call, so that LastPosition and reads move forward.
  Status CatchUpWithWriter();

  // Appends waiting for the writer thread right now (a gauge for metrics).
  size_t WriterQueueDepth();
  WriterStats Stats() const;

 private:
  struct PendingAppend;
  struct GroupOverlay;
  struct StagedAppend;
  struct WrittenGroup;
  class RocksDbSubscription;

  explicit RocksDbEventStore(RocksDbEventStoreOptions options);

  Status OpenDatabase();  // rocksdb_event_store.cc
  Status Recover();

  // Queues an append; with `wait_for_space`, blocks while the queue is full,
  // else answers ResourceExhausted. rocksdb_event_store_write.cc.
  Status Enqueue(std::vector<StreamAppend> streams, const AppendOptions& options,
                 AppendCallback done, bool wait_for_space);
  // Calls the append's callback once, after releasing the append.
  static void Answer(std::unique_ptr<PendingAppend> pending, Result<AppendResult> result);
  void WriterLoop();
  void WriteGroup(std::vector<std::unique_ptr<PendingAppend>>& group);
  StagedAppend Stage(PendingAppend& pending, GroupOverlay& overlay, rocksdb::WriteBatch& batch);
  Status CheckForRetry(const PendingAppend& pending, const GroupOverlay& overlay,
                       std::optional<AppendResult>* duplicate_of);
  Result<uint64_t> HeadForWrite(const std::string& stream_id, const GroupOverlay& overlay);
  void SyncLoop();
  void PublishAndAnswer(std::deque<WrittenGroup>& groups);

  // The highest version of the stream whose position is at most
  // `max_position` (0 when none); rocksdb_event_store_read.cc.
  Result<uint64_t> HeadAtOrBefore(const std::string& stream_id, uint64_t max_position);

  RocksDbEventStoreOptions options_;
  const Clock* clock_;
  std::unique_ptr<IdGenerator> owned_id_generator_;
  IdGenerator* id_generator_;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // Owned; closed before db_.
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_cf_ = nullptr;

  // Stage 1: appends waiting for the writer.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;                  // Signals the writer: work or stop.
  std::condition_variable space_cv_;                  // Signals appenders: room in the queue.
  std::deque<std::unique_ptr<PendingAppend>> queue_;  // Guarded by queue_mu_.
  bool stopping_ = false;                             // Guarded by queue_mu_.
  std::thread writer_;

  // Owned by the writer thread (set by Open before it starts). They include
  // written groups that are not yet synced.
  uint64_t next_position_ = 1;
  Sha256Digest chain_head_{};
  std::unordered_map<std::string, uint64_t> head_cache_;

  // Stage 2: written groups waiting for the sync thread.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<WrittenGroup> written_;  // Guarded by sync_mu_.
  bool writer_done_ = false;          // Guarded by sync_mu_.
  Status sync_failure_;               // Guarded by sync_mu_; sticky.
  std::thread syncer_;

  std::atomic<uint64_t> stat_group_writes_{0};
  std::atomic<uint64_t> stat_wal_syncs_{0};
  std::atomic<uint64_t> stat_appends_{0};
  std::atomic<uint64_t> stat_events_{0};
  std::atomic<uint64_t> stat_write_micros_{0};
  std::atomic<uint64_t> stat_sync_micros_{0};

  // Durable commits, published for readers and live subscriptions.
  std::atomic<uint64_t> last_position_{0};
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  bool closed_ = false;  // Guarded by commit_mu_.
};

}  // namespace remotegpu::eventstore
