// A stand-in for libnvidia-ml.so.1 with the entry points the agent uses, so
// that GPU discovery's dlopen path runs for real in tests. FAKE_NVML_MODE:
// unset or "ok": two H100s; "no-driver": nvmlInit fails as it does on a host
// without the NVIDIA driver (NVML_ERROR_DRIVER_NOT_LOADED, 9).
// Readings: GPU n runs at 40 + n % utilisation, 30 + n °C (FAKE_NVML_TEMPERATURE
// overrides both), 100 + n W of a 700 W limit, 8 GiB used, no ECC errors
// (FAKE_NVML_ECC: that many uncorrectable on GPU 0); FAKE_NVML_XID=<code>
// delivers one critical XID event for GPU 1 on the first drain.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Memory {
  unsigned long long total, free, used;
};

int FromEnv(const char* name, int otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atoi(value) : otherwise;
}

unsigned Index(void* device) {
  return static_cast<unsigned>(reinterpret_cast<uintptr_t>(device) - 1);
}

struct Utilization {
  unsigned int gpu, memory;
};
struct EventData {
  void* device;
  unsigned long long event_type, event_data;
  unsigned int gpu_instance_id, compute_instance_id;
};
bool xid_delivered = false;

int Copy(const std::string& text, char* out, unsigned int length) {
  if (text.size() + 1 > length) return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  std::memcpy(out, text.c_str(), text.size() + 1);
  return 0;
}

}  // namespace

extern "C" {

int nvmlInit_v2() {
  const char* mode = std::getenv("FAKE_NVML_MODE");
  return mode != nullptr && std::string(mode) == "no-driver" ? 9 : 0;
}
int nvmlShutdown() { return 0; }
int nvmlSystemGetDriverVersion(char* out, unsigned int length) {
  return Copy("550.54.15", out, length);
}
int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= 2) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = reinterpret_cast<void*>(static_cast<uintptr_t>(index + 1));
  return 0;
}
int nvmlDeviceGetName(void*, char* out, unsigned int length) {
  return Copy("NVIDIA H100 80GB HBM3", out, length);
}
int nvmlDeviceGetUUID(void* device, char* out, unsigned int length) {
  return Copy("GPU-fake-" + std::to_string(reinterpret_cast<uintptr_t>(device)), out, length);
}
int nvmlDeviceGetMemoryInfo(void*, Memory* memory) {
  memory->total = 85520809984ULL;  // 81559 MiB, as an H100 80GB HBM3 reports.
  memory->used = 8ULL << 30;
  memory->free = memory->total - memory->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, Utilization* rates) {
  rates->gpu = 40 + Index(device);
  rates->memory = 10;
  return 0;
}
int nvmlDeviceGetTemperature(void* device, int sensor, unsigned int* celsius) {
  if (sensor != 0) return 2;
  *celsius =
      static_cast<unsigned>(FromEnv("FAKE_NVML_TEMPERATURE", 30 + static_cast<int>(Index(device))));
  return 0;
}
int nvmlDeviceGetPowerUsage(void* device, unsigned int* milliwatts) {
  *milliwatts = (100 + Index(device)) * 1000;
  return 0;
}
int nvmlDeviceGetEnforcedPowerLimit(void*, unsigned int* milliwatts) {
  *milliwatts = 700'000;
  return 0;
}
int nvmlDeviceGetTotalEccErrors(void* device, int type, int, unsigned long long* count) {
  *count = type == 1 && Index(device) == 0
               ? static_cast<unsigned long long>(FromEnv("FAKE_NVML_ECC", 0))
               : 0;
  return 0;
}
int nvmlEventSetCreate(void** set) {
  static int the_set;
  *set = &the_set;
  return 0;
}
int nvmlDeviceRegisterEvents(void*, unsigned long long, void*) { return 0; }
int nvmlEventSetWait_v2(void*, EventData* data, unsigned int) {
  const int xid = FromEnv("FAKE_NVML_XID", 0);
  if (xid == 0 || xid_delivered) return 10;  // NVML_ERROR_TIMEOUT
  xid_delivered = true;
  data->device = reinterpret_cast<void*>(uintptr_t{2});
  data->event_type = 0x8;
  data->event_data = static_cast<unsigned long long>(xid);
  return 0;
}
int nvmlEventSetFree(void*) { return 0; }
int nvmlDeviceGetCudaComputeCapability(void*, int* major, int* minor) {
  *major = 9;
  *minor = 0;
  return 0;
}

}  // extern "C"
