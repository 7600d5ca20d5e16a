// An aggregate's state at a moment of its history, folded from its stream
// with the same domain Apply the command side uses: time travel, diffs and
// field-level history for hosts, environments, leases and policies.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/event_store.h"

namespace remotegpu::queries {

// Which events count: those with version <= max_version, position <=
// max_position and recorded at or before max_time_us.
struct Moment {
  uint64_t max_version = std::numeric_limits<uint64_t>::max();
  uint64_t max_position = std::numeric_limits<uint64_t>::max();
  UnixMicros max_time_us = std::numeric_limits<UnixMicros>::max();
};

// Parses "N" (a log position), "vN" (the stream's version N) or an RFC 3339
// time ("2026-11-22T09:30:00Z", fractional seconds and a numeric offset
// allowed) into a Moment.
Result<Moment> ParseMoment(const std::string& text);

struct StreamState {
  uint64_t version = 0;   // 0: the stream had no events yet at that moment.
  uint64_t position = 0;  // Of the last event folded.
  UnixMicros recorded_at_us = 0;
  nlohmann::json state;  // The aggregate as JSON.
};

// {<id_key>: stream_id, version, position, recorded_at, state}: how the CLI
// and the API print a StateAt answer.
nlohmann::json StateJson(const std::string& id_key, const std::string& stream_id,
                         const StreamState& state);

// NotFound when the stream does not exist at all; InvalidArgument for a
// stream kind this build cannot fold.
Result<StreamState> StateAt(eventstore::EventStore& store, const std::string& stream_id,
                            const Moment& moment);

struct FieldChange {
  std::string field;         // "spec.labels", "status", "gpus.0.model".
  nlohmann::json old_value;  // null when absent before.
  nlohmann::json new_value;  // null when absent after.
};
// The leaves that differ between two states (objects are walked, arrays and
// scalars compared whole), in field order.
std::vector<FieldChange> Diff(const nlohmann::json& before, const nlohmann::json& after);

struct HistoryEntry {
  eventstore::RecordedEvent event;
  std::vector<FieldChange> changes;
};
// Every event of the stream with what it changed.
Result<std::vector<HistoryEntry>> History(eventstore::EventStore& store,
                                          const std::string& stream_id);

}  // namespace remotegpu::queries
