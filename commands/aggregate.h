// Loading aggregates from the log and turning decided events into appends.
//
// Each aggregate's state is folded from its stream. AggregateCache keeps the
// last folded state and version of every stream it has seen (an in-memory
// snapshot) and reads only the tail on the next load, so a host stream with
// thousands of allocations costs one short read, not a full fold.
//
// Traits: a struct with `State`, `Event` (a protobuf with a `oneof event`),
// and `static void Apply(State&, const Event&)`.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "eventstore/event_store.h"

namespace remotegpu::commands {

// Who and why, carried onto every event a command produces.
struct CommandMeta {
  eventstore::Actor actor;
  std::string correlation_id;
  std::string causation_id;
  std::string trace_id;
};

// The name of the event set in a `oneof event` wrapper: "HostRegistered".
std::string EventTypeName(const google::protobuf::Message& wrapper);

// One event as EventData of `type`, with the command's metadata.
eventstore::EventData EventDataOf(const google::protobuf::Message& event, std::string type,
                                  const CommandMeta& meta, UnixMicros now_us);

// Wraps decided events into EventData with the command's metadata.
template <typename Event>
std::vector<eventstore::EventData> ToEventData(const std::vector<Event>& events,
                                               const CommandMeta& meta, UnixMicros now_us) {
  std::vector<eventstore::EventData> out;
  out.reserve(events.size());
  for (const Event& event : events) {
    out.push_back(EventDataOf(event, EventTypeName(event), meta, now_us));
  }
  return out;
}

// The domain event inside `recorded`; Corruption when it does not parse.
template <typename Event>
Result<Event> ParseRecorded(const eventstore::RecordedEvent& recorded) {
  Event event;
  if (!event.ParseFromString(recorded.data.payload)) {
    return Status::Corruption("event " + std::to_string(recorded.stream_version) + " of " +
                              recorded.stream_id + " (position " +
                              std::to_string(recorded.global_position) + ") does not parse as " +
                              event.GetDescriptor()->name());
  }
  return event;
}

template <typename Traits>
struct Loaded {
  typename Traits::State state;
  uint64_t version = 0;  // 0: the stream does not exist.
};

// Thread-safe.
template <typename Traits>
class AggregateCache {
 public:
  static constexpr size_t kMaxEntries = 200'000;

  explicit AggregateCache(eventstore::EventStore& store) : store_(store) {}

  // The stream's current state: the cached fold plus whatever the log has
  // after it. Corruption when a payload does not parse.
  Result<Loaded<Traits>> Load(const std::string& stream_id) {
    Loaded<Traits> loaded;
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(stream_id); it != cache_.end()) loaded = it->second;
    }
    while (true) {
      auto events =
          store_.ReadStream(stream_id, {.from_version = loaded.version + 1, .max_count = 1000});
      if (!events.ok()) return events.status();
      for (const auto& recorded : *events) {
        auto event = ParseRecorded<typename Traits::Event>(recorded);
        if (!event.ok()) return event.status();
        Traits::Apply(loaded.state, *event);
        loaded.version = recorded.stream_version;
      }
      if (events->size() < 1000) break;
    }
    Remember(stream_id, loaded);
    return loaded;
  }

  // Records a state the caller folded itself after a successful append, if
  // it is newer than what the cache has.
  void Remember(const std::string& stream_id, const Loaded<Traits>& loaded) {
    std::lock_guard lock(mu_);
    if (cache_.size() >= kMaxEntries) cache_.clear();
    auto& entry = cache_[stream_id];
    if (loaded.version >= entry.version) entry = loaded;
  }

 private:
  eventstore::EventStore& store_;
  std::mutex mu_;
  std::unordered_map<std::string, Loaded<Traits>> cache_;  // Guarded by mu_.
};

}  // namespace remotegpu::commands
