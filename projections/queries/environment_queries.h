// Queries over the environments read model and the scheduler's history,
// each with its SQL.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "projections/queries/paging.h"
#include "projections/queries/read_store.h"

namespace remotegpu::queries {

// Empty strings mean "any"; an owner set (a customer's scope) always applies.
struct EnvironmentFilter {
  std::optional<std::string> owner;
  std::string status, host_id, workspace_id;
};
inline const ListShape kEnvironmentList{{"created_at", "name", "status"}, "created_at"};
Result<std::string> ListEnvironments(ReadStore& reads, const EnvironmentFilter& filter,
                                     const Paging& paging);

// The environment's row as JSON text; nullopt when there is none, or when
// `owner` is set and the environment is someone else's.
Result<std::optional<std::string>> EnvironmentDetail(ReadStore& reads, const std::string& env_id,
                                                     const std::optional<std::string>& owner);

// Every placement and failure, by log position.
struct SchedulingFilter {
  std::string env_id, result;
};
inline const ListShape kSchedulingHistory{{"position"}, "position"};
Result<std::string> ListSchedulingHistory(ReadStore& reads, const SchedulingFilter& filter,
                                          const Paging& paging);

}  // namespace remotegpu::queries
