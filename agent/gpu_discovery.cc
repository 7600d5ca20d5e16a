#include "agent/gpu_discovery.h"

#include <dlfcn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "agent/nvidia_smi.h"
#include "common/subprocess.h"

namespace remotegpu::agent {
namespace {

// From nvml.h (the ABI these entry points have had since NVML 5.319).
using NvmlReturn = int;  // nvmlReturn_t; 0 is NVML_SUCCESS.
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr unsigned int kNvmlStringLength = 96;  // Enough for names, UUIDs and versions.

// The loaded library and its functions; closes it when done.
class Nvml {
 public:
  ~Nvml() {
    if (shutdown_ != nullptr && initialised_) shutdown_();
    if (handle_ != nullptr) dlclose(handle_);
  }

  Status Load(const std::string& library) {
    handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* error = dlerror();
      return Status::Unavailable("cannot load " + library + ": " + (error ? error : "unknown"));
    }
    bool found = Find("nvmlInit_v2", &init_) && Find("nvmlShutdown", &shutdown_) &&
                 Find("nvmlDeviceGetCount_v2", &count_) &&
                 Find("nvmlDeviceGetHandleByIndex_v2", &by_index_) &&
                 Find("nvmlDeviceGetName", &name_) && Find("nvmlDeviceGetUUID", &uuid_) &&
                 Find("nvmlDeviceGetMemoryInfo", &memory_) &&
                 Find("nvmlDeviceGetCudaComputeCapability", &compute_) &&
                 Find("nvmlSystemGetDriverVersion", &driver_);
    if (!found) return Status::Unavailable(library + " lacks an NVML function this agent needs");
    if (NvmlReturn r = init_(); r != 0) {
      return Status::Unavailable("nvmlInit failed (NVML error " + std::to_string(r) +
                                 "): no NVIDIA driver running?");
    }
    initialised_ = true;
    return Status::Ok();
  }

  Result<GpuReport> Report() {
    GpuReport report;
    report.source = "nvml";
    char text[kNvmlStringLength];
    if (driver_(text, sizeof text) == 0) report.driver_version = text;
    unsigned int count = 0;
    if (NvmlReturn r = count_(&count); r != 0) return Failed("nvmlDeviceGetCount", r);
    for (unsigned int i = 0; i < count; ++i) {
      NvmlDevice device = nullptr;
      if (NvmlReturn r = by_index_(i, &device); r != 0) return Failed("nvmlDeviceGetHandle", r);
      domain::Gpu gpu;
      gpu.set_index(i);
      if (NvmlReturn r = name_(device, text, sizeof text); r != 0) {
        return Failed("nvmlDeviceGetName", r);
      }
      gpu.set_model(text);
      if (NvmlReturn r = uuid_(device, text, sizeof text); r != 0) {
        return Failed("nvmlDeviceGetUUID", r);
      }
      gpu.set_uuid(text);
      NvmlMemory memory{};
      if (NvmlReturn r = memory_(device, &memory); r != 0) {
        return Failed("nvmlDeviceGetMemoryInfo", r);
      }
      gpu.set_memory_mb(memory.total / (1024 * 1024));
      int major = 0, minor = 0;
      if (compute_(device, &major, &minor) == 0) {
        gpu.set_compute_capability(std::to_string(major) + "." + std::to_string(minor));
      }
      report.gpus.push_back(std::move(gpu));
    }
    return report;
  }

 private:
  template <typename Function>
  bool Find(const char* name, Function** out) {
    *out = reinterpret_cast<Function*>(dlsym(handle_, name));
    return *out != nullptr;
  }
  static Status Failed(const char* call, NvmlReturn r) {
    return Status::IoError(std::string(call) + " failed (NVML error " + std::to_string(r) + ")");
  }

  void* handle_ = nullptr;
  bool initialised_ = false;
  NvmlReturn (*init_)() = nullptr;
  NvmlReturn (*shutdown_)() = nullptr;
  NvmlReturn (*count_)(unsigned int*) = nullptr;
  NvmlReturn (*by_index_)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*name_)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*uuid_)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*memory_)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*compute_)(NvmlDevice, int*, int*) = nullptr;
  NvmlReturn (*driver_)(char*, unsigned int) = nullptr;
};

// `argv`'s stdout when it exits 0 (stderr is left to the agent's own).
Result<std::string> Run(const std::vector<std::string>& argv) {
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

}  // namespace

Result<GpuReport> DiscoverWithNvml(const std::string& library) {
  Nvml nvml;
  RGPU_RETURN_IF_ERROR(nvml.Load(library));
  return nvml.Report();
}

Result<GpuReport> DiscoverWithNvidiaSmi(const std::string& binary) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), std::begin(kQueryGpuArgs), std::end(kQueryGpuArgs));
  auto out = Run(argv);
  if (!out.ok()) return out.status();
  auto parsed = ParseQueryGpu(*out);
  if (!parsed.ok()) return parsed.status();
  return GpuReport{std::move(parsed->gpus), parsed->driver_version, "nvidia-smi", ""};
}

Status AddNvLinkPeers(const std::string& binary, std::vector<domain::Gpu>& gpus) {
  auto out = Run({binary, "topo", "-m"});
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
