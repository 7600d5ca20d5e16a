// The server's projections, in a fixed order: cmdb, environments, leases, billing.
#pragma once

#include <memory>
#include <vector>

#include "projections/billing_projector.h"
#include "projections/cmdb_projector.h"
#include "projections/environment_projector.h"
#include "projections/projection_runner.h"

namespace remotegpu::projections {

enum StandardProjection { kCmdb = 0, kEnvironments = 1, kLeases = 2, kBilling = 3 };

// One projector per read-model family; `history` (may be null) supplies
// streams' earlier events.
inline std::vector<std::unique_ptr<Projector>> StandardProjectors(eventstore::EventStore* history) {
  std::vector<std::unique_ptr<Projector>> projectors;
  projectors.push_back(std::make_unique<CmdbProjector>(history));
  projectors.push_back(std::make_unique<EnvironmentProjector>(history));
  projectors.push_back(std::make_unique<LeaseProjector>(history));
  projectors.push_back(std::make_unique<BillingProjector>());
  return projectors;
}

// One runner per read-model family, not yet opened.
inline std::vector<std::unique_ptr<ProjectionRunner>> StandardProjections(
    eventstore::EventStore& store, const ProjectionRunnerOptions& options) {
  std::vector<std::unique_ptr<ProjectionRunner>> runners;
  for (auto& projector : StandardProjectors(&store)) {
    runners.push_back(std::make_unique<ProjectionRunner>(store, std::move(projector), options));
  }
  return runners;
}

}  // namespace remotegpu::projections
