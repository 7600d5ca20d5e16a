// The event log: the only place state changes are recorded.
//
// Every event belongs to a stream ("host-42", "env-7", …) and gets a 1-based,
// gap-free version within it and a 1-based, gap-free global position across
// the whole log. Events are chained by SHA-256 hashes (see
// domain/proto/envelope.proto). Nothing is ever updated or deleted.
//
// This header is the whole interface other folders see; implementations
// (rocksdb_event_store.h, tests' in-memory fakes) live behind it. It includes
// no protobuf or RocksDB header on purpose.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/uuid.h"

namespace remotegpu::eventstore {

enum class ActorKind { kUnspecified = 0, kUser = 1, kApiKey = 2, kAgent = 3, kSystem = 4 };

struct Actor {
  ActorKind kind = ActorKind::kUnspecified;
  std::string id;
  std::string display_name;
  bool operator==(const Actor&) const = default;
};

// An event as a caller hands it to Append.
struct EventData {
  // Nil: the store assigns a UUIDv7. A caller that may retry sets it itself,
  // so that a retry is recognised (see Append).
  Uuid event_id;
  std::string type;
  uint32_t schema_version = 1;
  // 0: the store's commit time is used.
  UnixMicros occurred_at_us = 0;
  Actor actor;
  std::string correlation_id;
  std::string causation_id;
  std::string trace_id;
  // The serialised domain event; opaque to the store.
  std::string payload;
  bool operator==(const EventData&) const = default;
};

// An event as stored.
struct RecordedEvent {
  std::string stream_id;
  uint64_t stream_version = 0;
  uint64_t global_position = 0;
  UnixMicros recorded_at_us = 0;
  EventData data;  // event_id and occurred_at_us always filled in.
  Sha256Digest prev_hash{};
  Sha256Digest hash{};
};

// What the caller believes about a stream's version before appending.
class ExpectedVersion {
 public:
  enum class Kind { kAny, kNoStream, kExists, kExact };

  static ExpectedVersion Any() { return {Kind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion Exists() { return {Kind::kExists, 0}; }
  // `version` 0 means the same as NoStream().
  static ExpectedVersion Exact(uint64_t version) { return {Kind::kExact, version}; }

  Kind kind() const { return kind_; }
  uint64_t version() const { return version_; }
  // True when a stream whose head is `actual` (0: absent) satisfies this.
  bool IsSatisfiedBy(uint64_t actual) const;
  // "any", "no_stream", "exists" or the number.
  std::string ToString() const;

 private:
  ExpectedVersion(Kind kind, uint64_t version) : kind_(kind), version_(version) {}
  Kind kind_;
  uint64_t version_;
};

// Events for one stream within an Append.
struct StreamAppend {
  std::string stream_id;
  ExpectedVersion expected = ExpectedVersion::Any();
  std::vector<EventData> events;  // At least one.
};

struct AppendOptions {
  // true: Append returns only once the events are synced to disk. false is
  // for bulk import and tests: a machine crash (not a process crash) may
  // lose the most recent unsynced appends, never a synced one.
  bool sync = true;
};

struct StreamAppendResult {
  std::string stream_id;
  uint64_t first_version = 0;
  uint64_t last_version = 0;  // The stream's head after this append.
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  std::vector<StreamAppendResult> streams;  // In request order.
  // True when every event id was already stored by an earlier identical
  // append: nothing was written and the positions are the original ones.
  bool duplicate = false;
};

enum class ReadDirection { kForward, kBackward };

struct StreamReadOptions {
  // First version returned. Forward: 1 is the start. Backward: kFromEnd (or
  // any number past the head) starts at the head.
  static constexpr uint64_t kFromEnd = UINT64_MAX;
  uint64_t from_version = 1;
  ReadDirection direction = ReadDirection::kForward;
  size_t max_count = 1000;
};

struct Snapshot {
  uint64_t version = 0;  // Stream version the state was folded up to.
  std::string state;     // Serialised aggregate state; opaque to the store.
};

// A pull-based subscription to the whole log. It first returns stored
// events from its start position (catch-up), then blocks for newly committed
// ones (live). Because every call reads the log from the subscriber's own
// cursor, the hand-over between the two phases can neither skip nor repeat an
// event, and the store never buffers on a subscriber's behalf: a slow
// subscriber only falls behind (back-pressure by construction).
//
// Thread-safety: Next is called from one thread at a time; Close may be
// called from any thread. Must be destroyed before the store.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Up to the subscription's batch size of events at the cursor, in position
  // order. Blocks up to `max_wait` while none are committed yet and returns an
  // empty vector on timeout. Unavailable once closed or once the store closes.
  virtual Result<std::vector<RecordedEvent>> Next(std::chrono::milliseconds max_wait) = 0;
  // The global position of the next event Next will return.
  virtual uint64_t cursor() const = 0;
  // Wakes a blocked Next, which then returns Unavailable.
  virtual void Close() = 0;
};

struct SubscribeOptions {
  uint64_t from_position = 1;  // First global position delivered.
  size_t max_batch = 512;      // Most events one Next returns.
};

// Receives the outcome of AppendAsync.
using AppendCallback = std::function<void(Result<AppendResult>)>;

// Thread-safety: every method may be called from any thread concurrently.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends to one or more streams atomically: either every stream's events
  // are committed, contiguously in global position in request order, or
  // none is. Each stream's expectation is checked against its head; one
  // failing check fails the whole append with a VersionConflict status
  // naming that stream, its expectation and its actual version.
  //
  // Idempotent retry: when every event id in the request is already stored
  // (in the same streams), nothing is written and the original positions
  // come back with `duplicate` set. A request mixing stored and new ids is
  // InvalidArgument. On IoError nothing of the request is committed.
  virtual Result<AppendResult> Append(std::vector<StreamAppend> streams,
                                      const AppendOptions& options = {}) = 0;

  // Append without blocking the caller's thread, for event loops: `done`
  // receives exactly what Append would return, once. It may run on the
  // calling thread (for input rejected at once, or when the store has no
  // queue: this default calls Append) or on a thread of the store, and must
  // not block: hand work to your own executor. When the store's queue is
  // full the answer is ResourceExhausted rather than a wait.
  virtual void AppendAsync(std::vector<StreamAppend> streams, const AppendOptions& options,
                           AppendCallback done);

  // Events of one stream from `options.from_version`, up to max_count, in
  // the requested direction. An absent stream reads as empty.
  virtual Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id,
                                                        const StreamReadOptions& options = {}) = 0;

  // Events of the whole log from `from_position` (1-based), up to max_count.
  virtual Result<std::vector<RecordedEvent>> ReadAll(uint64_t from_position, size_t max_count) = 0;

  // The stream's current version, or 0 when it does not exist.
  virtual Result<uint64_t> StreamHead(const std::string& stream_id) = 0;
  Result<bool> StreamExists(const std::string& stream_id);

  // Global position of the last committed event; 0 for an empty log.
  virtual uint64_t LastPosition() const = 0;

  virtual Result<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options) = 0;

  // Stores the latest snapshot of a stream, replacing an older one. The
  // version must not exceed the stream's head. Snapshots are a cache: losing
  // one costs a longer fold, never correctness.
  virtual Status SaveSnapshot(const std::string& stream_id, const Snapshot& snapshot) = 0;
  // The stream's snapshot, or nullopt when none was saved.
  virtual Result<std::optional<Snapshot>> LoadSnapshot(const std::string& stream_id) = 0;

  // Named checkpoints for consumers of the log (the Kafka relay, local
  // projections): the global position they have fully processed. Durable on
  // return.
  virtual Status SaveCheckpoint(const std::string& name, uint64_t position) = 0;
  // The checkpoint, or nullopt when it was never saved.
  virtual Result<std::optional<uint64_t>> LoadCheckpoint(const std::string& name) = 0;
};

// Checks a stream id: "<kind>-<id>", printable ASCII without spaces or NULs,
// 3 to 200 bytes. Returns InvalidArgument naming the problem otherwise.
Status ValidateStreamId(const std::string& stream_id);
// ValidateStreamId, and the id names a stream of `kind` ("host" for "host-42").
// Commands on streams that exist already check their ids with this, so ids an
// earlier version accepted keep working.
Status ValidateStreamIdOfKind(const std::string& stream_id, const std::string& kind);
// The one grammar of an id a client may choose for a new stream: "<kind>-"
// then 1 to 64 of [A-Za-z0-9_-], so an id is never URL syntax ('/', '?',
// '#', '%', '.') wherever it is spliced: a route, the agent's calls, a Docker
// Engine path. InvalidArgument naming the id otherwise. Every command that
// creates a stream under an id from outside checks it with this.
Status ValidateNewStreamId(const std::string& stream_id, const std::string& kind);
// The part after "<kind>-" under the same grammar (an order id, a request's
// own key): 1 to 64 of [A-Za-z0-9_-]. `what` names it in the message.
Status ValidateIdText(const std::string& text, const std::string& what);
inline constexpr size_t kMaxIdText = 64;

}  // namespace remotegpu::eventstore
