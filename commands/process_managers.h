// Process managers: the parts of the command side that act on time rather
// than on a request. Each is driven by Tick() with the injected clock, so a
// test steps time and a server calls Tick from a timer.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "commands/lease_service.h"

namespace remotegpu::commands {

// Marks hosts offline when their agent has been silent for `timeout` (30 s,
// seed 01 §2.2) and online again on the next heartbeat. Heartbeats are not
// events; only the transitions are. Thread-safe.
class OfflineDetector {
 public:
  static constexpr int64_t kDefaultTimeoutUs = 30'000'000;

  // `watched` names, once per Tick, the hosts expected to heartbeat (null:
  // all); the server watches the hosts that have an agent token, so a host
  // entered by hand without an agent is never marked offline for its silence.
  using WatchedHosts = std::function<std::set<std::string>()>;
  OfflineDetector(HostService& hosts, SchedulerIndex& index, const Clock& clock,
                  int64_t timeout_us = kDefaultTimeoutUs, WatchedHosts watched = nullptr);

  // An agent's heartbeat: remembers when, and brings the host back online
  // if it was offline.
  Result<CommandResult> Heartbeat(const std::string& host_id, const CommandMeta& meta);

  // Marks offline every online host not heard from within the timeout; a
  // host never heard from counts from this detector's construction. Returns
  // how many it marked.
  Result<int> Tick(const CommandMeta& meta);

 private:
  HostService& hosts_;
  SchedulerIndex& index_;
  const Clock& clock_;
  const int64_t timeout_us_;
  const UnixMicros started_us_;
  const WatchedHosts watched_;
  std::mutex mu_;
  std::map<std::string, UnixMicros> last_heartbeat_;  // Guarded by mu_.
};

// Turns agents' metrics into health (seed 03 §4.3): the verdict of a host's
// newest sample (domain::JudgeHealth) goes to the host as a ReportHealth
// only when it differs from the last verdict sent, so steady samples cost
// no command; the decider writes HealthChanged on a real change. Thread-safe.
class HealthMonitor {
 public:
  explicit HealthMonitor(HostService& hosts) : hosts_(hosts) {}
  // Whether a report was sent; the host's error (NotFound, …) otherwise.
  Result<bool> Observe(const std::string& host_id, const domain::HostSample& sample,
                       const CommandMeta& meta);

 private:
  HostService& hosts_;
  std::mutex mu_;
  std::map<std::string, domain::HealthVerdict> sent_;  // Guarded by mu_.
};

// Moves every open lease to expiring (7 days before) and expired (releasing
// its machines) as the clock passes those times. Thread-safe.
class LeaseExpiryProcess {
 public:
  explicit LeaseExpiryProcess(LeaseService& leases) : leases_(leases) {}
  // Returns how many leases changed.
  Result<int> Tick(const CommandMeta& meta);

 private:
  LeaseService& leases_;
};

// Releases allocations whose holder no longer holds them: an environment
// that does not exist, is stopped, failed or deleted, or has moved to
// another allocation; a lease that expired or was reclaimed. Thread-safe.
class AllocationReconciler {
 public:
  AllocationReconciler(HostService& hosts, SchedulerIndex& index,
                       AggregateCache<EnvironmentTraits>& environments,
                       AggregateCache<LeaseTraits>& leases)
      : hosts_(hosts), index_(index), environments_(environments), leases_(leases) {}
  // Returns how many allocations it released.
  Result<int> Tick(const CommandMeta& meta);

 private:
  Result<bool> HolderLetGo(const domain::HostAllocation& allocation);

  HostService& hosts_;
  SchedulerIndex& index_;
  AggregateCache<EnvironmentTraits>& environments_;
  AggregateCache<LeaseTraits>& leases_;
};

}  // namespace remotegpu::commands
