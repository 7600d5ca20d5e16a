#include "commands/scheduler_index.h"

#include <spdlog/spdlog.h>

#include "commands/aggregate.h"
#include "domain/stream_id.h"

namespace remotegpu::commands {

SchedulerIndex::SchedulerIndex(uint64_t random_seed) : random_(random_seed) {
  for (const auto& id : domain::PolicyIds()) policies_[id] = {*domain::DefaultPolicy(id), 0};
  UsePolicies();
}

void SchedulerIndex::UsePolicies() {
  std::map<std::string, domain::PolicyState> states;
  for (const auto& [id, entry] : policies_) states[id] = entry.first;
  index_.set_default_strategy(domain::EffectiveStrategy(states));
}

Status SchedulerIndex::ApplyPolicyEvent(const eventstore::RecordedEvent& recorded) {
  const std::string id = recorded.stream_id.substr(domain::PolicyStreamId("").size());
  auto it = policies_.find(id);
  if (it == policies_.end()) return Status::Ok();  // Not a policy this build knows.
  auto& [state, version] = it->second;
  if (recorded.stream_version <= version) return Status::Ok();
  auto event = ParseRecorded<domain::PolicyEvent>(recorded);
  if (!event.ok()) return event.status();
  domain::Apply(state, *event);
  version = recorded.stream_version;
  UsePolicies();
  return Status::Ok();
}

void SchedulerIndex::ApplyPolicyState(const std::string& id, uint64_t version,
                                      const domain::PolicyState& state) {
  std::lock_guard lock(mu_);
  auto it = policies_.find(id);
  if (it == policies_.end() || version <= it->second.second) return;
  it->second = {state, version};
  UsePolicies();
}

std::vector<SchedulerIndex::PolicyView> SchedulerIndex::Policies() {
  std::lock_guard lock(mu_);
  std::map<std::string, domain::PolicyState> states;
  for (const auto& [id, entry] : policies_) states[id] = entry.first;
  const domain::SchedulingStrategy effective = domain::EffectiveStrategy(states);
  std::vector<PolicyView> out;
  for (const auto& id : domain::PolicyIds()) {
    const auto& [state, version] = policies_.at(id);
    out.push_back({id, state.policy, version, state.policy.strategy() == effective});
  }
  return out;
}

SchedulerIndex::~SchedulerIndex() { Stop(); }

Status SchedulerIndex::Apply(const eventstore::RecordedEvent& recorded) {
  std::lock_guard lock(mu_);
  position_ = std::max(position_, recorded.global_position);
  if (recorded.stream_id.starts_with(domain::PolicyStreamId(""))) {
    return ApplyPolicyEvent(recorded);
  }
  if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kHost)) return Status::Ok();
  auto& [state, version] = hosts_[recorded.stream_id];
  if (recorded.stream_version <= version) return Status::Ok();  // A handler got here first.
  if (recorded.stream_version != version + 1) {
    return Status::Internal("scheduler index: " + recorded.stream_id + " jumps from version " +
                            std::to_string(version) + " to " +
                            std::to_string(recorded.stream_version));
  }
  auto event = ParseRecorded<domain::HostEvent>(recorded);
  if (!event.ok()) return event.status();
  domain::Apply(state, *event);
  version = recorded.stream_version;
  Reindex(recorded.stream_id);
  return Status::Ok();
}

void SchedulerIndex::Reindex(const std::string& host_id) {
  domain::Reserved reserved;
  for (const auto& [token, r] : reservations_) {
    if (r.host_id != host_id) continue;
    reserved.gpus.insert(reserved.gpus.end(), r.gpus.begin(), r.gpus.end());
    reserved.cpu_cores += r.cpu_cores;
    reserved.memory_mb += r.memory_mb;
  }
  index_.Update(host_id, hosts_[host_id].first, reserved);
}

void SchedulerIndex::ApplyHostState(const std::string& host_id, uint64_t version,
                                    const domain::HostState& state) {
  std::lock_guard lock(mu_);
  auto& entry = hosts_[host_id];
  if (version <= entry.second) return;
  entry = {state, version};
  Reindex(host_id);
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
  auto follower = eventstore::LogFollower::Start(
      store, position() + 1, "scheduler index",
      [this](const eventstore::RecordedEvent& event) { return Apply(event); });
  if (!follower.ok()) return follower.status();
  follower_ = std::move(*follower);
  return Status::Ok();
}

void SchedulerIndex::Stop() {
  if (follower_) follower_->Stop();
}

Result<SchedulerIndex::Choice> SchedulerIndex::Place(const domain::PlacementRequest& request) {
  std::lock_guard lock(mu_);
  auto placement = index_.Place(request, random_);
  if (!placement.ok()) return placement.status();
  uint64_t version = hosts_[placement->host_id].second;
  uint64_t token = next_reservation_++;
  reservations_[token] = {placement->host_id, placement->gpu_indexes, request.cpu_cores,
                          request.memory_mb};
  Reindex(placement->host_id);
  return Choice{std::move(*placement), version, token};
}

void SchedulerIndex::Release(uint64_t reservation) {
  std::lock_guard lock(mu_);
  auto it = reservations_.find(reservation);
  if (it == reservations_.end()) return;
  std::string host_id = std::move(it->second.host_id);
  reservations_.erase(it);
  Reindex(host_id);
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
