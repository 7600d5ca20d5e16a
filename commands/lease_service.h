// Commands on leases: whole machines rented to a customer. Creating a lease
// allocates every machine whole (nothing else can be placed there) in the
// same atomic append as the lease; expiry and early reclaim release them the
// same way. Thread-safe.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "commands/aggregate.h"
#include "commands/execute.h"
#include "commands/scheduler_index.h"
#include "commands/striped_lock.h"
#include "commands/traits.h"

namespace remotegpu::commands {

class LeaseService {
 public:
  LeaseService(eventstore::EventStore& store, const Clock& clock, SchedulerIndex& index,
               AggregateCache<HostTraits>& hosts, AggregateCache<LeaseTraits>& leases,
               StripedLock& host_locks)
      : store_(store),
        clock_(clock),
        index_(index),
        hosts_(hosts),
        leases_(leases),
        host_locks_(host_locks) {}

  // `lease_id` is "lease-<id>". The lease is active at once when it starts
  // now or earlier. FailedPrecondition when a machine is not available or
  // already carries allocations.
  Result<CommandResult> Create(const std::string& lease_id, const domain::CreateLease& create,
                               const CommandMeta& meta);
  Result<CommandResult> Activate(const std::string& lease_id, const CommandMeta& meta);
  Result<CommandResult> Extend(const std::string& lease_id, uint32_t months,
                               const CommandMeta& meta);
  Result<CommandResult> Reclaim(const std::string& lease_id, const std::string& reason,
                                const CommandMeta& meta);
  // Marks the lease expiring or expired as of the clock's now; expired
  // releases the machines.
  Result<CommandResult> CheckExpiry(const std::string& lease_id, const CommandMeta& meta);

  // Leases that are not yet expired or reclaimed, as this service knows them
  // (its own commands plus Recover).
  std::set<std::string> OpenLeases();
  // Learns the open leases from the log (on start).
  Status Recover();

 private:
  // Decides `command` on the lease; when the lease ends, releases its
  // machines in the same append. Retries on conflicts.
  Result<CommandResult> Execute(const std::string& lease_id, const domain::LeaseCommand& command,
                                const CommandMeta& meta);

  eventstore::EventStore& store_;
  const Clock& clock_;
  SchedulerIndex& index_;
  AggregateCache<HostTraits>& hosts_;
  AggregateCache<LeaseTraits>& leases_;
  StripedLock& host_locks_;
  std::mutex open_mu_;
  std::set<std::string> open_;  // Guarded by open_mu_.
};

}  // namespace remotegpu::commands
