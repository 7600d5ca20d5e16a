// A stand-in for libnvidia-ml.so.1 with the entry points the agent uses, so
// that GPU discovery's dlopen path runs for real in tests. FAKE_NVML_MODE:
// unset or "ok": two H100s; "no-driver": nvmlInit fails as it does on a host
// without the NVIDIA driver (NVML_ERROR_DRIVER_NOT_LOADED, 9).
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Memory {
  unsigned long long total, free, used;
};

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
  memory->free = memory->total;
  memory->used = 0;
  return 0;
}
int nvmlDeviceGetCudaComputeCapability(void*, int* major, int* minor) {
  *major = 9;
  *minor = 0;
  return 0;
}

}  // extern "C"
