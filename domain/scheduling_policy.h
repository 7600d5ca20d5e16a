// The scheduling-policy decider. Pure.
//
// A policy's stream starts empty: its state is then the built-in default
// (best-fit enabled at priority 100, every other strategy disabled at 0), so
// that a fresh log needs no setup events.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/scheduling_policy.pb.h"

namespace remotegpu::domain {

inline constexpr int32_t kPolicyMaxPriority = 1000;

struct PolicyState {
  SchedulingPolicy policy;
};

// The policy ids ("best-fit", …), one per strategy, in a fixed order.
const std::vector<std::string>& PolicyIds();
// The stream of policy `id`: "policy-best-fit".
std::string PolicyStreamId(const std::string& id);
// The state of an empty stream; NotFound for an id not in PolicyIds().
Result<PolicyState> DefaultPolicy(const std::string& id);

void Apply(PolicyState& state, const PolicyEvent& event);
// Validates priority; no events when nothing changes. An empty stream's
// state is the default of the id in context.stream_id.
Result<std::vector<PolicyEvent>> Decide(const PolicyState& state, const PolicyCommand& command,
                                        const DecideContext& context);

// The strategy of the enabled policy with the highest priority (ties: the
// earlier in PolicyIds()); best-fit when none is enabled.
SchedulingStrategy EffectiveStrategy(const std::map<std::string, PolicyState>& policies);

}  // namespace remotegpu::domain
