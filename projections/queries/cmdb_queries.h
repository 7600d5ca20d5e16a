// Queries over the CMDB read model (hosts, GPUs, the change log, port pools),
// each with its SQL. Lists answer the JSON text of one page
// ({list, total, page, pageSize}); details the row's JSON text, or nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "projections/queries/paging.h"
#include "projections/queries/read_store.h"

namespace remotegpu::queries {

// Empty strings and nullopt mean "any".
struct HostFilter {
  std::string operational_status, health_status, gpu_model, region;
  std::string label;  // "key=value": hosts carrying that label.
  std::optional<int64_t> min_free_gpus;
};
inline const ListShape kHostList{{"name", "registered_at", "gpus_free", "region"}, "name"};
Result<std::string> ListHosts(ReadStore& reads, const HostFilter& filter, const Paging& paging);

// A host with its GPUs ({…host, gpus: [...]}, by GPU index).
Result<std::optional<std::string>> HostDetail(ReadStore& reads, const std::string& host_id);

struct GpuFilter {
  std::string host_id, model;
  std::optional<bool> free;  // Not held by any allocation.
};
inline const ListShape kGpuList{{"host_id", "model"}, "host_id"};
Result<std::string> ListGpus(ReadStore& reads, const GpuFilter& filter, const Paging& paging);

// Hosts open for placement (available, online, not isolated) with at least
// the free capacity asked for.
struct CapacityFilter {
  std::optional<int64_t> cpu_cores, memory_mb, gpus;
  std::string gpu_model, os_type;
};
inline const ListShape kAvailableServerList{{"gpus_free", "name"}, "gpus_free"};
Result<std::string> ListAvailableServers(ReadStore& reads, const CapacityFilter& filter,
                                         const Paging& paging);

// An asset's change history (old and new values per field).
inline const ListShape kChangeList{{"position"}, "position"};
Result<std::string> ListChanges(ReadStore& reads, const std::string& asset_id,
                                const Paging& paging);

// Port pools by service on hosts not retired ({total, used, available,
// by_service: [...]}); one host's when host_id is not empty.
Result<std::string> PortUsage(ReadStore& reads, const std::string& host_id);

}  // namespace remotegpu::queries
