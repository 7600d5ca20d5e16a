// Routes of the scheduler (seed 01 module 4) and the CMDB's allocate and
// release (module 1 §2.4): placing existing environments, giving their
// resources back, port usage, and the scheduling policies.
//
// Environments are created by POST /api/environments, which places them at
// once; these routes place an environment that exists but holds nothing
// (stopped, failed, or refused for lack of capacity earlier), anywhere
// (/internal/scheduler/schedule) or on one server
// (/api/cmdb/servers/:id/allocate). Its resources come from its spec.
#pragma once

#include "api/http/query_cache.h"
#include "api/http/router.h"
#include "commands/environment_service.h"
#include "commands/policy_service.h"
#include "commands/scheduler_index.h"
#include "projections/projection_runner.h"
#include "projections/queries/read_store.h"

namespace remotegpu::api {

// Borrowed; must outlive the router.
struct SchedulerApi {
  commands::EnvironmentService* environments = nullptr;
  commands::PolicyService* policies = nullptr;
  commands::SchedulerIndex* index = nullptr;
  queries::ReadStore* reads = nullptr;
  const projections::ProjectionRunner* cmdb_projection = nullptr;
  QueryCache* cmdb_cache = nullptr;  // May be null.
};

// POST /internal/scheduler/schedule and /release, POST
// /api/cmdb/servers/:id/allocate and /release, GET /api/scheduler/ports/usage,
// GET /api/scheduler/policies, PUT /api/scheduler/policies/:id.
void AddSchedulerRoutes(Router& router, SchedulerApi& api);

}  // namespace remotegpu::api
