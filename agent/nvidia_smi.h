// Parsers of what `nvidia-smi` prints, for GPU discovery on hosts where NVML
// cannot be loaded (agent/gpu_discovery.h):
//
//   nvidia-smi --query-gpu=index,uuid,name,memory.total,compute_cap,driver_version
//              --format=csv,noheader,nounits
//   nvidia-smi topo -m
//   nvidia-smi --query-gpu=index,uuid,utilization.gpu,memory.used,memory.total,
//              temperature.gpu,power.draw,power.limit,
//              ecc.errors.uncorrected.volatile.total,
//              ecc.errors.corrected.volatile.total --format=csv,noheader,nounits
//
// Pure functions over text; tests feed them fixtures of real output.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "domain/proto/host.pb.h"
#include "domain/proto/metrics.pb.h"

namespace remotegpu::agent {

// The arguments of the query whose output ParseQueryGpu reads.
inline constexpr const char* kQueryGpuArgs[] = {
    "--query-gpu=index,uuid,name,memory.total,compute_cap,driver_version",
    "--format=csv,noheader,nounits"};

// The arguments of the query whose output ParseQueryGpuMetrics reads.
inline constexpr const char* kQueryGpuMetricsArgs[] = {
    "--query-gpu=index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,"
    "power.draw,power.limit,ecc.errors.uncorrected.volatile.total,"
    "ecc.errors.corrected.volatile.total",
    "--format=csv,noheader,nounits"};

struct SmiGpus {
  std::vector<domain::Gpu> gpus;  // Ordered by index.
  std::string driver_version;     // Of the first GPU; empty when unknown.
};

// One GPU per non-empty line: "0, GPU-…, NVIDIA H100 80GB HBM3, 81559, 9.0,
// 535.129.03". "[N/A]" and "[Not Supported]" fields stay empty.
// InvalidArgument naming the line for anything else (too few fields, an
// index or memory that is not a number, a repeated index).
Result<SmiGpus> ParseQueryGpu(std::string_view csv);

// One sample per non-empty line (memory in MiB, power in W), ordered by
// index; every GPU listed counts as accessible. "[N/A]" and "[Not
// Supported]" leave the value unknown (has_temperature, has_power, has_ecc
// false). InvalidArgument naming the line for anything else.
Result<std::vector<domain::GpuSample>> ParseQueryGpuMetrics(std::string_view csv);

// The GPU-to-GPU part of the topology matrix: for each GPU index the
// indexes it reaches over NVLink ("NV#" cells), ascending. Rows and columns
// of NICs and the legend are ignored; terminal colour codes are stripped.
// InvalidArgument when there is no "GPU0 …" header.
Result<std::map<uint32_t, std::vector<uint32_t>>> ParseNvLinkPeers(std::string_view matrix);

}  // namespace remotegpu::agent
