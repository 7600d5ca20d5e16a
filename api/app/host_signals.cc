#include "api/app/host_signals.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "commands/environment_service.h"
#include "commands/scheduler_index.h"
#include "domain/proto/environment.pb.h"
#include "domain/stream_id.h"

namespace remotegpu::api {
namespace {

// Environments whose host is remembered before the map starts over.
constexpr size_t kMaxRemembered = 100'000;

}  // namespace

Status HostSignals::Start() {
  auto follower = eventstore::LogFollower::Start(
      store_, store_.LastPosition() + 1, "host signals",
      [this](const eventstore::RecordedEvent& event) { return Apply(event); });
  if (!follower.ok()) return follower.status();
  follower_ = std::move(*follower);
  return Status::Ok();
}

void HostSignals::Stop() {
  if (follower_) follower_->Stop();
}

ProgressSignal& HostSignals::For(const std::string& host_id) {
  std::lock_guard lock(mu_);
  auto& signal = signals_[host_id];
  if (!signal) {
    signal = std::make_unique<ProgressSignal>("host " + host_id,
                                              [this] { return store_.LastPosition(); });
  }
  return *signal;
}

std::string HostSignals::HostOf(const eventstore::RecordedEvent& event) {
  domain::EnvironmentEvent decoded;
  if (decoded.ParseFromString(event.data.payload)) {
    if (decoded.has_scheduled()) {
      return env_hosts_[event.stream_id] = decoded.scheduled().placement().host_id();
    }
    if (decoded.has_placement_released()) {
      env_hosts_.erase(event.stream_id);
      return decoded.placement_released().placement().host_id();
    }
  }
  if (auto known = env_hosts_.find(event.stream_id); known != env_hosts_.end()) {
    return known->second;
  }
  // Placed before this server started following, or not placed: asked
  // once, and remembered either way ("" for not placed).
  if (env_hosts_.size() >= kMaxRemembered) env_hosts_.clear();  // Asked again as needed.
  auto state = environments_.StateOf(event.stream_id);
  const bool placed = state.ok() && state->placed;
  return env_hosts_[event.stream_id] = placed ? state->placement.host_id() : "";
}

Status HostSignals::Apply(const eventstore::RecordedEvent& event) {
  std::string host;
  if (domain::IsKind(event.stream_id, domain::StreamKind::kHost)) {
    host = event.stream_id;
  } else if (domain::IsKind(event.stream_id, domain::StreamKind::kEnvironment)) {
    host = HostOf(event);
  }
  if (host.empty()) return Status::Ok();
  // The desired state is read from the scheduler index: let it apply this
  // position first (it follows the same log; a command applies its own
  // commit at once), waiting a bounded while.
  for (int i = 0; i < 200 && index_.position() < event.global_position; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (index_.position() < event.global_position && !warned_lag_) {
    warned_lag_ = true;  // Once: a stuck index is reported by its own follower.
    spdlog::warn(
        "host signals: the scheduler index is behind position {}; agents' polls may "
        "answer with the state before it",
        event.global_position);
  }
  For(host).Advance(event.global_position);
  return Status::Ok();
}

}  // namespace remotegpu::api
