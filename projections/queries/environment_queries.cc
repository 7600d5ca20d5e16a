#include "projections/queries/environment_queries.h"

#include "projections/queries/sql_list.h"

namespace remotegpu::queries {

Result<std::string> ListEnvironments(ReadStore& reads, const EnvironmentFilter& filter,
                                     const Paging& paging) {
  SqlList list{.from = "{s}.environments", .tiebreak = "env_id"};
  list.EqualIfSet("owner", filter.owner);
  list.EqualIfGiven("status", filter.status);
  list.EqualIfGiven("host_id", filter.host_id);
  list.EqualIfGiven("workspace_id", filter.workspace_id);
  return ListPage(reads, list, kEnvironmentList, paging);
}

Result<std::optional<std::string>> EnvironmentDetail(ReadStore& reads, const std::string& env_id,
                                                     const std::optional<std::string>& owner) {
  std::optional<std::string> env;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    std::string sql = "SELECT to_jsonb(e)::text FROM " + reads.schema() +
                      ".environments e WHERE env_id = " + tx.quote(env_id);
    if (owner) sql += " AND owner = " + tx.quote(*owner);
    auto rows = tx.exec(sql);
    if (!rows.empty()) env = rows[0][0].c_str();
  });
  if (!read.ok()) return read;
  return env;
}

Result<std::string> ListSchedulingHistory(ReadStore& reads, const SchedulingFilter& filter,
                                          const Paging& paging) {
  SqlList list{.from = "{s}.scheduler_history", .tiebreak = "env_id"};
  list.EqualIfGiven("env_id", filter.env_id);
  list.EqualIfGiven("result", filter.result);
  return ListPage(reads, list, kSchedulingHistory, paging);
}

}  // namespace remotegpu::queries
