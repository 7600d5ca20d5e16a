#include "domain/scheduling_policy.h"

#include "domain/scheduler.h"

namespace remotegpu::domain {

const std::vector<std::string>& PolicyIds() {
  static const std::vector<std::string> ids = {"best-fit", "first-fit", "least-loaded",
                                               "round-robin", "random"};
  return ids;
}

std::string PolicyStreamId(const std::string& id) { return "policy-" + id; }

Result<PolicyState> DefaultPolicy(const std::string& id) {
  for (SchedulingStrategy strategy : {BEST_FIT, FIRST_FIT, LEAST_LOADED, ROUND_ROBIN, RANDOM}) {
    if (id != Name(strategy)) continue;
    PolicyState state;
    state.policy.set_strategy(strategy);
    state.policy.set_enabled(strategy == BEST_FIT);
    state.policy.set_priority(strategy == BEST_FIT ? 100 : 0);
    state.policy.set_config_json("{}");
    return state;
  }
  return Status::NotFound("no scheduling policy " + id);
}

void Apply(PolicyState& state, const PolicyEvent& event) {
  if (event.event_case() == PolicyEvent::kUpdated) state.policy = event.updated().policy();
}

Result<std::vector<PolicyEvent>> Decide(const PolicyState& state, const PolicyCommand& command,
                                        const DecideContext& context) {
  if (command.command_case() != PolicyCommand::kUpdate) {
    return Status::InvalidArgument("unknown policy command");
  }
  PolicyState current = state;
  if (current.policy.strategy() == SCHEDULING_STRATEGY_UNSPECIFIED) {  // An empty stream.
    const std::string prefix = PolicyStreamId("");
    if (!context.stream_id.starts_with(prefix)) {
      return Status::InvalidArgument(context.stream_id + " is not a policy stream");
    }
    auto defaults = DefaultPolicy(context.stream_id.substr(prefix.size()));
    if (!defaults.ok()) return defaults.status();
    current = *defaults;
  }
  const UpdatePolicy& update = command.update();
  SchedulingPolicy next = current.policy;
  if (update.has_enabled()) next.set_enabled(update.enabled());
  if (update.has_priority()) {
    if (update.priority() < 0 || update.priority() > kPolicyMaxPriority) {
      return Status::InvalidArgument("priority must be 0 to " + std::to_string(kPolicyMaxPriority));
    }
    next.set_priority(update.priority());
  }
  if (update.has_config_json()) next.set_config_json(update.config_json());
  if (next.SerializeAsString() == state.policy.SerializeAsString()) {
    return std::vector<PolicyEvent>{};
  }
  PolicyEvent event;
  *event.mutable_updated()->mutable_policy() = next;
  event.mutable_updated()->set_reason(update.reason());
  return std::vector<PolicyEvent>{event};
}

SchedulingStrategy EffectiveStrategy(const std::map<std::string, PolicyState>& policies) {
  const SchedulingPolicy* best = nullptr;
  for (const auto& id : PolicyIds()) {
    auto it = policies.find(id);
    if (it == policies.end() || !it->second.policy.enabled()) continue;
    if (best == nullptr || it->second.policy.priority() > best->priority()) {
      best = &it->second.policy;
    }
  }
  return best == nullptr ? BEST_FIT : best->strategy();
}

}  // namespace remotegpu::domain
