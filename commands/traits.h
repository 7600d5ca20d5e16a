// The aggregates' folding functions, in the shape AggregateCache wants.
#pragma once

#include "domain/environment.h"
#include "domain/host.h"
#include "domain/identity.h"
#include "domain/lease.h"
#include "domain/scheduling_policy.h"

namespace remotegpu::commands {

struct HostTraits {
  using State = domain::HostState;
  using Event = domain::HostEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct EnvironmentTraits {
  using State = domain::EnvironmentState;
  using Event = domain::EnvironmentEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct LeaseTraits {
  using State = domain::LeaseState;
  using Event = domain::LeaseEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct PolicyTraits {
  using State = domain::PolicyState;
  using Event = domain::PolicyEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct CustomerTraits {
  using State = domain::CustomerState;
  using Event = domain::CustomerEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct UserTraits {
  using State = domain::UserState;
  using Event = domain::UserEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

struct ApiKeyTraits {
  using State = domain::ApiKeyState;
  using Event = domain::ApiKeyEvent;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

// Folds `events` into a copy of `state`.
template <typename Traits>
typename Traits::State Folded(typename Traits::State state,
                              const std::vector<typename Traits::Event>& events) {
  for (const auto& event : events) Traits::Apply(state, event);
  return state;
}

}  // namespace remotegpu::commands
