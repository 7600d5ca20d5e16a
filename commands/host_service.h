// Commands on hosts: registration, edits, GPU reports, status changes,
// heartbeats, health reports, allocations. Keeps the scheduler index current
// with what it commits. Thread-safe.
#pragma once

#include "commands/aggregate.h"
#include "commands/execute.h"
#include "commands/scheduler_index.h"
#include "commands/striped_lock.h"
#include "commands/traits.h"

namespace remotegpu::commands {

class HostService {
 public:
  HostService(eventstore::EventStore& store, const Clock& clock, SchedulerIndex& index,
              AggregateCache<HostTraits>& hosts, StripedLock& host_locks)
      : store_(store), clock_(clock), index_(index), hosts_(hosts), host_locks_(host_locks) {}

  // `host_id` is the stream id, "host-<id>".
  Result<CommandResult> Execute(const std::string& host_id, const domain::HostCommand& command,
                                const CommandMeta& meta);

  // An agent's report: the machine's facts laid over the host's spec (what
  // an operator set, such as the name, region, labels, ports and public IP,
  // stays; the management IP only when none is set) and the GPU list, each
  // change an event. NotFound for a host that is not registered.
  Result<CommandResult> ApplyAgentReport(const std::string& host_id,
                                         const domain::AgentReport& report,
                                         const CommandMeta& meta);

 private:
  eventstore::EventStore& store_;
  const Clock& clock_;
  SchedulerIndex& index_;
  AggregateCache<HostTraits>& hosts_;
  StripedLock& host_locks_;
};

}  // namespace remotegpu::commands
