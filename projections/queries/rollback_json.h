// How the CLI and the API print a host rollback plan.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "commands/rollback.h"
#include "projections/queries/event_json.h"

namespace remotegpu::queries {

// {<id_key>: host, from_version, to_version, events, not_rolled_back, dry_run}
inline nlohmann::json RollbackPlanJson(const std::string& id_key,
                                       const commands::RollbackPlan& plan, bool dry_run) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& event : plan.events) events.push_back(ProtoJson(event));
  return {{id_key, plan.host_id},
          {"from_version", plan.from_version},
          {"to_version", plan.to_version},
          {"events", events},
          {"not_rolled_back", plan.not_rolled_back},
          {"dry_run", dry_run}};
}

}  // namespace remotegpu::queries
