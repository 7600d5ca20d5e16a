#include "projections/queries/lease_queries.h"

#include "projections/queries/sql_list.h"

namespace remotegpu::queries {

Result<std::string> ListLeases(ReadStore& reads, const LeaseFilter& filter, const Paging& paging) {
  SqlList list{.from = "{s}.leases", .tiebreak = "lease_id"};
  switch (filter.tab) {
    case LeaseTab::kCurrent:
      list.conditions = " AND status IN ('pending', 'active', 'expiring')";
      break;
    case LeaseTab::kHistory:
      list.conditions = " AND status IN ('expired', 'reclaimed')";
      break;
    case LeaseTab::kExpiring:
      list.conditions =
          " AND status IN ('active', 'expiring') AND expires_at < now() + interval '7 days'";
      break;
  }
  list.EqualIfSet("customer_id", filter.customer_id);
  return ListPage(reads, list, kLeaseList, paging);
}

Result<std::string> ListMachines(ReadStore& reads, const MachineFilter& filter,
                                 const Paging& paging) {
  SqlList list{
      .from =
          "(SELECT h.host_id, h.name, h.region, h.room, h.rack, h.gpu_model, h.gpu_count, "
          "h.gpus_free, (SELECT max(g.memory_mb) FROM {s}.gpus g WHERE g.host_id = h.host_id) "
          "AS gpu_memory_mb, h.cpu_cores, h.memory_mb, h.disk_gb, h.ip_address, h.public_ip, "
          "h.ssh_port, h.os_version, h.online, h.operational_status, h.health_status, "
          "h.usage_status, h.labels, h.registered_at, l.lease_id, l.customer_id AS allocated_to, "
          "l.expires_at AS allocated_until, CASE WHEN l.lease_id IS NOT NULL THEN 'allocated' "
          "ELSE 'unallocated' END AS allocation_status FROM {s}.hosts h LEFT JOIN LATERAL "
          "(SELECT lease_id, customer_id, expires_at FROM {s}.leases l WHERE l.host_ids ? "
          "h.host_id AND l.status IN ('pending', 'active', 'expiring') ORDER BY l.expires_at "
          "DESC LIMIT 1) l ON true WHERE h.operational_status <> 'retired') machines",
      .tiebreak = "host_id"};
  switch (filter.status) {
    case MachineStatus::kAll:
      break;
    case MachineStatus::kOnline:
      list.conditions = " AND online";
      break;
    case MachineStatus::kOffline:
      list.conditions = " AND NOT online";
      break;
    case MachineStatus::kAllocated:
      list.conditions = " AND allocation_status = 'allocated'";
      break;
    case MachineStatus::kUnallocated:
      list.conditions = " AND allocation_status = 'unallocated'";
      break;
  }
  list.EqualIfGiven("gpu_model", filter.gpu_model);
  list.EqualIfGiven("region", filter.region);
  list.EqualIfSet("allocated_to", filter.allocated_to);
  if (!filter.search.empty())
    list.compares.push_back({"name", "ILIKE", ContainsPattern(filter.search)});
  return ListPage(reads, list, kMachineList, paging);
}

Result<nlohmann::json> AdminDashboardStats(ReadStore& reads) {
  nlohmann::json stats;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const std::string s = reads.schema() + ".";
    auto counts = [&](const std::string& sql) {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& row : tx.exec(sql)) out[row[0].c_str()] = row[1].as<int64_t>();
      return out;
    };
    stats["hosts_by_status"] =
        counts("SELECT operational_status, count(*) FROM " + s + "hosts GROUP BY 1");
    stats["hosts_by_health"] =
        counts("SELECT health_status, count(*) FROM " + s + "hosts GROUP BY 1");
    stats["environments_by_status"] =
        counts("SELECT status, count(*) FROM " + s + "environments GROUP BY 1");
    auto gpus = tx.exec1(
        "SELECT coalesce(sum(gpu_count), 0), coalesce(sum(gpu_count - gpus_free), 0) FROM " + s +
        "hosts WHERE operational_status <> 'retired'");
    const int64_t total = gpus[0].as<int64_t>(), allocated = gpus[1].as<int64_t>();
    stats["gpus_total"] = total;
    stats["gpus_allocated"] = allocated;
    stats["gpu_allocation_rate"] = total == 0 ? 0.0 : static_cast<double>(allocated) / total;
    stats["leases_expiring_within_7_days"] =
        tx.exec1("SELECT count(*) FROM " + s +
                 "leases WHERE status IN ('active', 'expiring') AND expires_at < now() + "
                 "interval '7 days'")[0]
            .as<int64_t>();
  });
  if (!read.ok()) return read;
  return stats;
}

}  // namespace remotegpu::queries
