#include "commands/rollback.h"

#include <algorithm>

namespace remotegpu::commands {
namespace {

// The host folded from its first `max_version` events (all when 0), and the
// version reached.
Result<std::pair<domain::HostState, uint64_t>> FoldHost(eventstore::EventStore& store,
                                                        const std::string& host_id,
                                                        uint64_t max_version) {
  domain::HostState state;
  uint64_t version = 0;
  while (max_version == 0 || version < max_version) {
    size_t count = 1000;
    if (max_version != 0) count = std::min<uint64_t>(count, max_version - version);
    auto events = store.ReadStream(host_id, {.from_version = version + 1, .max_count = count});
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const auto& recorded : *events) {
      auto event = ParseRecorded<domain::HostEvent>(recorded);
      if (!event.ok()) return event.status();
      domain::Apply(state, *event);
      version = recorded.stream_version;
    }
  }
  return std::make_pair(std::move(state), version);
}

std::string Holder(const domain::HostState& state, const std::string& allocation_id) {
  auto it = state.allocations.find(allocation_id);
  return it == state.allocations.end() ? allocation_id : it->second.holder;
}

// Refuses when the allocations differ, saying why.
Status CheckAllocations(const domain::HostState& then, const domain::HostState& now) {
  for (const auto& [id, allocation] : then.allocations) {
    if (now.allocations.count(id) > 0) continue;
    for (uint32_t gpu : allocation.gpu_indexes) {
      auto held = now.gpu_holders.find(gpu);
      if (held != now.gpu_holders.end()) {
        return Status::FailedPrecondition("GPU " + std::to_string(gpu) + " of " +
                                          allocation.holder + " has since gone to " +
                                          Holder(now, held->second));
      }
    }
    for (const auto& port : allocation.ports) {
      auto held = now.port_holders.find(port.port());
      if (held != now.port_holders.end()) {
        return Status::FailedPrecondition("port " + std::to_string(port.port()) + " of " +
                                          allocation.holder + " has since gone to " +
                                          Holder(now, held->second));
      }
    }
    return Status::FailedPrecondition("the allocation of " + allocation.holder +
                                      " has been released since; place " + allocation.holder +
                                      " again instead of rolling the host back");
  }
  for (const auto& [id, allocation] : now.allocations) {
    if (then.allocations.count(id) == 0) {
      return Status::FailedPrecondition(allocation.holder +
                                        " has been allocated on the host since; "
                                        "release it through " +
                                        allocation.holder + " first");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<RollbackPlan> PlanHostRollback(eventstore::EventStore& store, const Clock& clock,
                                      const std::string& host_id, uint64_t to_version,
                                      const std::string& reason) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(host_id, "host"));
  if (reason.empty()) return Status::InvalidArgument("a rollback needs a reason");
  auto now = FoldHost(store, host_id, 0);
  if (!now.ok()) return now.status();
  const auto& [current, version] = *now;
  if (version == 0) return Status::NotFound("no host " + host_id);
  if (to_version == 0 || to_version >= version) {
    return Status::InvalidArgument("to_version must be 1 to " + std::to_string(version - 1) +
                                   " (the host is at version " + std::to_string(version) + ")");
  }
  auto then = FoldHost(store, host_id, to_version);
  if (!then.ok()) return then.status();
  const domain::HostState& target = then->first;
  RGPU_RETURN_IF_ERROR(CheckAllocations(target, current));

  RollbackPlan plan{host_id, version, to_version, {}, {}, {}};
  const std::string why = "rollback to version " + std::to_string(to_version) + ": " + reason;
  if (target.spec.SerializeAsString() != current.spec.SerializeAsString()) {
    *plan.commands.emplace_back().mutable_update_spec()->mutable_spec() = target.spec;
  }
  if (target.asset.SerializeAsString() != current.asset.SerializeAsString()) {
    *plan.commands.emplace_back().mutable_update_asset()->mutable_asset() = target.asset;
  }
  if (target.status != current.status || target.reserved_for != current.reserved_for) {
    auto* change = plan.commands.emplace_back().mutable_change_status();
    change->set_to(target.status);
    change->set_reason(why);
    change->set_by_person(true);
    change->set_reserved_for(target.reserved_for);
  }
  if (target.gpus.size() != current.gpus.size()) {
    plan.not_rolled_back.push_back("the GPU list (discovered hardware)");
  }
  if (target.online != current.online || target.health != current.health) {
    plan.not_rolled_back.push_back("online and health (reported by the agent)");
  }
  // Decide every command on the evolving state: the plan is what would be
  // appended now, refused here with the decider's reason if a rule says no.
  domain::HostState state = current;
  for (const auto& command : plan.commands) {
    auto events = domain::Decide(state, command, {host_id, clock.NowMicros()});
    if (!events.ok()) return events.status();
    for (const auto& event : *events) {
      domain::Apply(state, event);
      plan.events.push_back(event);
    }
  }
  return plan;
}

Result<CommandResult> ApplyHostRollback(eventstore::EventStore& store, HostService& hosts,
                                        const RollbackPlan& plan, const CommandMeta& meta) {
  auto head = store.StreamHead(plan.host_id);
  if (!head.ok()) return head.status();
  if (*head != plan.from_version) {
    return Status::FailedPrecondition(plan.host_id + " moved to version " + std::to_string(*head) +
                                      " after the rollback was planned at " +
                                      std::to_string(plan.from_version) + "; plan it again");
  }
  CommandResult total;
  for (const auto& command : plan.commands) {
    auto done = hosts.Execute(plan.host_id, command, meta);
    if (!done.ok()) return done.status();
    if (total.first_position == 0) total.first_position = done->first_position;
    total.last_position = std::max(total.last_position, done->last_position);
    total.version = done->version;
    total.events += done->events;
  }
  return total;
}

}  // namespace remotegpu::commands
