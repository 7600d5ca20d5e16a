// Routes over the log itself (the log's queries in projections/queries/):
// the audit trail, time travel and rollback of CMDB assets.
#pragma once

#include "api/http/router.h"
#include "commands/host_service.h"
#include "common/clock.h"
#include "eventstore/event_store.h"

namespace remotegpu::api {

// Borrowed; must outlive the router.
struct AuditApi {
  eventstore::EventStore* store = nullptr;
  commands::HostService* hosts = nullptr;
  const Clock* clock = nullptr;
};

// GET /api/audit/events (paged JSON; with Accept: text/csv or
// application/x-ndjson the export format of projections/queries/audit_export.h, at most
// `limit` events, X-Next-Position telling where to continue),
// GET /api/cmdb/assets/:id/state?at=…, POST /api/cmdb/assets/:id/rollback.
void AddAuditRoutes(Router& router, AuditApi& api);

}  // namespace remotegpu::api
