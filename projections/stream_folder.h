// The folded state of every stream a projector has seen, kept current as
// batches arrive. A stream first met mid-log (after a restart from a
// checkpoint) is folded from the store up to the event at hand.
#pragma once

#include <string>
#include <unordered_map>

#include "eventstore/event_store.h"

namespace remotegpu::projections {

template <typename State, typename Event, void (*ApplyFn)(State&, const Event&)>
class StreamFolder {
 public:
  struct Entry {
    State state;
    uint64_t version = 0;
    UnixMicros first_recorded_us = 0;
    UnixMicros last_recorded_us = 0;
    uint64_t position = 0;
  };

  explicit StreamFolder(eventstore::EventStore& store) : store_(store) {}

  // Folds `recorded` (whose payload is `event`) into its stream's entry and
  // returns it. Throws std::runtime_error when the store cannot supply the
  // stream's earlier events (the runner then rolls back and retries).
  Entry& Fold(const eventstore::RecordedEvent& recorded, const Event& event) {
    Entry& entry = entries_[recorded.stream_id];
    if (entry.version + 1 < recorded.stream_version) CatchUp(recorded, entry);
    if (entry.version + 1 == recorded.stream_version) {
      if (entry.version == 0) entry.first_recorded_us = recorded.recorded_at_us;
      ApplyFn(entry.state, event);
      entry.version = recorded.stream_version;
      entry.last_recorded_us = recorded.recorded_at_us;
      entry.position = recorded.global_position;
    }
    return entry;
  }

  // The entry of a stream already folded, or null.
  const Entry* Find(const std::string& stream_id) const {
    auto it = entries_.find(stream_id);
    return it == entries_.end() ? nullptr : &it->second;
  }

  void Clear() { entries_.clear(); }

 private:
  void CatchUp(const eventstore::RecordedEvent& recorded, Entry& entry) {
    auto earlier = store_.ReadStream(
        recorded.stream_id,
        {.from_version = entry.version + 1,
         .max_count = static_cast<size_t>(recorded.stream_version - entry.version - 1)});
    if (!earlier.ok()) throw std::runtime_error(earlier.status().ToString());
    for (const auto& e : *earlier) {
      Event parsed;
      if (!parsed.ParseFromString(e.data.payload)) {
        throw std::runtime_error("event " + std::to_string(e.global_position) + " does not parse");
      }
      if (entry.version == 0) entry.first_recorded_us = e.recorded_at_us;
      ApplyFn(entry.state, parsed);
      entry.version = e.stream_version;
    }
  }

  eventstore::EventStore& store_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace remotegpu::projections
