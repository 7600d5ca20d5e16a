// Routes of environments (seed 01 module 3): create (placing it), list,
// detail, start, stop and delete.
#pragma once

#include "api/http/router.h"
#include "commands/environment_service.h"
#include "commands/identity_index.h"
#include "commands/spec_service.h"
#include "common/uuid.h"
#include "projections/projection_runner.h"
#include "projections/queries/read_store.h"

namespace remotegpu::api {

// Borrowed; must outlive the router.
struct EnvironmentApi {
  commands::EnvironmentService* environments = nullptr;
  queries::ReadStore* reads = nullptr;
  IdGenerator* ids = nullptr;
  const projections::ProjectionRunner* projection = nullptr;  // "environments".
  QueryCache* cache = nullptr;                      // Versioned by `projection`; may be null.
  const commands::IdentityIndex* access = nullptr;  // Workspace roles.
  commands::SpecService* specs = nullptr;           // Environments from a product spec.
};

void AddEnvironmentRoutes(Router& router, EnvironmentApi& api);

}  // namespace remotegpu::api
