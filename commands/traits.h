// The aggregates' folding functions, in the shape AggregateCache wants.
#pragma once

#include "domain/billing.h"
#include "domain/environment.h"
#include "domain/host.h"
#include "domain/identity.h"
#include "domain/lease.h"
#include "domain/product_spec.h"
#include "domain/quota.h"
#include "domain/scheduling_policy.h"
#include "domain/workspace.h"

namespace remotegpu::commands {

// An aggregate's state and event types with its domain::Apply.
template <typename S, typename E>
struct AggregateTraits {
  using State = S;
  using Event = E;
  static void Apply(State& state, const Event& event) { domain::Apply(state, event); }
};

using HostTraits = AggregateTraits<domain::HostState, domain::HostEvent>;
using EnvironmentTraits = AggregateTraits<domain::EnvironmentState, domain::EnvironmentEvent>;
using LeaseTraits = AggregateTraits<domain::LeaseState, domain::LeaseEvent>;
using PolicyTraits = AggregateTraits<domain::PolicyState, domain::PolicyEvent>;
using CustomerTraits = AggregateTraits<domain::CustomerState, domain::CustomerEvent>;
using UserTraits = AggregateTraits<domain::UserState, domain::UserEvent>;
using ApiKeyTraits = AggregateTraits<domain::ApiKeyState, domain::ApiKeyEvent>;
using QuotaTraits = AggregateTraits<domain::QuotaState, domain::QuotaEvent>;
using WorkspaceTraits = AggregateTraits<domain::WorkspaceState, domain::WorkspaceEvent>;
using SpecTraits = AggregateTraits<domain::SpecState, domain::SpecEvent>;
using RatesTraits = AggregateTraits<domain::RatesState, domain::RatesEvent>;
using AccountTraits = AggregateTraits<domain::AccountState, domain::AccountEvent>;
using InvoiceTraits = AggregateTraits<domain::InvoiceState, domain::InvoiceEvent>;

// Folds `events` into a copy of `state`.
template <typename Traits>
typename Traits::State Folded(typename Traits::State state,
                              const std::vector<typename Traits::Event>& events) {
  for (const auto& event : events) Traits::Apply(state, event);
  return state;
}

}  // namespace remotegpu::commands
