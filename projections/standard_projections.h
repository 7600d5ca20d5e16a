// The server's projections, in a fixed order: cmdb, environments, leases.
#pragma once

#include <memory>
#include <vector>

#include "projections/cmdb_projector.h"
#include "projections/environment_projector.h"
#include "projections/projection_runner.h"

namespace remotegpu::projections {

enum StandardProjection { kCmdb = 0, kEnvironments = 1, kLeases = 2 };

// One runner per read-model family, not yet opened.
inline std::vector<std::unique_ptr<ProjectionRunner>> StandardProjections(
    eventstore::EventStore& store, const ProjectionRunnerOptions& options) {
  std::vector<std::unique_ptr<ProjectionRunner>> runners;
  runners.push_back(
      std::make_unique<ProjectionRunner>(store, std::make_unique<CmdbProjector>(store), options));
  runners.push_back(std::make_unique<ProjectionRunner>(
      store, std::make_unique<EnvironmentProjector>(store), options));
  runners.push_back(
      std::make_unique<ProjectionRunner>(store, std::make_unique<LeaseProjector>(store), options));
  return runners;
}

}  // namespace remotegpu::projections
