// Running a command against one aggregate: load, decide, append with the
// loaded version as the expectation, and on a version conflict start over
// with a fresh load after a growing pause, a bounded number of times (one
// policy for every command: RetryOnConflict).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
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

// Before attempt `n` (1, 2, …) of a command that met a concurrent change:
// 0.5 ms doubling, with jitter so that racers do not retry in step. The
// winner's events may still be in its group commit, visible to the version
// check but not yet to reads, so an immediate retry would mostly meet it again.
inline void PauseBeforeRetry(int n) {
  thread_local std::minstd_rand random(std::random_device{}());
  const int64_t base_us = int64_t{500} << std::min(n - 1, 10);
  std::this_thread::sleep_for(
      std::chrono::microseconds(base_us / 2 + static_cast<int64_t>(random() % base_us)));
}

// The command side's one retry policy for version conflicts: `attempt` (load,
// decide, one append) answers, or returns std::nullopt to go again; at most
// kMaxConflictRetries attempts, with PauseBeforeRetry between them, then
// ConflictsExhausted(what).
template <typename T, typename Attempt>
Result<T> RetryOnConflict(const std::string& what, Attempt attempt) {
  for (int n = 0; n < kMaxConflictRetries; ++n) {
    if (n > 0) PauseBeforeRetry(n);
    std::optional<Result<T>> answer = attempt();
    if (answer) return std::move(*answer);
  }
  return ConflictsExhausted(what);
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
  return RetryOnConflict<
      CommandResult>("command on " + stream_id, [&]() -> std::optional<Result<CommandResult>> {
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
        return std::nullopt;  // Again, after RetryOnConflict's pause.
      }
      return appended.status();
    }
    Loaded<Traits> after{loaded->state, appended->streams[0].last_version};
    for (const auto& event : *events) Traits::Apply(after.state, event);
    cache.Remember(stream_id, after);
    if (on_commit) on_commit(after);
    return CommandResult{after.version, appended->first_position, appended->last_position,
                         events->size()};
  });
}

}  // namespace remotegpu::commands
