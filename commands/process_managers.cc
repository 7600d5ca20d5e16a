#include "commands/process_managers.h"

#include "domain/stream_id.h"

namespace remotegpu::commands {

OfflineDetector::OfflineDetector(HostService& hosts, SchedulerIndex& index, const Clock& clock,
                                 int64_t timeout_us, WatchedHosts watched)
    : hosts_(hosts),
      index_(index),
      clock_(clock),
      timeout_us_(timeout_us),
      started_us_(clock.NowMicros()),
      watched_(std::move(watched)) {}

Result<CommandResult> OfflineDetector::Heartbeat(const std::string& host_id,
                                                 const CommandMeta& meta) {
  {
    std::lock_guard lock(mu_);
    last_heartbeat_[host_id] = clock_.NowMicros();
  }
  // The common case, an online host, needs no command (and writes nothing).
  if (auto state = index_.HostState(host_id); state && state->registered && state->online) {
    return CommandResult{};
  }
  domain::HostCommand command;
  command.mutable_heartbeat();
  return hosts_.Execute(host_id, command, meta);
}

Result<int> OfflineDetector::Tick(const CommandMeta& meta) {
  const UnixMicros now = clock_.NowMicros();
  const std::set<std::string> watched = watched_ ? watched_() : std::set<std::string>();
  int marked = 0;
  for (const auto& host_id : index_.HostIds()) {
    auto state = index_.HostState(host_id);
    if (!state || !state->registered || !state->online || state->status == domain::RETIRED) {
      continue;
    }
    if (watched_ && !watched.contains(host_id)) continue;
    UnixMicros last;
    {
      std::lock_guard lock(mu_);
      auto it = last_heartbeat_.find(host_id);
      last = it == last_heartbeat_.end() ? started_us_ : it->second;
    }
    if (now - last < timeout_us_) continue;
    domain::HostCommand command;
    command.mutable_mark_offline()->set_last_heartbeat_us(last);
    auto result = hosts_.Execute(host_id, command, meta);
    if (!result.ok()) return result.status();
    marked += result->events > 0 ? 1 : 0;
  }
  return marked;
}

Result<bool> HealthMonitor::Observe(const std::string& host_id, const domain::HostSample& sample,
                                    const CommandMeta& meta) {
  domain::HostCommand command;
  *command.mutable_report_health() = domain::HealthReportOf(sample);
  domain::HealthVerdict verdict = domain::JudgeHealth(command.report_health());
  {
    std::lock_guard lock(mu_);
    if (auto it = sent_.find(host_id); it != sent_.end() && it->second == verdict) return false;
  }
  auto result = hosts_.Execute(host_id, command, meta);
  if (!result.ok()) return result.status();
  std::lock_guard lock(mu_);
  sent_[host_id] = std::move(verdict);
  return true;
}

Result<int> LeaseExpiryProcess::Tick(const CommandMeta& meta) {
  int changed = 0;
  for (const auto& lease_id : leases_.OpenLeases()) {
    auto result = leases_.CheckExpiry(lease_id, meta);
    if (!result.ok()) return result.status();
    changed += result->events > 0 ? 1 : 0;
  }
  return changed;
}

Result<bool> AllocationReconciler::HolderLetGo(const domain::HostAllocation& allocation) {
  if (domain::IsKind(allocation.holder, domain::StreamKind::kEnvironment)) {
    auto env = environments_.Load(allocation.holder);
    if (!env.ok()) return env.status();
    const auto& state = env->state;
    if (env->version == 0) return true;
    if (state.status == domain::STOPPED || state.status == domain::FAILED ||
        state.status == domain::DELETED) {
      return true;
    }
    return !state.placed || state.placement.allocation_id() != allocation.allocation_id;
  }
  if (domain::IsKind(allocation.holder, domain::StreamKind::kLease)) {
    auto lease = leases_.Load(allocation.holder);
    if (!lease.ok()) return lease.status();
    return lease->version == 0 || lease->state.status == domain::EXPIRED ||
           lease->state.status == domain::RECLAIMED;
  }
  return false;  // A holder kind this reconciler does not know: leave it alone.
}

Result<int> AllocationReconciler::Tick(const CommandMeta& meta) {
  int released = 0;
  for (const auto& host_id : index_.HostIds()) {
    auto state = index_.HostState(host_id);
    if (!state) continue;
    for (const auto& [allocation_id, allocation] : state->allocations) {
      auto let_go = HolderLetGo(allocation);
      if (!let_go.ok()) return let_go.status();
      if (!*let_go) continue;
      domain::HostCommand release;
      release.mutable_release()->set_allocation_id(allocation_id);
      release.mutable_release()->set_reason("reconciler: " + allocation.holder +
                                            " no longer holds it");
      auto result = hosts_.Execute(host_id, release, meta);
      if (!result.ok() && result.status().code() != StatusCode::kNotFound) return result.status();
      released += result.ok() ? 1 : 0;
    }
  }
  return released;
}

}  // namespace remotegpu::commands
