#include "agent/gpu_discovery.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "agent/nvidia_smi.h"
#include "agent/nvml.h"
#include "common/subprocess.h"

namespace remotegpu::agent {

Result<std::string> RunForStdout(const std::vector<std::string>& argv) {
  auto child = Subprocess::Spawn(argv, {.capture_stdout = true});
  if (!child.ok()) return Status::Unavailable(child.status().message());
  std::string out = child->ReadAllStdout();
  const int status = child->Wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const bool missing = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    return Status::Unavailable(argv[0] + (missing ? " was not found" : " failed") +
                               (out.empty() ? "" : ": " + out.substr(0, 200)));
  }
  return out;
}

Result<GpuReport> DiscoverWithNvml(const std::string& library) {
  auto nvml = Nvml::Load(library);
  if (!nvml.ok()) return nvml.status();
  auto gpus = (*nvml)->Gpus();
  if (!gpus.ok()) return gpus.status();
  return GpuReport{std::move(*gpus), (*nvml)->DriverVersion(), "nvml", ""};
}

Result<GpuReport> DiscoverWithNvidiaSmi(const std::string& binary) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), std::begin(kQueryGpuArgs), std::end(kQueryGpuArgs));
  auto out = RunForStdout(argv);
  if (!out.ok()) return out.status();
  auto parsed = ParseQueryGpu(*out);
  if (!parsed.ok()) return parsed.status();
  return GpuReport{std::move(parsed->gpus), parsed->driver_version, "nvidia-smi", ""};
}

Status AddNvLinkPeers(const std::string& binary, std::vector<domain::Gpu>& gpus) {
  auto out = RunForStdout({binary, "topo", "-m"});
  if (!out.ok()) return out.status();
  auto peers = ParseNvLinkPeers(*out);
  if (!peers.ok()) return peers.status();
  // Only peers among the GPUs discovered: the matrix may list others (a GPU
  // NVML could not open).
  std::set<uint32_t> known;
  for (const auto& gpu : gpus) known.insert(gpu.index());
  for (auto& gpu : gpus) {
    gpu.clear_nvlink_peers();
    if (auto it = peers->find(gpu.index()); it != peers->end()) {
      for (uint32_t peer : it->second) {
        if (known.contains(peer)) gpu.add_nvlink_peers(peer);
      }
    }
  }
  return Status::Ok();
}

GpuReport DiscoverGpus(const GpuDiscoveryOptions& options) {
  std::string note;
  auto report = DiscoverWithNvml(options.nvml_library);
  if (!report.ok()) {
    note = "NVML: " + report.status().message();
    report = DiscoverWithNvidiaSmi(options.nvidia_smi);
    if (!report.ok()) {
      note += "; nvidia-smi: " + report.status().message();
      return GpuReport{{}, "", "none", note};
    }
  }
  report->note = note;
  if (report->gpus.size() > 1) {
    Status peers = AddNvLinkPeers(options.nvidia_smi, report->gpus);
    if (!peers.ok()) {
      report->note += (report->note.empty() ? "" : "; ") + std::string("NVLink peers unknown: ") +
                      peers.message();
    }
  }
  return *report;
}

}  // namespace remotegpu::agent
