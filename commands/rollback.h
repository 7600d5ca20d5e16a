// Rolling a host (CMDB asset) back to an earlier version: compensating
// commands, decided by the normal host decider and appended like any other
// command, so every rule still holds and history is never rewritten.
//
// What is rolled back: the spec (labels, resources, …), the asset data, and
// the operational status (with its reservation). What is not: allocations
// (they belong to environments and leases; a rollback that would need one
// back is refused, naming who holds the GPU or port now, or saying to place
// the holder again), the GPU list (discovered hardware), and the online and
// health flags (reported by the agent).
#pragma once

#include <string>
#include <vector>

#include "commands/host_service.h"

namespace remotegpu::commands {

struct RollbackPlan {
  std::string host_id;
  uint64_t from_version = 0;  // The host's version when planned.
  uint64_t to_version = 0;
  std::vector<domain::HostCommand> commands;
  std::vector<domain::HostEvent> events;     // What the commands decide now.
  std::vector<std::string> not_rolled_back;  // Differences left alone, in words.
};

// NotFound for an unknown host; InvalidArgument when to_version is not an
// earlier version; FailedPrecondition (with the reason) when an allocation
// differs; what the decider says when a command is refused.
Result<RollbackPlan> PlanHostRollback(eventstore::EventStore& store, const Clock& clock,
                                      const std::string& host_id, uint64_t to_version,
                                      const std::string& reason);

// Executes the plan's commands; FailedPrecondition when the host moved since
// it was planned (plan again).
Result<CommandResult> ApplyHostRollback(eventstore::EventStore& store, HostService& hosts,
                                        const RollbackPlan& plan, const CommandMeta& meta);

}  // namespace remotegpu::commands
