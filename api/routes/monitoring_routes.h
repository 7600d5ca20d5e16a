// Monitoring queries (admins): the stored metrics of a host or a GPU over a
// time range, raw or hourly.
#pragma once

#include "api/http/router.h"
#include "common/clock.h"
#include "projections/metrics_store.h"

namespace remotegpu::api {

struct MonitoringApi {
  projections::MetricsStore* metrics = nullptr;
  const Clock* clock = nullptr;
};

// GET /api/monitoring/hosts/:id/metrics and /api/monitoring/gpus/:uuid/metrics
// with ?from= and ?to= (RFC 3339; default the last hour), ?resolution=raw,
// hourly or auto (raw for ranges up to a day that raw data still covers),
// ?limit= (1–10000, default 2000).
void AddMonitoringRoutes(Router& router, MonitoringApi& api);

}  // namespace remotegpu::api
