// Every stream of one kind ("spec-…") folded in memory: built from the log
// on start (CatchUp), kept current by following it (Follow) and, so that a
// command's effect is listed at once, from the process's own commits
// (Observe). For small aggregates that are listed whole (product specs).
//
// Thread-safety: all methods, from any thread. An event whose version is
// not the next one of its stream is skipped (a commit Observe saw first).
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "commands/aggregate.h"
#include "eventstore/log_follower.h"

namespace remotegpu::commands {

template <typename Traits>
class StreamCatalog {
 public:
  using State = typename Traits::State;

  // Streams whose id starts with `prefix` ("spec-").
  explicit StreamCatalog(std::string prefix) : prefix_(std::move(prefix)) {}
  ~StreamCatalog() { Stop(); }

  Status CatchUp(eventstore::EventStore& store) {
    while (true) {
      auto events = store.ReadAll(Position() + 1, 4096);
      if (!events.ok()) return events.status();
      if (events->empty()) return Status::Ok();
      for (const auto& event : *events) RGPU_RETURN_IF_ERROR(Apply(event));
    }
  }
  Status Follow(eventstore::EventStore& store) {
    auto follower = eventstore::LogFollower::Start(
        store, Position() + 1, prefix_ + "catalog",
        [this](const eventstore::RecordedEvent& event) { return Apply(event); });
    if (!follower.ok()) return follower.status();
    follower_ = std::move(*follower);
    return Status::Ok();
  }
  void Stop() {
    if (follower_) follower_->Stop();
  }

  // A state the process folded after its own append.
  void Observe(const std::string& stream_id, const Loaded<Traits>& loaded) {
    std::unique_lock lock(mu_);
    auto& entry = streams_[stream_id];
    if (loaded.version > entry.version) entry = loaded;
  }

  // Every stream's state, by id.
  std::map<std::string, Loaded<Traits>> All() const {
    std::shared_lock lock(mu_);
    return streams_;
  }

 private:
  uint64_t Position() const {
    std::shared_lock lock(mu_);
    return position_;
  }
  Status Apply(const eventstore::RecordedEvent& recorded) {
    std::unique_lock lock(mu_);
    position_ = std::max(position_, recorded.global_position);
    if (!recorded.stream_id.starts_with(prefix_)) return Status::Ok();
    auto& entry = streams_[recorded.stream_id];
    if (recorded.stream_version != entry.version + 1) return Status::Ok();
    auto event = ParseRecorded<typename Traits::Event>(recorded);
    if (!event.ok()) return event.status();
    Traits::Apply(entry.state, *event);
    entry.version = recorded.stream_version;
    return Status::Ok();
  }

  const std::string prefix_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Loaded<Traits>> streams_;  // Guarded by mu_.
  uint64_t position_ = 0;                          // Guarded by mu_.
  std::unique_ptr<eventstore::LogFollower> follower_;
};

}  // namespace remotegpu::commands
