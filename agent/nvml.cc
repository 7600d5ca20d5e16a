#include "agent/nvml.h"

#include <dlfcn.h>

#include <map>

namespace remotegpu::agent {
namespace {

// From nvml.h (the ABI these entry points have had since NVML 5.319; the
// event wait since R450).
using NvmlReturn = int;  // nvmlReturn_t; 0 is NVML_SUCCESS.
using NvmlDevice = struct NvmlDeviceOpaque*;
using NvmlEventSet = struct NvmlEventSetOpaque*;
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlEventData {
  NvmlDevice device;
  unsigned long long event_type;
  unsigned long long event_data;  // The XID code for XID events.
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};
constexpr unsigned int kNvmlStringLength = 96;         // Enough for names, UUIDs and versions.
constexpr int kTemperatureGpu = 0;                     // NVML_TEMPERATURE_GPU
constexpr int kEccCorrected = 0;                       // NVML_MEMORY_ERROR_TYPE_CORRECTED
constexpr int kEccUncorrected = 1;                     // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
constexpr int kEccVolatile = 0;                        // NVML_VOLATILE_ECC
constexpr unsigned long long kEventXidCritical = 0x8;  // nvmlEventTypeXidCriticalError

Status Failed(const char* call, NvmlReturn r) {
  return Status::IoError(std::string(call) + " failed (NVML error " + std::to_string(r) + ")");
}

}  // namespace

// The functions found in the library; optional ones (metrics, events) may be
// null on old drivers.
struct Nvml::Api {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*count)(unsigned int*) = nullptr;
  NvmlReturn (*by_index)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*name)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*uuid)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*compute)(NvmlDevice, int*, int*) = nullptr;
  NvmlReturn (*driver)(char*, unsigned int) = nullptr;
  // Optional.
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*temperature)(NvmlDevice, int, unsigned int*) = nullptr;
  NvmlReturn (*power)(NvmlDevice, unsigned int*) = nullptr;        // Milliwatts.
  NvmlReturn (*power_limit)(NvmlDevice, unsigned int*) = nullptr;  // Milliwatts.
  NvmlReturn (*ecc)(NvmlDevice, int, int, unsigned long long*) = nullptr;
  NvmlReturn (*event_set_create)(NvmlEventSet*) = nullptr;
  NvmlReturn (*register_events)(NvmlDevice, unsigned long long, NvmlEventSet) = nullptr;
  NvmlReturn (*event_wait)(NvmlEventSet, NvmlEventData*, unsigned int) = nullptr;
  NvmlReturn (*event_set_free)(NvmlEventSet) = nullptr;

  NvmlEventSet xid_events = nullptr;  // Created on the first Sample().
  bool xid_tried = false;
  bool initialised = false;
};

Nvml::Nvml(void* handle) : handle_(handle), api_(std::make_unique<Api>()) {}

Nvml::~Nvml() {
  if (api_->xid_events != nullptr && api_->event_set_free != nullptr) {
    api_->event_set_free(api_->xid_events);
  }
  if (api_->initialised) api_->shutdown();
  dlclose(handle_);
}

Result<std::unique_ptr<Nvml>> Nvml::Load(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return Status::Unavailable("cannot load " + library + ": " + (error ? error : "unknown"));
  }
  std::unique_ptr<Nvml> nvml(new Nvml(handle));
  Api& api = *nvml->api_;
  auto find = [handle]<typename Function>(const char* name, Function** out) {
    *out = reinterpret_cast<Function*>(dlsym(handle, name));
    return *out != nullptr;
  };
  bool found = find("nvmlInit_v2", &api.init) && find("nvmlShutdown", &api.shutdown) &&
               find("nvmlDeviceGetCount_v2", &api.count) &&
               find("nvmlDeviceGetHandleByIndex_v2", &api.by_index) &&
               find("nvmlDeviceGetName", &api.name) && find("nvmlDeviceGetUUID", &api.uuid) &&
               find("nvmlDeviceGetMemoryInfo", &api.memory) &&
               find("nvmlDeviceGetCudaComputeCapability", &api.compute) &&
               find("nvmlSystemGetDriverVersion", &api.driver);
  if (!found) return Status::Unavailable(library + " lacks an NVML function this agent needs");
  find("nvmlDeviceGetUtilizationRates", &api.utilization);
  find("nvmlDeviceGetTemperature", &api.temperature);
  find("nvmlDeviceGetPowerUsage", &api.power);
  find("nvmlDeviceGetEnforcedPowerLimit", &api.power_limit);
  find("nvmlDeviceGetTotalEccErrors", &api.ecc);
  find("nvmlEventSetCreate", &api.event_set_create);
  find("nvmlDeviceRegisterEvents", &api.register_events);
  find("nvmlEventSetWait_v2", &api.event_wait);
  find("nvmlEventSetFree", &api.event_set_free);
  if (NvmlReturn r = api.init(); r != 0) {
    return Status::Unavailable("nvmlInit failed (NVML error " + std::to_string(r) +
                               "): no NVIDIA driver running?");
  }
  api.initialised = true;
  return nvml;
}

std::string Nvml::DriverVersion() {
  char text[kNvmlStringLength];
  return api_->driver(text, sizeof text) == 0 ? std::string(text) : std::string();
}

Result<std::vector<domain::Gpu>> Nvml::Gpus() {
  const Api& api = *api_;
  char text[kNvmlStringLength];
  unsigned int count = 0;
  if (NvmlReturn r = api.count(&count); r != 0) return Failed("nvmlDeviceGetCount", r);
  std::vector<domain::Gpu> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    if (NvmlReturn r = api.by_index(i, &device); r != 0) return Failed("nvmlDeviceGetHandle", r);
    domain::Gpu gpu;
    gpu.set_index(i);
    if (NvmlReturn r = api.name(device, text, sizeof text); r != 0) {
      return Failed("nvmlDeviceGetName", r);
    }
    gpu.set_model(text);
    if (NvmlReturn r = api.uuid(device, text, sizeof text); r != 0) {
      return Failed("nvmlDeviceGetUUID", r);
    }
    gpu.set_uuid(text);
    NvmlMemory memory{};
    if (NvmlReturn r = api.memory(device, &memory); r != 0) {
      return Failed("nvmlDeviceGetMemoryInfo", r);
    }
    gpu.set_memory_mb(memory.total / (1024 * 1024));
    int major = 0, minor = 0;
    if (api.compute(device, &major, &minor) == 0) {
      gpu.set_compute_capability(std::to_string(major) + "." + std::to_string(minor));
    }
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

Result<std::vector<domain::GpuSample>> Nvml::Sample() {
  Api& api = *api_;
  unsigned int count = 0;
  if (NvmlReturn r = api.count(&count); r != 0) return Failed("nvmlDeviceGetCount", r);
  std::vector<NvmlDevice> devices(count, nullptr);
  std::vector<domain::GpuSample> samples(count);
  char text[kNvmlStringLength];
  for (unsigned int i = 0; i < count; ++i) {
    domain::GpuSample& sample = samples[i];
    sample.set_index(i);
    NvmlMemory memory{};
    if (api.by_index(i, &devices[i]) != 0 || api.memory(devices[i], &memory) != 0) continue;
    sample.set_accessible(true);
    if (api.uuid(devices[i], text, sizeof text) == 0) sample.set_uuid(text);
    sample.set_memory_used_bytes(memory.used);
    sample.set_memory_total_bytes(memory.total);
    NvmlUtilization utilization{};
    if (api.utilization && api.utilization(devices[i], &utilization) == 0) {
      sample.set_utilization_percent(utilization.gpu);
    }
    unsigned int value = 0;
    if (api.temperature && api.temperature(devices[i], kTemperatureGpu, &value) == 0) {
      sample.set_temperature_c(value);
      sample.set_has_temperature(true);
    }
    unsigned int limit = 0;
    if (api.power && api.power(devices[i], &value) == 0) {
      sample.set_power_w(value / 1000.0);
      sample.set_has_power(true);
      if (api.power_limit && api.power_limit(devices[i], &limit) == 0) {
        sample.set_power_limit_w(limit / 1000.0);
      }
    }
    unsigned long long uncorrected = 0, corrected = 0;
    if (api.ecc && api.ecc(devices[i], kEccUncorrected, kEccVolatile, &uncorrected) == 0 &&
        api.ecc(devices[i], kEccCorrected, kEccVolatile, &corrected) == 0) {
      sample.set_ecc_uncorrectable_errors(uncorrected);
      sample.set_ecc_corrected_errors(corrected);
      sample.set_has_ecc(true);
    }
  }

  // Critical XID events: registered once, then drained without waiting.
  if (!api.xid_tried && api.event_set_create && api.register_events && api.event_wait) {
    api.xid_tried = true;
    if (api.event_set_create(&api.xid_events) == 0) {
      for (NvmlDevice device : devices) {
        if (device != nullptr) api.register_events(device, kEventXidCritical, api.xid_events);
      }
    } else {
      api.xid_events = nullptr;
    }
  }
  if (api.xid_events != nullptr) {
    std::map<NvmlDevice, unsigned int> index_of;
    for (unsigned int i = 0; i < count; ++i) index_of[devices[i]] = i;
    NvmlEventData data{};
    // Ends on NVML_ERROR_TIMEOUT (10): nothing more waiting.
    while (api.event_wait(api.xid_events, &data, 0) == 0) {
      if (auto it = index_of.find(data.device); it != index_of.end()) {
        samples[it->second].add_xid_errors(static_cast<uint32_t>(data.event_data));
      }
    }
  }
  return samples;
}

}  // namespace remotegpu::agent
