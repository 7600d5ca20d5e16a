// What host agents call (agent tokens, api/auth.h; admins may too): the
// machine's facts and GPUs, heartbeats, metrics, and the environments the
// host should run. An agent speaks only for the host its token names;
// another host's id answers 404.
#pragma once

#include "api/http/router.h"
#include "commands/host_service.h"
#include "commands/process_managers.h"
#include "commands/scheduler_index.h"
#include "common/clock.h"
#include "projections/metrics_store.h"

namespace remotegpu::api {

class MetricsFeed;

struct AgentApi {
  commands::HostService* hosts = nullptr;
  commands::OfflineDetector* liveness = nullptr;
  commands::EnvironmentService* environments = nullptr;
  commands::SchedulerIndex* index = nullptr;
  commands::HealthMonitor* health = nullptr;
  projections::MetricsStore* metrics = nullptr;
  const Clock* clock = nullptr;
  MetricsFeed* live = nullptr;  // Accepted batches go here too (/ws/admin/monitoring); may be null.
};

// At most this many samples in one metrics POST.
inline constexpr int kMaxSamplesPerPost = 1000;

// GET /internal/agent/me; POST /internal/hosts/:id/facts (a domain::AgentReport in protobuf's JSON
// form; unknown fields are refused), POST /internal/hosts/:id/heartbeat,
// POST /internal/hosts/:id/metrics (a domain::MetricsBatch: stored, and its
// newest sample judged for health; 503 + Retry-After when the store's queue
// is full), GET /internal/hosts/:id/environments (what should run there).
void AddAgentRoutes(Router& router, AgentApi& api);

}  // namespace remotegpu::api
