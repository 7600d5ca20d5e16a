// Brings the host's workloads to what the server wants. Each round: read the
// desired environments (GET /internal/hosts/:id/environments), compare with
// what the runtime runs, act, and report what happened
// (POST /internal/environments/:id/status):
//
//   wanted, not running           start it; "starting" then "running" when
//                                 the server had only scheduled it; "failed"
//                                 with the driver's reason when it cannot
//   wanted, running, older        restart it (the server asked for a restart)
//   wanted, ended on its own      "stopped" (status 0) or "failed" (anything
//                                 else) with the reason, then remove it
//   running, no longer wanted     remove it (stopped or deleted on the server)
//
// A workload is removed only after its end was reported, so a report lost
// to a network failure is sent again next round.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http_client.h"
#include "agent/runtime.h"

namespace remotegpu::agent {

struct DesiredEnvironment {
  WorkloadSpec spec;
  std::string status;  // The server's: "scheduled", "starting", "running", "restarting".
};

struct ReconcileAction {
  enum Kind { kStart, kRestart, kReportRunning, kReportEnded, kRemove };
  Kind kind;
  std::string env_id;
};

// What to do, in order. Pure.
std::vector<ReconcileAction> PlanReconcile(const std::vector<DesiredEnvironment>& desired,
                                           const std::vector<WorkloadStatus>& actual);

// The desired environments in the server's answer ({"data": {"environments":
// [...]}}); InvalidArgument when it is not that shape.
Result<std::vector<DesiredEnvironment>> ParseDesired(const std::string& body);

class Reconciler {
 public:
  explicit Reconciler(std::unique_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}

  // One round. NotFound when the server does not know the host any more,
  // Unavailable when it cannot be reached; a workload that fails to start
  // is reported, not returned. With `wait` > 0 and a round done before, a
  // long-poll: the server answers when something this host runs changed
  // since that round's answer, or after `wait` (at most 9 s).
  Status Sync(const HttpClient& server, const std::string& host_id,
              std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // The position of the last answer a round completed; nullopt before one,
  // after a failed round, or from a server that sends none.
  std::optional<uint64_t> applied_position() const { return applied_position_; }
  void Shutdown() { runtime_->Shutdown(); }
  Runtime& runtime() { return *runtime_; }

 private:
  Status Report(const HttpClient& server, const std::string& env_id, const std::string& status,
                const std::string& reason);
  std::unique_ptr<Runtime> runtime_;
  // The log position of the last answer a round completed ("position" in
  // the server's answer); nullopt before one, or after a round failed.
  std::optional<uint64_t> applied_position_;
};

}  // namespace remotegpu::agent
