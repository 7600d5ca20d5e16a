// The docker driver: environments as containers through the Docker Engine
// API (v1.43), over the unix socket or over TCP with TLS client certificates
// (as seed 04's nodes are reached). Containers are named "remotegpu-<env id>"
// and labelled remotegpu.env_id and remotegpu.generation; nothing else on
// the engine is touched.
//
// A container gets its GPUs as an nvidia device request, its ports bound on
// the host (22 for ssh, 8888 for jupyter, 3389 for rdp inside), its
// variables, CPU and memory limits, and an anonymous volume at /workspace
// that goes with it when it is removed. A missing image is pulled first.
//
// Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/runtime.h"

namespace remotegpu::agent {

struct DockerEndpoint {
  // "unix:///var/run/docker.sock" or "tcp://host:2376".
  std::string host = "unix:///var/run/docker.sock";
  // With tcp://: TLS with these PEM files (all three, or none for plain TCP).
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds timeout{120'000};  // Pulls can be slow.
};

struct DockerReply {
  int status = 0;
  std::string body;
};

// One Engine API request per connection.
class DockerClient {
 public:
  // InvalidArgument for an endpoint it cannot use.
  static Result<std::unique_ptr<DockerClient>> Connect(const DockerEndpoint& endpoint);
  virtual ~DockerClient() = default;
  // Unavailable when the engine cannot be reached.
  virtual Result<DockerReply> Request(const std::string& method, const std::string& target,
                                      const std::string& json_body = "") = 0;
};

// The create request's body for `spec` (exposed for tests).
nlohmann::json ContainerCreateBody(const WorkloadSpec& spec);
// Stdout and stderr from a logs answer: the engine frames them (8-byte
// headers) when the container has no TTY.
std::string DemuxDockerLogs(const std::string& framed);

class DockerRuntime final : public Runtime {
 public:
  explicit DockerRuntime(std::unique_ptr<DockerClient> client) : client_(std::move(client)) {}

  const char* name() const override { return "docker"; }
  Status Start(const WorkloadSpec& spec) override;
  // Keeps the container (its /workspace stays); Docker's own restart.
  Status Restart(const WorkloadSpec& spec) override;
  Status Remove(const std::string& env_id) override;
  Result<std::vector<WorkloadStatus>> List() override;
  Result<std::string> Logs(const std::string& env_id, int tail) override;
  // One reading of the container's resource use (the engine's stats JSON).
  Result<nlohmann::json> Stats(const std::string& env_id);

 private:
  Result<DockerReply> Call(const std::string& method, const std::string& target,
                           const std::string& body = "");
  Status Pull(const std::string& image);

  std::unique_ptr<DockerClient> client_;
  // Restarts done in place, by environment: the label keeps the generation
  // the container was created with.
  std::map<std::string, uint64_t> restarted_to_;
};

}  // namespace remotegpu::agent
