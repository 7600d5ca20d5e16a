// The write path: Append, the writer thread and group commit.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <future>
#include <unordered_set>

#include "eventstore/envelope_codec.h"
#include "eventstore/key_format.h"
#include "eventstore/rocksdb_event_store.h"
#include "eventstore/rocksdb_status.h"

namespace remotegpu::eventstore {
namespace {

// Bounds the writer's cache of committed stream heads; past it the cache
// starts over and heads are read back from RocksDB as needed.
constexpr size_t kMaxCachedHeads = 1 << 20;

Status ValidateRequest(const std::vector<StreamAppend>& streams) {
  if (streams.empty()) return Status::InvalidArgument("append names no stream");
  std::unordered_set<std::string_view> stream_ids;
  std::unordered_set<Uuid, UuidHash> event_ids;
  for (const auto& stream : streams) {
    RGPU_RETURN_IF_ERROR(ValidateStreamId(stream.stream_id));
    if (!stream_ids.insert(stream.stream_id).second) {
      return Status::InvalidArgument("stream " + stream.stream_id +
                                     " appears twice in one append; put its events in one entry");
    }
    if (stream.events.empty()) {
      return Status::InvalidArgument("append to " + stream.stream_id + " has no events");
    }
    for (const auto& event : stream.events) {
      if (event.type.empty()) {
        return Status::InvalidArgument("an event for " + stream.stream_id + " has no type");
      }
      if (!event.event_id.IsNil() && !event_ids.insert(event.event_id).second) {
        return Status::InvalidArgument("event id " + event.event_id.ToString() +
                                       " appears twice in one append");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

struct RocksDbEventStore::PendingAppend {
  std::vector<StreamAppend> streams;
  AppendOptions options;
  size_t event_count = 0;
  std::promise<Result<AppendResult>> done;
};

// What the requests staged so far in the current group have changed; it
// becomes the committed state only if the group's write succeeds.
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
  // True when the result holds only if the group's write succeeds.
  bool depends_on_commit = false;
};

Result<AppendResult> RocksDbEventStore::Append(std::vector<StreamAppend> streams,
                                               const AppendOptions& options) {
  RGPU_RETURN_IF_ERROR(ValidateRequest(streams));
  PendingAppend pending;
  for (const auto& stream : streams) pending.event_count += stream.events.size();
  pending.streams = std::move(streams);
  pending.options = options;
  auto done = pending.done.get_future();
  {
    std::unique_lock lock(queue_mu_);
    space_cv_.wait(lock, [&] { return stopping_ || queue_.size() < options_.max_queued_appends; });
    if (stopping_) return Status::Unavailable("event store is closing");
    queue_.push_back(&pending);
  }
  queue_cv_.notify_one();
  return done.get();
}

size_t RocksDbEventStore::WriterQueueDepth() {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

void RocksDbEventStore::WriterLoop() {
  std::vector<PendingAppend*> group;
  while (true) {
    group.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // Stopping, and every queued append is answered.
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front()->event_count <= options_.max_group_events)) {
        events += queue_.front()->event_count;
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    space_cv_.notify_all();
    CommitGroup(group);
  }
}

void RocksDbEventStore::CommitGroup(std::vector<PendingAppend*>& group) {
  GroupOverlay overlay{next_position_, chain_head_, {}, {}};
  rocksdb::WriteBatch batch;
  std::vector<StagedAppend> staged;
  staged.reserve(group.size());
  bool sync = false;
  for (PendingAppend* pending : group) {
    staged.push_back(Stage(*pending, overlay, batch));
    if (staged.back().depends_on_commit) sync |= pending->options.sync;
  }

  Status write_status;
  if (batch.Count() > 0) {
    write_status = options_.commit_sink->Commit(*db_, batch, sync);
    if (write_status.ok()) {
      next_position_ = overlay.next_position;
      chain_head_ = overlay.chain_head;
      if (head_cache_.size() + overlay.heads.size() > kMaxCachedHeads) head_cache_.clear();
      for (auto& [stream_id, head] : overlay.heads) head_cache_[stream_id] = head;
      {
        std::lock_guard lock(commit_mu_);
        last_position_.store(next_position_ - 1, std::memory_order_release);
      }
      commit_cv_.notify_all();
    } else {
      spdlog::error("event store: group commit of {} appends failed, none committed: {}",
                    group.size(), write_status.ToString());
    }
  }
  // After set_value the appender may destroy its PendingAppend: touch nothing after.
  for (size_t i = 0; i < group.size(); ++i) {
    if (!write_status.ok() && staged[i].depends_on_commit) {
      group[i]->done.set_value(write_status);
    } else {
      group[i]->done.set_value(std::move(staged[i].result));
    }
  }
}

RocksDbEventStore::StagedAppend RocksDbEventStore::Stage(PendingAppend& pending,
                                                         GroupOverlay& overlay,
                                                         rocksdb::WriteBatch& batch) {
  std::optional<AppendResult> duplicate_of;
  Status retry = CheckForRetry(pending, overlay, &duplicate_of);
  if (!retry.ok()) return {retry, false};
  if (duplicate_of) {
    bool in_this_group = duplicate_of->last_position >= next_position_;
    return {std::move(*duplicate_of), in_this_group};
  }

  std::vector<uint64_t> heads;
  heads.reserve(pending.streams.size());
  for (const auto& stream : pending.streams) {
    auto head = HeadForWrite(stream.stream_id, overlay);
    if (!head.ok()) return {head.status(), false};
    if (!stream.expected.IsSatisfiedBy(*head)) {
      return {Status::Conflict({stream.stream_id, stream.expected.ToString(), *head}), false};
    }
    heads.push_back(*head);
  }

  const UnixMicros now = clock_->NowMicros();
  AppendResult result;
  result.first_position = overlay.next_position;
  for (size_t i = 0; i < pending.streams.size(); ++i) {
    StreamAppend& stream = pending.streams[i];
    result.streams.push_back({stream.stream_id, heads[i] + 1, heads[i] + stream.events.size()});
    for (EventData& data : stream.events) {
      RecordedEvent event;
      event.stream_id = stream.stream_id;
      event.stream_version = ++heads[i];
      event.global_position = overlay.next_position++;
      event.recorded_at_us = now;
      event.data = std::move(data);
      if (event.data.event_id.IsNil()) event.data.event_id = id_generator_->NewId();
      if (event.data.occurred_at_us == 0) event.data.occurred_at_us = now;
      event.prev_hash = overlay.chain_head;
      std::string value = SealAndEncode(&event);
      overlay.chain_head = event.hash;

      const std::string position_key = keys::PositionKey(event.global_position);
      batch.Put(log_cf_, position_key, value);
      batch.Put(index_cf_, keys::StreamIndexKey(stream.stream_id, event.stream_version),
                position_key);
      batch.Put(ids_cf_, event.data.event_id.Raw(),
                keys::EventIdValue(event.global_position, event.stream_version));
      overlay.ids[event.data.event_id] = {stream.stream_id, event.global_position,
                                          event.stream_version};
    }
    batch.Put(heads_cf_, stream.stream_id, keys::PositionKey(heads[i]));
    overlay.heads[stream.stream_id] = heads[i];
  }
  result.last_position = overlay.next_position - 1;
  return {std::move(result), true};
}

// Recognises a resent append: when every event id is already stored in the
// streams the request names, *duplicate_of receives the original result.
Status RocksDbEventStore::CheckForRetry(const PendingAppend& pending, const GroupOverlay& overlay,
                                        std::optional<AppendResult>* duplicate_of) {
  // Look every caller-chosen id up: first among this group's writes, then in RocksDB.
  std::vector<const EventData*> events;
  std::vector<std::string> keys_to_read;
  for (const auto& stream : pending.streams) {
    for (const auto& event : stream.events) {
      if (event.event_id.IsNil()) continue;
      events.push_back(&event);
      if (!overlay.ids.contains(event.event_id)) keys_to_read.emplace_back(event.event_id.Raw());
    }
  }
  if (events.empty()) return Status::Ok();

  std::unordered_map<std::string, std::string> stored;  // Raw id -> id value.
  if (!keys_to_read.empty()) {
    std::vector<rocksdb::Slice> slices(keys_to_read.begin(), keys_to_read.end());
    std::vector<std::string> values;
    std::vector<rocksdb::ColumnFamilyHandle*> families(slices.size(), ids_cf_);
    auto statuses = db_->MultiGet(rocksdb::ReadOptions(), families, slices, &values);
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (statuses[i].ok()) {
        stored.emplace(keys_to_read[i], std::move(values[i]));
      } else if (!statuses[i].IsNotFound()) {
        return FromRocksDb(statuses[i], "looking up event ids");
      }
    }
  }
  size_t found = (events.size() - keys_to_read.size()) + stored.size();
  if (found == 0) return Status::Ok();
  if (found != pending.event_count) {
    return Status::InvalidArgument(
        "append mixes " + std::to_string(found) + " already stored event ids with " +
        std::to_string(pending.event_count - found) +
        " new events; a retry must resend exactly the original events");
  }

  AppendResult result;
  result.duplicate = true;
  result.first_position = UINT64_MAX;
  for (const auto& stream : pending.streams) {
    StreamAppendResult stream_result{stream.stream_id, UINT64_MAX, 0};
    for (const auto& event : stream.events) {
      uint64_t position, version;
      bool in_stream;
      if (auto it = overlay.ids.find(event.event_id); it != overlay.ids.end()) {
        position = it->second.position;
        version = it->second.version;
        in_stream = it->second.stream_id == stream.stream_id;
      } else {
        const std::string& value = stored.at(std::string(event.event_id.Raw()));
        if (value.size() != 16) return Status::Corruption("event id entry is not 16 bytes");
        position = keys::DecodeBigEndian64(value);
        version = keys::DecodeBigEndian64(std::string_view(value).substr(8));
        std::string indexed;
        rocksdb::Status s =
            db_->Get(rocksdb::ReadOptions(), index_cf_,
                     keys::StreamIndexKey(stream.stream_id, version), &indexed);
        if (!s.ok() && !s.IsNotFound()) return FromRocksDb(s, "checking a resent event");
        in_stream = s.ok() && indexed == keys::PositionKey(position);
      }
      if (!in_stream) {
        return Status::InvalidArgument("event id " + event.event_id.ToString() +
                                       " is already stored in another stream than " +
                                       stream.stream_id);
      }
      stream_result.first_version = std::min(stream_result.first_version, version);
      stream_result.last_version = std::max(stream_result.last_version, version);
      result.first_position = std::min(result.first_position, position);
      result.last_position = std::max(result.last_position, position);
    }
    result.streams.push_back(std::move(stream_result));
  }
  *duplicate_of = std::move(result);
  return Status::Ok();
}

Result<uint64_t> RocksDbEventStore::HeadForWrite(const std::string& stream_id,
                                                 const GroupOverlay& overlay) {
  if (auto it = overlay.heads.find(stream_id); it != overlay.heads.end()) return it->second;
  if (auto it = head_cache_.find(stream_id); it != head_cache_.end()) return it->second;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), heads_cf_, stream_id, &value);
  uint64_t head = 0;
  if (s.ok()) {
    if (value.size() != 8) return Status::Corruption("head of " + stream_id + " is not 8 bytes");
    head = keys::DecodeBigEndian64(value);
  } else if (!s.IsNotFound()) {
    return FromRocksDb(s, "reading head of " + stream_id);
  }
  if (head_cache_.size() >= kMaxCachedHeads) head_cache_.clear();
  head_cache_[stream_id] = head;
  return head;
}

}  // namespace remotegpu::eventstore
