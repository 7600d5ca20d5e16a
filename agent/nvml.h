// NVML, loaded at run time with dlopen (no build-time dependency on the
// driver). Its C interface is declared in nvml.cc by hand (the few functions
// used, with the types of nvml.h), since the header is not packaged in
// Debian's main archive; the symbols are looked up by name.
//
// Thread-safety: one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/proto/host.pb.h"
#include "domain/proto/metrics.pb.h"

namespace remotegpu::agent {

class Nvml {
 public:
  // Unavailable when `library` does not load, lacks a function discovery
  // needs, or does not initialise (no driver running).
  static Result<std::unique_ptr<Nvml>> Load(const std::string& library);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  std::string DriverVersion();
  // The GPUs, ordered by index; IoError when a query fails.
  Result<std::vector<domain::Gpu>> Gpus();
  // One sample per GPU: utilisation, memory, temperature, power and its
  // limit, ECC counts and the critical XID events since the previous call,
  // each where the driver gives it. A GPU whose handle or memory cannot be
  // read is reported as not accessible; IoError only when the count fails.
  Result<std::vector<domain::GpuSample>> Sample();

 private:
  struct Api;
  explicit Nvml(void* handle);
  void* handle_;
  std::unique_ptr<Api> api_;
};

}  // namespace remotegpu::agent
