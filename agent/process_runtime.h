// The process driver: each environment is a local process the agent starts
// and supervises (bare-metal whole-machine use, and hosts without a
// container engine). The command is the environment's `command`; an image
// means nothing here, and a spec without a command is refused.
//
// The process gets a clean environment: PATH, HOME (/tmp) and LANG, the
// environment's variables, CUDA_VISIBLE_DEVICES (its GPUs), REMOTEGPU_ENV_ID
// and REMOTEGPU_PORT_<SERVICE> (its host ports), and nothing of the agent's
// own (its token among them). It runs as the configured unprivileged user
// (`remotegpu-agent --workload-user`, nobody by default), so the agent's
// token file and work directory are out of its reach;
// it runs in its own process group with stdout and stderr in
// <work_dir>/<env_id>.log, and dies with the agent (PR_SET_PDEATHSIG), so a
// restarted agent starts what the server still wants afresh.
//
// Thread-safety: one thread at a time.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "agent/runtime.h"

namespace remotegpu::agent {

class ProcessRuntime final : public Runtime {
 public:
  // `work_dir` is created when missing. `run_as_user`: the unprivileged
  // user workloads run as (the agent must be root to switch); empty: the
  // agent's own user.
  explicit ProcessRuntime(std::string work_dir, int stop_grace_ms = 5000,
                          std::string run_as_user = "")
      : work_dir_(std::move(work_dir)),
        stop_grace_ms_(stop_grace_ms),
        run_as_user_(std::move(run_as_user)) {}
  ~ProcessRuntime() override { Shutdown(); }

  const char* name() const override { return "process"; }
  Status Start(const WorkloadSpec& spec) override;
  // SIGTERM to the process group, SIGKILL after the grace period.
  Status Remove(const std::string& env_id) override;
  Result<std::vector<WorkloadStatus>> List() override;
  Result<std::string> Logs(const std::string& env_id, int tail) override;
  void Shutdown() override;

  // The process of a running workload (tests); -1 when none.
  pid_t PidOf(const std::string& env_id) const;

 private:
  struct Child {
    pid_t pid = -1;
    uint64_t generation = 0;
    bool exited = false;
    int wait_status = 0;
  };
  std::string LogPath(const std::string& env_id) const;
  // Reaps `child` if it has ended.
  static void Poll(Child& child);

  std::string work_dir_;
  int stop_grace_ms_;
  std::string run_as_user_;
  std::map<std::string, Child> children_;
};

}  // namespace remotegpu::agent
