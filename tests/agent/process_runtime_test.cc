// The process driver with real processes: start with the environment's
// variables and GPUs, see it run, stop it (SIGTERM, then SIGKILL after the
// grace period), see it end on its own with its status, and refuse what
// cannot run.
#include "agent/process_runtime.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "agent/proc_text.h"
#include "common/subprocess.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::agent {
namespace {

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// Polls List() until `env_id` has ended (or 10 s).
WorkloadStatus WaitForEnd(ProcessRuntime& runtime, const std::string& env_id) {
  for (int i = 0; i < 1000; ++i) {
    auto listed = runtime.List();
    EXPECT_TRUE(listed.ok());
    for (const auto& workload : *listed) {
      if (workload.env_id == env_id && !workload.running) return workload;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << env_id << " did not end";
  return {};
}

TEST(ProcessRuntime, RunsWithItsVariablesAndStopsOnRemove) {
  testing::TempDir dir;
  ProcessRuntime runtime(dir.path());
  WorkloadSpec spec{.env_id = "env-a",
                    .command = {"sh", "-c",
                                "echo \"gpus=$CUDA_VISIBLE_DEVICES ssh=$REMOTEGPU_PORT_SSH "
                                "name=$GREETING\"; exec sleep 60"},
                    .env = {{"GREETING", "hello"}},
                    .gpu_indexes = {2, 3},
                    .ports = {{"ssh", 30022, 22}},
                    .generation = 4};
  ASSERT_TRUE(runtime.Start(spec).ok());
  const pid_t pid = runtime.PidOf("env-a");
  ASSERT_TRUE(Alive(pid));
  auto listed = runtime.List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].running);
  EXPECT_EQ((*listed)[0].generation, 4u);
  std::string logs;
  for (int i = 0; i < 200 && logs.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    logs = *runtime.Logs("env-a", 10);
  }
  EXPECT_EQ(logs, "gpus=2,3 ssh=30022 name=hello\n");
  ASSERT_TRUE(runtime.Remove("env-a").ok());
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(runtime.List()->empty());
  EXPECT_TRUE(runtime.Remove("env-a").ok());  // Gone already: fine.
}

// Regression: a workload inherited the agent's environment (its token among
// it) and ran as the agent's user, who can read the token file.
TEST(ProcessRuntime, WorkloadsGetACleanEnvironmentAndAnUnprivilegedUser) {
  testing::TempDir dir;
  setenv("REMOTEGPU_AGENT_TOKEN", "the-agent-secret", 1);
  const bool root = geteuid() == 0;
  ProcessRuntime runtime(dir.path(), 5000, root ? "nobody" : "");
  WorkloadSpec spec{
      .env_id = "env-clean",
      .command = {"sh", "-c", "id -u; env; cat /proc/1/environ >/dev/null || echo denied"},
      .env = {{"MINE", "1"}}};
  ASSERT_TRUE(runtime.Start(spec).ok());
  EXPECT_EQ(WaitForEnd(runtime, "env-clean").exit_code, 0);
  const std::string logs = *runtime.Logs("env-clean", 100);
  unsetenv("REMOTEGPU_AGENT_TOKEN");
  EXPECT_EQ(logs.find("the-agent-secret"), std::string::npos) << logs;
  EXPECT_NE(logs.find("MINE=1\n"), std::string::npos) << logs;
  EXPECT_NE(logs.find("PATH=/usr/local/sbin:"), std::string::npos) << logs;
  if (root) {
    const auto nobody = LookupUser("nobody");
    ASSERT_TRUE(nobody);
    EXPECT_EQ(logs.substr(0, logs.find('\n')), std::to_string(nobody->uid)) << logs;
    EXPECT_NE(logs.find("denied\n"), std::string::npos) << logs;  // Not root's files.
  }
  ProcessRuntime nowhere(dir.path(), 5000, "no-such-user-here");
  EXPECT_FALSE(nowhere.Start(spec).ok());
}

TEST(ProcessRuntime, AProcessIgnoringSigtermIsKilledAfterTheGrace) {
  testing::TempDir dir;
  ProcessRuntime runtime(dir.path(), /*stop_grace_ms=*/200);
  ASSERT_TRUE(runtime
                  .Start({.env_id = "env-ignores-sigterm",
                          .command = {"sh", "-c", "trap '' TERM; sleep 60"}})
                  .ok());
  const pid_t pid = runtime.PidOf("env-ignores-sigterm");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // Let the trap be set.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime.Remove("env-ignores-sigterm").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_FALSE(Alive(pid));
}

TEST(ProcessRuntime, AnEndedProcessReportsHowItEnded) {
  testing::TempDir dir;
  ProcessRuntime runtime(dir.path());
  ASSERT_TRUE(runtime.Start({.env_id = "env-fails", .command = {"sh", "-c", "exit 3"}}).ok());
  ASSERT_TRUE(runtime.Start({.env_id = "env-done", .command = {"true"}}).ok());
  WorkloadStatus failed = WaitForEnd(runtime, "env-fails");
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.reason, "process exited with status 3");
  EXPECT_EQ(WaitForEnd(runtime, "env-done").exit_code, 0);
  ASSERT_TRUE(runtime.Start({.env_id = "env-killed", .command = {"sleep", "60"}}).ok());
  kill(runtime.PidOf("env-killed"), SIGKILL);
  WorkloadStatus killed = WaitForEnd(runtime, "env-killed");
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
  EXPECT_NE(killed.reason.find("killed by signal 9"), std::string::npos) << killed.reason;
}

TEST(ProcessRuntime, RefusesWhatCannotRun) {
  testing::TempDir dir;
  ProcessRuntime runtime(dir.path());
  Status no_command = runtime.Start({.env_id = "env-image", .image = "pytorch/pytorch:2.3"});
  EXPECT_EQ(no_command.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_command.message().find("needs a command"), std::string::npos);
  Status missing = runtime.Start({.env_id = "env-x", .command = {"/no/such/program"}});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("No such file"), std::string::npos) << missing.message();
  EXPECT_TRUE(runtime.List()->empty());
}

TEST(ProcessRuntime, ShutdownEndsEveryProcess) {
  testing::TempDir dir;
  pid_t first, second;
  {
    ProcessRuntime runtime(dir.path());
    ASSERT_TRUE(runtime.Start({.env_id = "env-1", .command = {"sleep", "60"}}).ok());
    ASSERT_TRUE(runtime.Start({.env_id = "env-2", .command = {"sleep", "60"}}).ok());
    first = runtime.PidOf("env-1");
    second = runtime.PidOf("env-2");
  }
  EXPECT_FALSE(Alive(first));
  EXPECT_FALSE(Alive(second));
}

// Whether `pid` runs (a zombie waiting for init to reap it does not).
bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

// Regression: the workload dropped to its user after asking for the parent-
// death signal, which a change of credentials clears: a workload outlived a
// killed agent, and the next agent started a second copy on the same GPUs.
TEST(ProcessRuntime, WorkloadsOfAnotherUserStillDieWithTheAgent) {
  testing::TempDir dir;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t agent = fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {  // A stand-in agent: starts a workload, reports it, dies.
    ProcessRuntime runtime(dir.path(), 5000, geteuid() == 0 ? "nobody" : "");
    pid_t workload = -1;
    if (runtime.Start({.env_id = "env-orphan", .command = {"sleep", "60"}}).ok()) {
      workload = runtime.PidOf("env-orphan");
    }
    [[maybe_unused]] ssize_t written = write(pipe_fds[1], &workload, sizeof workload);
    _exit(0);  // No Shutdown: the kernel's signal is all that is left.
  }
  close(pipe_fds[1]);
  pid_t workload = -1;
  ASSERT_EQ(read(pipe_fds[0], &workload, sizeof workload), static_cast<ssize_t>(sizeof workload));
  close(pipe_fds[0]);
  waitpid(agent, nullptr, 0);
  ASSERT_GT(workload, 0);
  for (int i = 0; i < 500 && Running(workload); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(Running(workload)) << "the workload outlived its agent";
}

}  // namespace
}  // namespace remotegpu::agent
