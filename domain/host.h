// The Host decider: a CMDB asset, its GPUs, its operational, health and
// usage statuses, and the resources allocated on it. Pure: state and command
// in, events or an error out.
//
// Operational status transitions (seed 01 §2.2):
//
//   from \ to     available  maintenance  faulty  retired  reserved
//   available         -           x          x        x        x
//   maintenance       x           -          x        x
//   faulty            x           x          -        x
//   reserved          x           x          x        x        -
//   retired                                                          (final)
//
// Preconditions: maintenance and retirement need a host without allocations
// unless the command says drain; reserved names for whom; a maintenance set by
// a person is never lifted by automation.
//
// Health (seed 03 §4.3): unhealthy when a GPU is inaccessible or reports
// uncorrectable ECC errors; degraded when a GPU runs above 85 °C or draws
// more than its power limit, disk is under 10 % free or memory under 5 %
// free; healthy otherwise. Reasons name the threshold, not the reading, so a
// hot GPU whose temperature moves does not write an event per sample. An unhealthy host is isolated
// (not schedulable) and returns as soon as a report is no longer unhealthy.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/host.pb.h"
#include "domain/proto/metrics.pb.h"

namespace remotegpu::domain {

inline constexpr double kGpuHotCelsius = 85.0;
inline constexpr double kDiskLowFreePercent = 10.0;
inline constexpr double kMemoryLowFreePercent = 5.0;

struct HostAllocation {
  std::string allocation_id;
  std::string holder;
  uint32_t cpu_cores = 0;
  uint64_t memory_mb = 0;
  std::vector<uint32_t> gpu_indexes;
  std::vector<PortBinding> ports;
  bool whole_machine = false;
};

struct HostState {
  bool registered = false;
  HostSpec spec;
  AssetInfo asset;
  std::map<uint32_t, Gpu> gpus;  // By index.
  OperationalStatus status = OPERATIONAL_STATUS_UNSPECIFIED;
  bool maintenance_by_person = false;
  std::string reserved_for;
  bool online = true;
  HealthStatus health = HEALTHY;
  std::vector<std::string> health_reasons;
  bool isolated = false;
  std::map<std::string, HostAllocation> allocations;  // By allocation id.

  // Kept by Apply from `allocations`.
  uint32_t cpu_allocated = 0;
  uint64_t memory_allocated = 0;
  std::map<uint32_t, std::string> gpu_holders;   // GPU index -> allocation id.
  std::map<uint32_t, std::string> port_holders;  // Port -> allocation id.
  bool leased = false;                           // A whole-machine allocation exists.

  UsageStatus Usage() const;
  // Open for new environment placements: registered, available, online, not
  // isolated and not leased as a whole machine.
  bool Schedulable() const;
  uint64_t CpuCapacity() const;     // With the overcommit allowance.
  uint64_t MemoryCapacity() const;  // With the overcommit allowance.
};

// Folds one event into the state.
void Apply(HostState& state, const HostEvent& event);

// The events `command` produces on `state`, or why it is refused:
// InvalidArgument (malformed), NotFound (no such host, GPU or allocation),
// AlreadyExists, FailedPrecondition (a rule of the state machine) or
// ResourceExhausted (no capacity, GPU taken, no free port).
Result<std::vector<HostEvent>> Decide(const HostState& state, const HostCommand& command,
                                      const DecideContext& context);

// The port pools of a host: its own, or the defaults where it names none.
std::vector<PortRange> EffectivePortRanges(const HostSpec& spec);

struct HealthVerdict {
  HealthStatus status = HEALTHY;
  std::vector<std::string> reasons;
  bool operator==(const HealthVerdict&) const = default;
};
// What a report says about the host's health, by the rules above.
HealthVerdict JudgeHealth(const ReportHealth& report);
// The health report a metrics sample amounts to (what the server decides on
// when samples arrive). A sample without memory or disk totals counts those
// as fine.
ReportHealth HealthReportOf(const HostSample& sample);

// Whether an agent's metrics batch is fit to store for `host`: every number
// finite and in the range its column and meaning allow (percentages 0 to
// 100, counters at most 2^63 - 1, temperatures -100 to 300 °C, …), every
// GPU sample about a GPU of this host (its UUID among the host's GPUs, or,
// for a GPU the driver stopped answering for and whose UUID is unknown, its
// index).
// InvalidArgument naming the first field that is not ("samples[3].gpus[0].
// temperature_c must be …"): one poisoned sample never reaches storage.
Status ValidateMetricsBatch(const MetricsBatch& batch, const HostState& host);

const char* Name(OperationalStatus status);
const char* Name(HealthStatus status);
const char* Name(PortService service);

}  // namespace remotegpu::domain
