// The read path: stream and log reads, heads, subscriptions.
#include <rocksdb/db.h>

#include "eventstore/envelope_codec.h"
#include "eventstore/key_format.h"
#include "eventstore/rocksdb_event_store.h"
#include "eventstore/rocksdb_status.h"

namespace remotegpu::eventstore {

Result<std::vector<RecordedEvent>> RocksDbEventStore::ReadStream(const std::string& stream_id,
                                                                 const StreamReadOptions& options) {
  RGPU_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  std::vector<RecordedEvent> events;
  if (options.max_count == 0) return events;
  // One snapshot for the index walk and the log reads, so a concurrent commit
  // cannot show an index entry without its event. A read-only store changes
  // only in CatchUpWithWriter (not concurrently with reads) and cannot take
  // snapshots.
  const rocksdb::Snapshot* snapshot = options_.read_only ? nullptr : db_->GetSnapshot();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  const std::string prefix = keys::StreamIndexPrefix(stream_id);
  // Index entries of written but not yet durable groups are the newest
  // versions of their streams; they are skipped.
  const uint64_t durable = LastPosition();
  auto is_durable = [&](const rocksdb::Slice& position) {
    return keys::DecodeBigEndian64(position.ToStringView()) <= durable;
  };

  std::vector<std::string> positions;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, index_cf_));
    if (options.direction == ReadDirection::kForward) {
      it->Seek(keys::StreamIndexKey(stream_id, std::max<uint64_t>(options.from_version, 1)));
      for (; it->Valid() && it->key().starts_with(prefix) && positions.size() < options.max_count &&
             is_durable(it->value());
           it->Next()) {
        positions.push_back(it->value().ToString());
      }
    } else {
      if (options.from_version == 0) {
        if (snapshot != nullptr) db_->ReleaseSnapshot(snapshot);
        return events;
      }
      it->SeekForPrev(keys::StreamIndexKey(stream_id, options.from_version));
      for (; it->Valid() && it->key().starts_with(prefix) && positions.size() < options.max_count;
           it->Prev()) {
        if (is_durable(it->value())) positions.push_back(it->value().ToString());
      }
    }
    Status walk = FromRocksDb(it->status(), "reading index of " + stream_id);
    if (!walk.ok()) {
      if (snapshot != nullptr) db_->ReleaseSnapshot(snapshot);
      return walk;
    }
  }

  std::vector<rocksdb::Slice> slices(positions.begin(), positions.end());
  std::vector<rocksdb::ColumnFamilyHandle*> families(slices.size(), log_cf_);
  std::vector<std::string> values;
  auto statuses = db_->MultiGet(read_options, families, slices, &values);
  if (snapshot != nullptr) db_->ReleaseSnapshot(snapshot);
  events.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!statuses[i].ok()) {
      return statuses[i].IsNotFound()
                 ? Status::Corruption("index of " + stream_id + " names missing position " +
                                      std::to_string(keys::DecodeBigEndian64(positions[i])))
                 : FromRocksDb(statuses[i], "reading events of " + stream_id);
    }
    auto event = DecodeEnvelope(values[i]);
    if (!event.ok()) return event.status();
    events.push_back(std::move(*event));
  }
  return events;
}

Result<std::vector<RecordedEvent>> RocksDbEventStore::ReadAll(uint64_t from_position,
                                                              size_t max_count) {
  std::vector<RecordedEvent> events;
  const uint64_t durable = LastPosition();
  if (from_position > durable) return events;
  max_count = std::min<uint64_t>(max_count, durable - std::max<uint64_t>(from_position, 1) + 1);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  for (it->Seek(keys::PositionKey(std::max<uint64_t>(from_position, 1)));
       it->Valid() && events.size() < max_count; it->Next()) {
    auto event = DecodeEnvelope(it->value().ToStringView());
    if (!event.ok()) return event.status();
    events.push_back(std::move(*event));
  }
  RGPU_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading the log"));
  return events;
}

Result<uint64_t> RocksDbEventStore::StreamHead(const std::string& stream_id) {
  RGPU_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  return HeadAtOrBefore(stream_id, LastPosition());
}

Result<uint64_t> RocksDbEventStore::HeadAtOrBefore(const std::string& stream_id,
                                                   uint64_t max_position) {
  const std::string prefix = keys::StreamIndexPrefix(stream_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), index_cf_));
  for (it->SeekForPrev(keys::StreamIndexKey(stream_id, UINT64_MAX));
       it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (keys::DecodeBigEndian64(it->value().ToStringView()) <= max_position) {
      return keys::DecodeBigEndian64(it->key().ToStringView().substr(prefix.size()));
    }
  }
  RGPU_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading head of " + stream_id));
  return uint64_t{0};
}

// Reads from its own cursor on every call: see Subscription in event_store.h.
class RocksDbEventStore::RocksDbSubscription final : public Subscription {
 public:
  RocksDbSubscription(RocksDbEventStore& store, const SubscribeOptions& options)
      : store_(store),
        cursor_(std::max<uint64_t>(options.from_position, 1)),
        max_batch_(std::max<size_t>(options.max_batch, 1)) {}

  Result<std::vector<RecordedEvent>> Next(std::chrono::milliseconds max_wait) override {
    if (closed_.load()) return Status::Unavailable("subscription is closed");
    if (store_.LastPosition() < cursor_) {
      std::unique_lock lock(store_.commit_mu_);
      store_.commit_cv_.wait_for(lock, max_wait, [&] {
        return closed_.load() || store_.closed_ || store_.LastPosition() >= cursor_;
      });
      if (closed_.load() || store_.closed_) return Status::Unavailable("subscription is closed");
    }
    if (store_.LastPosition() < cursor_) return std::vector<RecordedEvent>();
    auto events = store_.ReadAll(cursor_, max_batch_);
    if (events.ok() && !events->empty()) cursor_ = events->back().global_position + 1;
    return events;
  }

  uint64_t cursor() const override { return cursor_; }

  void Close() override {
    {
      std::lock_guard lock(store_.commit_mu_);
      closed_.store(true);
    }
    store_.commit_cv_.notify_all();
  }

 private:
  RocksDbEventStore& store_;
  uint64_t cursor_;
  const size_t max_batch_;
  std::atomic<bool> closed_{false};
};

Result<std::unique_ptr<Subscription>> RocksDbEventStore::Subscribe(
    const SubscribeOptions& options) {
  return std::unique_ptr<Subscription>(std::make_unique<RocksDbSubscription>(*this, options));
}

}  // namespace remotegpu::eventstore
