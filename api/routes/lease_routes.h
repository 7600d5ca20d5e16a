// Routes of leases (seed 02 §2.1.4 allocations: whole machines for months)
// and the admin dashboard's figures.
#pragma once

#include "api/http/router.h"
#include "commands/lease_service.h"
#include "common/uuid.h"
#include "projections/projection_runner.h"
#include "projections/queries/read_store.h"

namespace remotegpu::api {

// Borrowed; must outlive the router.
struct LeaseApi {
  commands::LeaseService* leases = nullptr;
  queries::ReadStore* reads = nullptr;
  IdGenerator* ids = nullptr;
  const projections::ProjectionRunner* projection = nullptr;       // "leases".
  const projections::ProjectionRunner* cmdb_projection = nullptr;  // Hosts, for the admin views.
};

// POST/GET /api/admin/allocations, POST /api/admin/allocations/:id/extend
// and /reclaim, GET /api/admin/machines, GET /api/admin/dashboard/stats.
void AddLeaseRoutes(Router& router, LeaseApi& api);

}  // namespace remotegpu::api
