// Queries over the leases read model joined with the CMDB's hosts: seed 02's
// allocation tabs, the machine list with who holds each machine, and the
// admin dashboard's counts.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "projections/queries/paging.h"
#include "projections/queries/read_store.h"

namespace remotegpu::queries {

// Seed 02's allocation tabs.
enum class LeaseTab {
  kCurrent,   // pending, active, expiring
  kHistory,   // expired, reclaimed
  kExpiring,  // active or expiring, ending within 7 days
};
struct LeaseFilter {
  LeaseTab tab = LeaseTab::kCurrent;
  std::optional<std::string> customer_id;  // Set: that customer's only.
};
inline const ListShape kLeaseList{{"expires_at", "starts_at", "lease_id"}, "expires_at"};
Result<std::string> ListLeases(ReadStore& reads, const LeaseFilter& filter, const Paging& paging);

enum class MachineStatus { kAll, kOnline, kOffline, kAllocated, kUnallocated };
// Each machine not retired, with the lease that holds it, if any.
struct MachineFilter {
  MachineStatus status = MachineStatus::kAll;
  std::string search;  // Part of the name, matched literally.
  std::string gpu_model, region;
  std::optional<std::string> allocated_to;  // Set: leased to that customer only.
};
inline const ListShape kMachineList{{"name", "registered_at", "gpus_free", "region"}, "name"};
Result<std::string> ListMachines(ReadStore& reads, const MachineFilter& filter,
                                 const Paging& paging);

// {hosts_by_status, hosts_by_health, environments_by_status, gpus_total,
// gpus_allocated, gpu_allocation_rate, leases_expiring_within_7_days}.
Result<nlohmann::json> AdminDashboardStats(ReadStore& reads);

}  // namespace remotegpu::queries
