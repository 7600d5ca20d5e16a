#include "commands/scheduler_index.h"

#include <spdlog/spdlog.h>

namespace remotegpu::commands {

SchedulerIndex::SchedulerIndex(uint64_t random_seed) : random_(random_seed) {}

SchedulerIndex::~SchedulerIndex() { Stop(); }

Status SchedulerIndex::Apply(const eventstore::RecordedEvent& recorded) {
  std::lock_guard lock(mu_);
  position_ = std::max(position_, recorded.global_position);
  if (!recorded.stream_id.starts_with("host-")) return Status::Ok();
  auto& [state, version] = hosts_[recorded.stream_id];
  if (recorded.stream_version <= version) return Status::Ok();  // A handler got here first.
  if (recorded.stream_version != version + 1) {
    return Status::Internal("scheduler index: " + recorded.stream_id + " jumps from version " +
                            std::to_string(version) + " to " +
                            std::to_string(recorded.stream_version));
  }
  domain::HostEvent event;
  if (!event.ParseFromString(recorded.data.payload)) {
    return Status::Corruption("scheduler index: event at position " +
                              std::to_string(recorded.global_position) + " does not parse");
  }
  domain::Apply(state, event);
  version = recorded.stream_version;
  index_.Update(recorded.stream_id, state);
  return Status::Ok();
}

void SchedulerIndex::ApplyHostState(const std::string& host_id, uint64_t version,
                                    const domain::HostState& state) {
  std::lock_guard lock(mu_);
  auto& entry = hosts_[host_id];
  if (version <= entry.second) return;
  entry = {state, version};
  index_.Update(host_id, state);
}

Status SchedulerIndex::CatchUp(eventstore::EventStore& store) {
  while (true) {
    auto events = store.ReadAll(position() + 1, 4096);
    if (!events.ok()) return events.status();
    if (events->empty()) return Status::Ok();
    for (const auto& event : *events) RGPU_RETURN_IF_ERROR(Apply(event));
  }
}

Status SchedulerIndex::Follow(eventstore::EventStore& store) {
  auto subscription = store.Subscribe({.from_position = position() + 1});
  if (!subscription.ok()) return subscription.status();
  subscription_ = std::move(*subscription);
  follower_ = std::thread([this] {
    while (true) {
      auto events = subscription_->Next(std::chrono::milliseconds(200));
      if (!events.ok()) return;  // Closed.
      for (const auto& event : *events) {
        Status applied = Apply(event);
        if (!applied.ok()) spdlog::error("{}", applied.ToString());
      }
    }
  });
  return Status::Ok();
}

void SchedulerIndex::Stop() {
  if (subscription_) subscription_->Close();
  if (follower_.joinable()) follower_.join();
  subscription_.reset();
}

Result<domain::PlacementChoice> SchedulerIndex::Place(const domain::PlacementRequest& request) {
  std::lock_guard lock(mu_);
  return index_.Place(request, random_);
}

void SchedulerIndex::SetDefaultStrategy(domain::SchedulingStrategy strategy) {
  std::lock_guard lock(mu_);
  index_.set_default_strategy(strategy);
}

std::vector<std::string> SchedulerIndex::HostIds() {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  ids.reserve(hosts_.size());
  for (const auto& [id, entry] : hosts_) ids.push_back(id);
  return ids;
}

std::optional<domain::HostState> SchedulerIndex::HostState(const std::string& host_id) {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host_id);
  if (it == hosts_.end()) return std::nullopt;
  return it->second.first;
}

uint64_t SchedulerIndex::HostVersion(const std::string& host_id) {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host_id);
  return it == hosts_.end() ? 0 : it->second.second;
}

uint64_t SchedulerIndex::position() {
  std::lock_guard lock(mu_);
  return position_;
}

}  // namespace remotegpu::commands
