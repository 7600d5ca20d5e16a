// The write path: Append, the writer thread and group commit.
#include <chrono>
#include <future>
#include <unordered_set>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "eventstore/envelope_codec.h"
#include "eventstore/key_format.h"
#include "eventstore/rocksdb_event_store.h"
#include "eventstore/rocksdb_event_store_internal.h"
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

Result<AppendResult> RocksDbEventStore::Append(std::vector<StreamAppend> streams,
                                               const AppendOptions& options) {
  std::promise<Result<AppendResult>> answer;
  auto answered = answer.get_future();
  Status queued = Enqueue(
      std::move(streams), options,
      [&answer](Result<AppendResult> result) { answer.set_value(std::move(result)); },
      /*wait_for_space=*/true);
  if (!queued.ok()) return queued;
  return answered.get();
}

void RocksDbEventStore::AppendAsync(std::vector<StreamAppend> streams, const AppendOptions& options,
                                    AppendCallback done) {
  // Enqueue takes `done` only when it succeeds.
  Status queued = Enqueue(std::move(streams), options, done, /*wait_for_space=*/false);
  if (!queued.ok()) done(std::move(queued));
}

Status RocksDbEventStore::Enqueue(std::vector<StreamAppend> streams, const AppendOptions& options,
                                  AppendCallback done, bool wait_for_space) {
  if (options_.read_only) {
    return Status::FailedPrecondition("the event store is open read-only");
  }
  RGPU_RETURN_IF_ERROR(ValidateRequest(streams));
  auto pending = std::make_unique<PendingAppend>();
  for (const auto& stream : streams) pending->event_count += stream.events.size();
  pending->streams = std::move(streams);
  pending->options = options;
  pending->done = std::move(done);
  {
    std::unique_lock lock(queue_mu_);
    if (wait_for_space) {
      space_cv_.wait(lock,
                     [&] { return stopping_ || queue_.size() < options_.max_queued_appends; });
    }
    if (stopping_) return Status::Unavailable("event store is closing");
    if (queue_.size() >= options_.max_queued_appends) {
      return Status::ResourceExhausted("event store write queue is full (" +
                                       std::to_string(queue_.size()) + " appends); retry later");
    }
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return Status::Ok();
}

void RocksDbEventStore::Answer(std::unique_ptr<PendingAppend> pending,
                               Result<AppendResult> result) {
  AppendCallback done = std::move(pending->done);
  pending.reset();
  done(std::move(result));
}

WriterStats RocksDbEventStore::Stats() const {
  return {stat_group_writes_.load(), stat_wal_syncs_.load(),    stat_appends_.load(),
          stat_events_.load(),       stat_write_micros_.load(), stat_sync_micros_.load()};
}

size_t RocksDbEventStore::WriterQueueDepth() {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

void RocksDbEventStore::WriterLoop() {
  std::vector<std::unique_ptr<PendingAppend>> group;
  while (true) {
    group.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // Stopping, and every queued append is written.
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front()->event_count <= options_.max_group_events)) {
        events += queue_.front()->event_count;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    space_cv_.notify_all();
    WriteGroup(group);
  }
  {
    std::lock_guard lock(sync_mu_);
    writer_done_ = true;
  }
  sync_cv_.notify_one();
}

void RocksDbEventStore::WriteGroup(std::vector<std::unique_ptr<PendingAppend>>& group) {
  Status refused;
  {
    std::lock_guard lock(sync_mu_);
    refused = sync_failure_;
  }
  if (!refused.ok()) {
    for (auto& pending : group) {
      Answer(std::move(pending), Status(refused.code(),
                                        "the event store stopped writing after a failed fsync; "
                                        "reopen it (" +
                                            refused.message() + ")"));
    }
    stat_appends_ += group.size();
    return;
  }

  GroupOverlay overlay{next_position_, chain_head_, {}, {}};
  rocksdb::WriteBatch batch;
  std::vector<StagedAppend> staged;
  staged.reserve(group.size());
  for (auto& pending : group) staged.push_back(Stage(*pending, overlay, batch));

  Status write_status;
  if (batch.Count() > 0) {
    auto write_start = std::chrono::steady_clock::now();
    write_status = options_.commit_sink->Write(*db_, batch);
    stat_write_micros_ += std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - write_start)
                              .count();
    stat_group_writes_.fetch_add(1, std::memory_order_relaxed);
    if (write_status.ok()) {
      stat_events_ += overlay.next_position - next_position_;
      next_position_ = overlay.next_position;
      chain_head_ = overlay.chain_head;
      if (head_cache_.size() + overlay.heads.size() > kMaxCachedHeads) head_cache_.clear();
      for (auto& [stream_id, head] : overlay.heads) head_cache_[stream_id] = head;
    } else {
      spdlog::error("event store: writing a group of {} appends failed, none committed: {}",
                    group.size(), write_status.ToString());
    }
  }

  // Answer now what does not wait for the disk; hand the rest to the sync
  // thread.
  WrittenGroup written{{}, next_position_ - 1, false};
  for (size_t i = 0; i < group.size(); ++i) {
    if (!staged[i].depends_on_commit) {
      Answer(std::move(group[i]), std::move(staged[i].result));
      ++stat_appends_;
    } else if (!write_status.ok()) {
      Answer(std::move(group[i]), write_status);
      ++stat_appends_;
    } else {
      written.needs_sync |= group[i]->options.sync;
      written.appends.emplace_back(std::move(group[i]), std::move(staged[i].result));
    }
  }
  if (written.appends.empty()) return;
  {
    std::lock_guard lock(sync_mu_);
    written_.push_back(std::move(written));
  }
  sync_cv_.notify_one();
}

void RocksDbEventStore::SyncLoop() {
  std::deque<WrittenGroup> groups;
  while (true) {
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return writer_done_ || !written_.empty(); });
      if (written_.empty()) return;  // The writer is done and everything is answered.
      groups.swap(written_);
    }
    PublishAndAnswer(groups);
    groups.clear();
  }
}

// Makes `groups` durable with one fsync (when any append asked for it),
// publishes the new last position and answers their appends.
void RocksDbEventStore::PublishAndAnswer(std::deque<WrittenGroup>& groups) {
  bool needs_sync = false;
  for (const auto& group : groups) needs_sync |= group.needs_sync;
  Status status;
  {
    std::lock_guard lock(sync_mu_);
    status = sync_failure_;
  }
  if (status.ok() && needs_sync) {
    auto sync_start = std::chrono::steady_clock::now();
    status = options_.commit_sink->SyncWal(*db_);
    stat_sync_micros_ += std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - sync_start)
                             .count();
    ++stat_wal_syncs_;
    if (!status.ok()) {
      spdlog::error("event store: WAL fsync failed; refusing writes until reopened: {}",
                    status.ToString());
      std::lock_guard lock(sync_mu_);
      sync_failure_ = status;
    }
  }
  if (status.ok()) {
    {
      std::lock_guard lock(commit_mu_);
      last_position_.store(groups.back().last_position, std::memory_order_release);
    }
    commit_cv_.notify_all();
  }
  for (auto& group : groups) {
    for (auto& [pending, result] : group.appends) {
      Answer(std::move(pending), status.ok() ? std::move(result) : Result<AppendResult>(status));
    }
    stat_appends_ += group.appends.size();
  }
}

RocksDbEventStore::StagedAppend RocksDbEventStore::Stage(PendingAppend& pending,
                                                         GroupOverlay& overlay,
                                                         rocksdb::WriteBatch& batch) {
  std::optional<AppendResult> duplicate_of;
  Status retry = CheckForRetry(pending, overlay, &duplicate_of);
  if (!retry.ok()) return {retry, false};
  if (duplicate_of) {
    // Answered in order behind the groups before it, so never before the
    // original append is durable.
    return {std::move(*duplicate_of), true};
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
    return Status::InvalidArgument("append mixes " + std::to_string(found) +
                                   " already stored event ids with " +
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
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), index_cf_,
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
  // Everything written so far counts, synced or not: it is ahead in the WAL.
  auto head = HeadAtOrBefore(stream_id, UINT64_MAX);
  if (!head.ok()) return head;
  if (head_cache_.size() >= kMaxCachedHeads) head_cache_.clear();
  head_cache_[stream_id] = *head;
  return head;
}

}  // namespace remotegpu::eventstore
