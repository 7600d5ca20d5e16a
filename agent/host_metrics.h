// The metrics an agent samples every interval (seed 03 host_metrics and
// gpu_metrics): CPU use and load, memory, disk space and I/O, network, and
// per GPU utilisation, memory, temperature, power, ECC counts and XID events.
//
// Host figures come from files under a root ("/" on a host, a fixture tree
// in tests): proc/stat, proc/loadavg, proc/meminfo, proc/diskstats,
// proc/net/dev, and statvfs of the root. GPU figures come from NVML, kept
// loaded between samples, else from `nvidia-smi --query-gpu`, else none.
//
// Thread-safety: a collector is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/gpu_discovery.h"
#include "domain/proto/metrics.pb.h"

namespace remotegpu::agent {

class Nvml;

// Jiffies from the "cpu" line of /proc/stat: all of them, and the idle ones
// (idle + iowait).
struct CpuTimes {
  uint64_t total = 0;
  uint64_t idle = 0;
};
struct IoTotals {
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};

// Pure parsers; what is missing or malformed reads as zero.
CpuTimes ParseProcStat(std::string_view text);
// Busy share between two readings, 0–100; 0 when no time passed.
double CpuUsagePercent(const CpuTimes& before, const CpuTimes& after);
// Whole disks only (sda, vdb, nvme0n1, mmcblk0; not partitions, loop, ram,
// device-mapper or md devices, which would count the same bytes twice).
void ParseDiskstats(std::string_view text, IoTotals* totals);
// Every interface but loopback.
void ParseNetDev(std::string_view text, IoTotals* totals);

class MetricsCollector {
 public:
  MetricsCollector(std::string root, GpuDiscoveryOptions gpus);
  ~MetricsCollector();

  // A sample stamped `now_us`. CPU use is over the time since the previous
  // call (the first call measures nothing and says 0).
  domain::HostSample Collect(int64_t now_us);
  // Where GPU figures come from: "nvml", "nvidia-smi" or "none".
  const std::string& gpu_source() const { return gpu_source_; }

 private:
  void CollectGpus(domain::HostSample& sample);

  std::string root_;
  GpuDiscoveryOptions gpu_options_;
  CpuTimes previous_cpu_;
  std::unique_ptr<Nvml> nvml_;
  std::string gpu_source_;  // Decided on the first sample.
  uint32_t last_gpu_count_ = 0;
};

}  // namespace remotegpu::agent
