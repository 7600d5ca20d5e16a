// Routes of the CMDB (seed 01 module 1 §2.4) and the server's own health
// endpoints, over the command services and the read models.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/app/rebuild_job.h"
#include "api/http/query_cache.h"
#include "api/http/request_metrics.h"
#include "api/http/router.h"
#include "commands/host_service.h"
#include "common/uuid.h"
#include "eventstore/event_store.h"
#include "eventstore/kafka_relay.h"
#include "projections/projection_runner.h"
#include "projections/queries/read_store.h"

namespace remotegpu::api {

// What the routes use; everything is borrowed and must outlive the router.
struct ApiContext {
  eventstore::EventStore* store = nullptr;
  commands::HostService* hosts = nullptr;
  queries::ReadStore* reads = nullptr;
  IdGenerator* ids = nullptr;
  const projections::ProjectionRunner* cmdb_projection = nullptr;
  QueryCache* cmdb_cache = nullptr;  // Versioned by cmdb_projection; may be null.
  std::vector<const projections::ProjectionRunner*> projections;
  const RequestMetrics* requests = nullptr;       // Rendered into /metrics when set.
  RebuildJob* rebuild = nullptr;                  // Read-model rebuilds; may be null.
  const eventstore::KafkaRelay* relay = nullptr;  // The Kafka relay; null when off.
  // More Prometheus text for /metrics (the event store's counters).
  std::function<std::string()> store_metrics;
};

// POST /api/cmdb/hosts, GET /api/cmdb/hosts, GET /api/cmdb/hosts/:id,
// PUT /api/cmdb/assets/:id/status, GET /api/cmdb/assets/:id/changes.
void AddCmdbRoutes(Router& router, ApiContext& context);

// GET /healthz (the process answers), GET /readyz (projections healthy and
// within lag), GET /metrics (Prometheus text), GET /api/admin/projections
// and POST /api/admin/projections/rebuild.
void AddHealthRoutes(Router& router, ApiContext& context);

}  // namespace remotegpu::api
