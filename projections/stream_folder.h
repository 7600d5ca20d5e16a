// The folded state of every stream a projector has seen, kept current as
// batches arrive. A stream first met mid-log (after a restart from a
// checkpoint) is folded from the store up to the event at hand; a folder
// without a store (a projection worker fed from Kafka) must be shown every
// stream from its first event, through Warm or Fold.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eventstore/event_store.h"

namespace remotegpu::projections {

// The domain event inside `recorded`. Throws std::runtime_error when the
// payload does not parse (the runner rolls the batch back and retries).
template <typename Event>
Event ParseEvent(const eventstore::RecordedEvent& recorded) {
  Event event;
  if (!event.ParseFromString(recorded.data.payload)) {
    throw std::runtime_error("event at position " + std::to_string(recorded.global_position) +
                             " (" + recorded.stream_id + ") does not parse");
  }
  return event;
}

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

  // `history`, when not null, supplies a stream's earlier events.
  explicit StreamFolder(eventstore::EventStore* history) : history_(history) {}

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

  // Folds the events of streams starting with `prefix`, writing nothing:
  // how a projection worker learns the states of streams it already applied.
  void Warm(const std::vector<eventstore::RecordedEvent>& events, std::string_view prefix) {
    for (const auto& recorded : events) {
      if (recorded.stream_id.starts_with(prefix)) Fold(recorded, ParseEvent<Event>(recorded));
    }
  }

  // The entry of a stream already folded, or null.
  const Entry* Find(const std::string& stream_id) const {
    auto it = entries_.find(stream_id);
    return it == entries_.end() ? nullptr : &it->second;
  }

  void Clear() { entries_.clear(); }

 private:
  void CatchUp(const eventstore::RecordedEvent& recorded, Entry& entry) {
    if (history_ == nullptr) {
      throw std::runtime_error("stream " + recorded.stream_id + " version " +
                               std::to_string(recorded.stream_version) + " arrived after version " +
                               std::to_string(entry.version) +
                               ": the source does not hold the stream's earlier events");
    }
    auto earlier = history_->ReadStream(
        recorded.stream_id,
        {.from_version = entry.version + 1,
         .max_count = static_cast<size_t>(recorded.stream_version - entry.version - 1)});
    if (!earlier.ok()) throw std::runtime_error(earlier.status().ToString());
    for (const auto& e : *earlier) {
      const Event parsed = ParseEvent<Event>(e);
      if (entry.version == 0) entry.first_recorded_us = e.recorded_at_us;
      ApplyFn(entry.state, parsed);
      entry.version = e.stream_version;
    }
  }

  eventstore::EventStore* history_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace remotegpu::projections
