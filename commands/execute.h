// Running a command against one aggregate: load, decide, append with the
// loaded version as the expectation, and on a version conflict start over
// with a fresh load after a growing pause, a bounded number of times.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "commands/aggregate.h"
#include "commands/traits.h"
#include "domain/decider.h"

namespace remotegpu::commands {

struct CommandResult {
  uint64_t version = 0;         // The stream's version after the command.
  uint64_t first_position = 0;  // 0 when the command produced no events.
  uint64_t last_position = 0;
  size_t events = 0;
};

// Attempts before a command gives up on version conflicts.
inline constexpr int kMaxConflictRetries = 8;

inline Status ConflictsExhausted(const std::string& what) {
  return Status::Unavailable(what + " kept meeting concurrent changes (" +
                             std::to_string(kMaxConflictRetries) + " attempts); retry");
}

// A name that a command takes for good, in the same atomic append as its
// events: a stream that must not exist yet, holding one event. When it
// exists the command fails AlreadyExists with `taken` and writes nothing.
// This is how uniqueness across aggregates is decided on the command side
// (an order id across all accounts), never left to a read model's key.
struct Claim {
  std::string stream_id;
  eventstore::EventData event;
  std::string taken;  // The AlreadyExists message.
};

// `on_commit` sees the state and version after a successful append. `claims`
// are taken with the command's events (see Claim), only when it decides any.
template <typename Traits, typename Command>
Result<CommandResult> ExecuteOne(
    eventstore::EventStore& store, AggregateCache<Traits>& cache, const Clock& clock,
    const std::string& stream_id, const Command& command, const CommandMeta& meta,
    const std::function<void(const Loaded<Traits>&)>& on_commit = nullptr,
    const std::vector<Claim>& claims = {}) {
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto loaded = cache.Load(stream_id);
    if (!loaded.ok()) return loaded.status();
    const UnixMicros now = clock.NowMicros();
    auto events = domain::Decide(loaded->state, command, domain::DecideContext{stream_id, now});
    if (!events.ok()) return events.status();
    if (events->empty()) return CommandResult{loaded->version, 0, 0, 0};
    std::vector<eventstore::StreamAppend> streams = {
        {stream_id, eventstore::ExpectedVersion::Exact(loaded->version),
         ToEventData(*events, meta, now)}};
    for (const Claim& claim : claims) {
      streams.push_back({claim.stream_id, eventstore::ExpectedVersion::NoStream(), {claim.event}});
    }
    auto appended = store.Append(std::move(streams));
    if (!appended.ok()) {
      if (appended.status().code() == StatusCode::kVersionConflict) {
        const VersionConflict* conflict = appended.status().conflict();
        for (const Claim& claim : claims) {
          if (conflict != nullptr && conflict->stream_id == claim.stream_id) {
            return Status::AlreadyExists(claim.taken);
          }
        }
        // The winner's events may still be in its group commit, visible to
        // the version check but not yet to reads: back off before loading.
        std::this_thread::sleep_for(std::chrono::microseconds(500) * (1 << attempt));
        continue;
      }
      return appended.status();
    }
    Loaded<Traits> after{loaded->state, appended->streams[0].last_version};
    for (const auto& event : *events) Traits::Apply(after.state, event);
    cache.Remember(stream_id, after);
    if (on_commit) on_commit(after);
    return CommandResult{after.version, appended->first_position, appended->last_position,
                         events->size()};
  }
  return ConflictsExhausted("command on " + stream_id);
}

}  // namespace remotegpu::commands
