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
class HostSignals;

struct AgentApi {
  commands::HostService* hosts = nullptr;
  commands::OfflineDetector* liveness = nullptr;
  commands::EnvironmentService* environments = nullptr;
  commands::SchedulerIndex* index = nullptr;
  commands::HealthMonitor* health = nullptr;
  projections::MetricsStore* metrics = nullptr;
  const Clock* clock = nullptr;
  MetricsFeed* live = nullptr;  // Accepted batches go here too (/ws/admin/monitoring); may be null.
  HostSignals* signals = nullptr;  // Wakes long-polls of desired state; may be null (no waiting).
};

// At most this many samples in one metrics POST.
inline constexpr int kMaxSamplesPerPost = 1000;

// GET /internal/agent/me; POST /internal/hosts/:id/facts (a domain::AgentReport in protobuf's JSON
// form; unknown fields are refused), POST /internal/hosts/:id/heartbeat,
// POST /internal/hosts/:id/metrics (a domain::MetricsBatch: stored, and its
// newest sample judged for health; 503 + Retry-After when the store's queue
// is full), GET /internal/hosts/:id/environments (what should run there; with
// ?after=P&wait_ms=W a long-poll: answered once something the host's agent
// runs changed past log position P, or after W ms, whichever is first).
void AddAgentRoutes(Router& router, AgentApi& api);

}  // namespace remotegpu::api
