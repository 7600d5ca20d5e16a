#include "projections/queries/cmdb_queries.h"

#include "projections/queries/sql_list.h"

namespace remotegpu::queries {

Result<std::string> ListHosts(ReadStore& reads, const HostFilter& filter, const Paging& paging) {
  SqlList list{.from = "{s}.hosts", .tiebreak = "host_id"};
  if (filter.min_free_gpus)
    list.conditions = " AND gpus_free >= " + std::to_string(*filter.min_free_gpus);
  if (!filter.label.empty()) list.compares.push_back({"labels", "?", filter.label});
  list.EqualIfGiven("operational_status", filter.operational_status);
  list.EqualIfGiven("health_status", filter.health_status);
  list.EqualIfGiven("gpu_model", filter.gpu_model);
  list.EqualIfGiven("region", filter.region);
  return ListPage(reads, list, kHostList, paging);
}

Result<std::optional<std::string>> HostDetail(ReadStore& reads, const std::string& host_id) {
  std::optional<std::string> host;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const std::string s = reads.schema() + ".";
    auto rows = tx.exec_params(
        "SELECT (to_jsonb(h) || jsonb_build_object('gpus', coalesce((SELECT "
        "jsonb_agg(g ORDER BY g.gpu_index) FROM " +
            s + "gpus g WHERE g.host_id = h.host_id), '[]'::jsonb)))::text FROM " + s +
            "hosts h WHERE h.host_id = $1",
        host_id);
    if (!rows.empty()) host = rows[0][0].c_str();
  });
  if (!read.ok()) return read;
  return host;
}

Result<std::string> ListGpus(ReadStore& reads, const GpuFilter& filter, const Paging& paging) {
  SqlList list{.from = "{s}.gpus", .tiebreak = "gpu_index"};
  if (filter.free) {
    list.conditions =
        *filter.free ? " AND allocation_id IS NULL" : " AND allocation_id IS NOT NULL";
  }
  list.EqualIfGiven("host_id", filter.host_id);
  list.EqualIfGiven("model", filter.model);
  return ListPage(reads, list, kGpuList, paging);
}

Result<std::string> ListAvailableServers(ReadStore& reads, const CapacityFilter& filter,
                                         const Paging& paging) {
  SqlList list{.from = "{s}.hosts",
               .tiebreak = "host_id",
               .conditions = " AND operational_status = 'available' AND online AND NOT isolated"};
  const std::pair<const char*, const std::optional<int64_t>&> minimums[] = {
      {"cpu_cores - cpu_allocated", filter.cpu_cores},
      {"memory_mb - memory_allocated_mb", filter.memory_mb},
      {"gpus_free", filter.gpus}};
  for (const auto& [column, minimum] : minimums) {
    if (minimum)
      list.conditions += std::string(" AND ") + column + " >= " + std::to_string(*minimum);
  }
  list.EqualIfGiven("gpu_model", filter.gpu_model);
  list.EqualIfGiven("os_type", filter.os_type);
  return ListPage(reads, list, kAvailableServerList, paging);
}

Result<std::string> ListChanges(ReadStore& reads, const std::string& asset_id,
                                const Paging& paging) {
  SqlList list{.from = "{s}.change_log", .tiebreak = "seq"};
  list.equals = {{"asset_id", asset_id}};
  return ListPage(reads, list, kChangeList, paging);
}

Result<std::string> PortUsage(ReadStore& reads, const std::string& host_id) {
  std::string data;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const std::string s = reads.schema() + ".";
    const std::string pools_where =
        " WHERE p.host_id IN (SELECT host_id FROM " + s +
        "hosts WHERE operational_status <> 'retired')" +
        (host_id.empty() ? "" : " AND p.host_id = " + tx.quote(host_id));
    const std::string used_where = host_id.empty() ? "" : " WHERE m.host_id = " + tx.quote(host_id);
    // One row per service, rendered by PostgreSQL.
    data = tx.exec1(
                 "WITH pools AS (SELECT service, sum(last_port - first_port + 1) AS total "
                 "FROM " +
                 s + "port_pools p" + pools_where +
                 " GROUP BY service), "
                 "used AS (SELECT service, count(*) AS used FROM " +
                 s + "port_mappings m" + used_where +
                 " GROUP BY service), "
                 "rows AS (SELECT coalesce(p.service, u.service) AS service, "
                 "coalesce(p.total, 0) AS total, coalesce(u.used, 0) AS used "
                 "FROM pools p FULL JOIN used u ON u.service = p.service) "
                 "SELECT json_build_object("
                 "'total', coalesce(sum(total), 0), 'used', coalesce(sum(used), 0), "
                 "'available', coalesce(sum(greatest(total - used, 0)), 0), "
                 "'by_service', coalesce(json_agg(json_build_object("
                 "'service', service, 'total', total, 'used', used, "
                 "'available', greatest(total - used, 0)) ORDER BY service), '[]'))::text "
                 "FROM rows")[0]
               .c_str();
  });
  if (!read.ok()) return read;
  return data;
}

}  // namespace remotegpu::queries
