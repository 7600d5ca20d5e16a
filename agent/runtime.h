// How an agent runs environments: one interface, two drivers.
//
//   docker  (agent/docker_runtime.h): containers through the Docker Engine
//           API, over the unix socket or TCP with TLS client certificates.
//   process (agent/process_runtime.h): a supervised local process, for
//           bare-metal whole-machine use and for hosts without an engine.
//
// A driver knows only the workloads it started (labelled or remembered as
// RemoteGPU's); it never touches anything else on the machine.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace remotegpu::agent {

struct PortMapping {
  std::string service;  // "ssh", "jupyter", …
  uint32_t host_port = 0;
  uint32_t container_port = 0;  // The service's usual port inside (22, 8888, …).
};

// What the server wants running for one environment.
struct WorkloadSpec {
  std::string env_id;
  std::string image;
  std::vector<std::string> command;  // Empty: the image's own.
  std::map<std::string, std::string> env;
  std::vector<uint32_t> gpu_indexes;
  std::vector<PortMapping> ports;
  uint32_t cpu_cores = 0;
  uint64_t memory_mb = 0;
  uint64_t generation = 0;  // Grows with every restart the server asks for.
};

// What a driver sees of one of its workloads.
struct WorkloadStatus {
  std::string env_id;
  bool running = false;
  int exit_code = 0;   // When not running.
  std::string reason;  // Why it is not running, in the driver's words.
  uint64_t generation = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual const char* name() const = 0;
  // Creates and starts the workload; InvalidArgument when the spec cannot
  // run on this driver, Unavailable/IoError when the engine fails.
  virtual Status Start(const WorkloadSpec& spec) = 0;
  // Restarts it for a new generation; by default a fresh start.
  virtual Status Restart(const WorkloadSpec& spec) {
    RGPU_RETURN_IF_ERROR(Remove(spec.env_id));
    return Start(spec);
  }
  // Stops and removes the workload with its volumes; Ok when it is not
  // there.
  virtual Status Remove(const std::string& env_id) = 0;
  // Every workload this driver started and has not removed.
  virtual Result<std::vector<WorkloadStatus>> List() = 0;
  // The last `tail` lines of its output.
  virtual Result<std::string> Logs(const std::string& env_id, int tail) = 0;
  // The agent is stopping: supervised processes end with it; containers
  // stay (their engine keeps them).
  virtual void Shutdown() {}
};

}  // namespace remotegpu::agent
