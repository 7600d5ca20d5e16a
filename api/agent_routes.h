// What host agents call (agent tokens, api/auth.h; admins may too): the
// machine's facts and GPUs, and heartbeats. An agent speaks only for the host
// its token names; another host's id answers 404.
#pragma once

#include "api/router.h"
#include "commands/host_service.h"
#include "commands/process_managers.h"

namespace remotegpu::api {

struct AgentApi {
  commands::HostService* hosts = nullptr;
  commands::OfflineDetector* liveness = nullptr;
};

// GET /internal/agent/me; POST /internal/hosts/:id/facts (a domain::AgentReport in protobuf's JSON
// form; unknown fields are refused), POST /internal/hosts/:id/heartbeat.
void AddAgentRoutes(Router& router, AgentApi& api);

}  // namespace remotegpu::api
