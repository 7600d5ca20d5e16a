// Opening, recovery and closing; snapshots and checkpoints.
#include "eventstore/rocksdb_event_store.h"

#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "eventstore/envelope_codec.h"
#include "eventstore/key_format.h"
#include "eventstore/rocksdb_event_store_internal.h"
#include "eventstore/rocksdb_status.h"

namespace remotegpu::eventstore {
namespace {

class RocksDbCommitSink final : public GroupCommitSink {
 public:
  Status Write(rocksdb::DB& db, rocksdb::WriteBatch& batch) override {
    return FromRocksDb(db.Write(rocksdb::WriteOptions(), &batch), "group write");
  }
  Status SyncWal(rocksdb::DB& db) override { return FromRocksDb(db.SyncWAL(), "WAL fsync"); }
};

// Keys of the stream index up to and including the 0x00 after the stream
// id: one stream's entries share it and arrive in version order.
class StreamIdPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "remotegpu.StreamIdPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const char* nul = static_cast<const char*>(std::memchr(key.data(), '\0', key.size()));
    return {key.data(), static_cast<size_t>(nul - key.data()) + 1};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

enum class Lookups { kRanges, kPoints };

// `insert_order`: keys that are inserted in order within each prefix it
// extracts let the memtable start every insert from where the previous one of
// the same prefix ended, instead of searching the skip list from the top.
// The log's positions and the generated UUIDv7 ids ascend overall (empty
// prefix); index keys ascend per stream.
rocksdb::ColumnFamilyOptions FamilyOptions(
    Lookups lookups, std::shared_ptr<const rocksdb::SliceTransform> insert_order,
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = 64 << 20;
  options.memtable_insert_with_hint_prefix_extractor = std::move(insert_order);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (lookups == Lookups::kPoints) {
    // Event ids are looked up for every caller-chosen id, and most lookups
    // miss: a Bloom filter answers those without a read.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = 0.02;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

std::unique_ptr<GroupCommitSink> NewRocksDbCommitSink() {
  return std::make_unique<RocksDbCommitSink>();
}

RocksDbEventStore::RocksDbEventStore(RocksDbEventStoreOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &SystemClock::Instance()) {
  if (options_.id_generator != nullptr) {
    id_generator_ = options_.id_generator;
  } else {
    owned_id_generator_ = std::make_unique<UuidV7Generator>(*clock_);
    id_generator_ = owned_id_generator_.get();
  }
  if (!options_.commit_sink) options_.commit_sink = NewRocksDbCommitSink();
}

Result<std::unique_ptr<RocksDbEventStore>> RocksDbEventStore::Open(
    RocksDbEventStoreOptions options) {
  if (options.path.empty()) return Status::InvalidArgument("event store path is empty");
  std::unique_ptr<RocksDbEventStore> store(new RocksDbEventStore(std::move(options)));
  RGPU_RETURN_IF_ERROR(store->OpenDatabase());
  RGPU_RETURN_IF_ERROR(store->Recover());
  if (store->options_.read_only) return store;  // No writer, no syncer.
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  store->syncer_ = std::thread([s = store.get()] { s->SyncLoop(); });
  return store;
}

Status RocksDbEventStore::OpenDatabase() {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options_.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // After a crash keep the longest consistent prefix of the WAL: every
  // acknowledged (synced) group is in it, a torn tail is dropped.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Reuse WAL files once their data is flushed: overwriting allocated blocks
  // lets fdatasync skip the inode update that an appending WAL needs, which
  // measured about a third off each fsync here.
  db_options.recycle_log_file_num = 4;

  auto cache = rocksdb::NewLRUCache(64 << 20);
  std::shared_ptr<const rocksdb::SliceTransform> ascending(rocksdb::NewFixedPrefixTransform(0));
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, FamilyOptions(Lookups::kPoints, nullptr, cache)},
      {keys::kLogFamily, FamilyOptions(Lookups::kRanges, ascending, cache)},
      {keys::kStreamIndexFamily,
       FamilyOptions(Lookups::kRanges, std::make_shared<StreamIdPrefix>(), cache)},
      {keys::kEventIdsFamily, FamilyOptions(Lookups::kPoints, ascending, cache)},
      {keys::kSnapshotsFamily, FamilyOptions(Lookups::kPoints, nullptr, cache)},
      {keys::kCheckpointsFamily, FamilyOptions(Lookups::kPoints, nullptr, cache)},
  };
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    if (options_.secondary_path.empty()) {
      return Status::InvalidArgument("a read-only event store needs a secondary_path");
    }
    db_options.max_open_files = -1;  // Required of a secondary instance.
    db_options.create_if_missing = false;
    s = rocksdb::DB::OpenAsSecondary(db_options, options_.path, options_.secondary_path, families,
                                     &handles_, &raw_db);
  } else {
    s = rocksdb::DB::Open(db_options, options_.path, families, &handles_, &raw_db);
  }
  if (!s.ok()) return FromRocksDb(s, "opening event store at " + options_.path);
  db_.reset(raw_db);
  log_cf_ = handles_[1];
  index_cf_ = handles_[2];
  ids_cf_ = handles_[3];
  snapshots_cf_ = handles_[4];
  checkpoints_cf_ = handles_[5];

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), keys::kFormatVersionKey, &format);
  if (s.IsNotFound() && options_.read_only) {
    return Status::NotFound("no event log at " + options_.path);
  }
  if (s.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    return FromRocksDb(db_->Put(sync, keys::kFormatVersionKey, keys::kFormatVersion),
                       "writing format version");
  }
  if (!s.ok()) return FromRocksDb(s, "reading format version");
  if (format != keys::kFormatVersion) {
    return Status::FailedPrecondition("event store at " + options_.path + " has format version " +
                                      format + "; this build reads version " +
                                      keys::kFormatVersion);
  }
  return Status::Ok();
}

Status RocksDbEventStore::CatchUpWithWriter() {
  if (!options_.read_only) return Status::Ok();
  RGPU_RETURN_IF_ERROR(FromRocksDb(db_->TryCatchUpWithPrimary(), "catching up with the writer"));
  RGPU_RETURN_IF_ERROR(Recover());
  commit_cv_.notify_all();
  return Status::Ok();
}

Status RocksDbEventStore::Recover() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  it->SeekToLast();
  RGPU_RETURN_IF_ERROR(FromRocksDb(it->status(), "seeking the end of the log"));
  if (!it->Valid()) return Status::Ok();  // Empty log: position 1, zero chain head.

  uint64_t last = keys::DecodeBigEndian64(it->key().ToStringView());
  auto event = DecodeEnvelope(it->value().ToStringView());
  if (!event.ok()) {
    return Status::Corruption("last event (position " + std::to_string(last) +
                              "): " + event.status().message());
  }
  if (event->global_position != last || ComputeEventHash(*event) != event->hash) {
    return Status::Corruption("last event (position " + std::to_string(last) +
                              ") does not match its key or its hash");
  }
  next_position_ = last + 1;
  chain_head_ = event->hash;
  last_position_.store(last, std::memory_order_release);
  return Status::Ok();
}

RocksDbEventStore::~RocksDbEventStore() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    space_cv_.notify_all();
    writer_.join();  // Writes every queued append, then tells the sync thread.
    syncer_.join();  // Answers every written append.
  }
  {
    std::lock_guard lock(commit_mu_);
    closed_ = true;
  }
  commit_cv_.notify_all();
  if (db_) {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
}

bool RocksDbEventStore::WaitForPosition(uint64_t position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(commit_mu_);
  return commit_cv_.wait_for(lock, timeout, [&] {
    return closed_ || LastPosition() >= position;
  }) && LastPosition() >= position;
}

Status RocksDbEventStore::SaveSnapshot(const std::string& stream_id, const Snapshot& snapshot) {
  RGPU_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  auto head = StreamHead(stream_id);
  if (!head.ok()) return head.status();
  if (snapshot.version == 0 || snapshot.version > *head) {
    return Status::InvalidArgument("snapshot of " + stream_id + " at version " +
                                   std::to_string(snapshot.version) + " but the stream is at " +
                                   std::to_string(*head));
  }
  std::string value;
  keys::AppendBigEndian64(&value, snapshot.version);
  value += snapshot.state;
  return FromRocksDb(db_->Put(rocksdb::WriteOptions(), snapshots_cf_, stream_id, value),
                     "saving snapshot of " + stream_id);
}

Result<std::optional<Snapshot>> RocksDbEventStore::LoadSnapshot(const std::string& stream_id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), snapshots_cf_, stream_id, &value);
  if (s.IsNotFound()) return std::optional<Snapshot>();
  if (!s.ok()) return FromRocksDb(s, "loading snapshot of " + stream_id);
  if (value.size() < 8) return Status::Corruption("snapshot of " + stream_id + " is truncated");
  return std::optional<Snapshot>(Snapshot{keys::DecodeBigEndian64(value), value.substr(8)});
}

Status RocksDbEventStore::SaveCheckpoint(const std::string& name, uint64_t position) {
  if (name.empty()) return Status::InvalidArgument("checkpoint name is empty");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocksDb(db_->Put(sync, checkpoints_cf_, name, keys::PositionKey(position)),
                     "saving checkpoint " + name);
}

Result<std::optional<uint64_t>> RocksDbEventStore::LoadCheckpoint(const std::string& name) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), checkpoints_cf_, name, &value);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok()) return FromRocksDb(s, "loading checkpoint " + name);
  if (value.size() != 8) return Status::Corruption("checkpoint " + name + " is not 8 bytes");
  return std::optional<uint64_t>(keys::DecodeBigEndian64(value));
}

}  // namespace remotegpu::eventstore
