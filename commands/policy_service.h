// Commands on the scheduling policies (domain/scheduling_policy.h): an
// update appends to the policy's stream and the scheduler index uses it at
// once (and again, harmlessly, when Follow reads the event).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <string>

#include "commands/execute.h"
#include "commands/scheduler_index.h"

namespace remotegpu::commands {

class PolicyService {
 public:
  PolicyService(eventstore::EventStore& store, const Clock& clock, SchedulerIndex& index)
      : store_(store), clock_(clock), index_(index), cache_(store) {}

  // NotFound for an id not in domain::PolicyIds(); InvalidArgument for a
  // priority out of range. No events when nothing changes.
  Result<CommandResult> Update(const std::string& id, const domain::UpdatePolicy& update,
                               const CommandMeta& meta) {
    RGPU_RETURN_IF_ERROR(domain::DefaultPolicy(id).status());
    domain::PolicyCommand command;
    *command.mutable_update() = update;
    return ExecuteOne<PolicyTraits>(store_, cache_, clock_, domain::PolicyStreamId(id), command,
                                    meta, [&](const Loaded<PolicyTraits>& after) {
                                      index_.ApplyPolicyState(id, after.version, after.state);
                                    });
  }

 private:
  eventstore::EventStore& store_;
  const Clock& clock_;
  SchedulerIndex& index_;
  AggregateCache<PolicyTraits> cache_;
};

}  // namespace remotegpu::commands
