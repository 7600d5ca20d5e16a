// GPU discovery on a host: NVML loaded at run time with dlopen (no build-time
// dependency on the driver), else `nvidia-smi`, else zero GPUs with the
// reason. NVLink peers come from `nvidia-smi topo -m` either way.
// NVML's interface: agent/nvml.h.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/proto/host.pb.h"

namespace remotegpu::agent {

struct GpuReport {
  std::vector<domain::Gpu> gpus;  // Ordered by index.
  std::string driver_version;
  std::string source;  // "nvml", "nvidia-smi" or "none".
  // What went wrong on the way (why NVML or nvidia-smi was not used); empty
  // when the first source worked.
  std::string note;
};

struct GpuDiscoveryOptions {
  std::string nvml_library = "libnvidia-ml.so.1";  // A name for dlopen, or a path.
  std::string nvidia_smi = "nvidia-smi";           // Looked up on PATH unless a path.
};

// `argv`'s stdout when it exits 0 (stderr is left to the agent's own);
// Unavailable when it cannot run or fails.
Result<std::string> RunForStdout(const std::vector<std::string>& argv);

// NVML's view: Unavailable when the library does not load or initialise
// (no driver), IoError when a query fails.
Result<GpuReport> DiscoverWithNvml(const std::string& library);
// nvidia-smi's view (query and topology): Unavailable when it does not run,
// InvalidArgument when its output does not parse.
Result<GpuReport> DiscoverWithNvidiaSmi(const std::string& binary);
// NVLink peers from `binary topo -m` laid onto `gpus` (peers among them
// only); Unavailable when it
// does not run (the GPUs then keep no peers).
Status AddNvLinkPeers(const std::string& binary, std::vector<domain::Gpu>& gpus);

// Tries NVML, then nvidia-smi; never fails: a host with neither reports zero
// GPUs and says why in `note`.
GpuReport DiscoverGpus(const GpuDiscoveryOptions& options = {});

}  // namespace remotegpu::agent
