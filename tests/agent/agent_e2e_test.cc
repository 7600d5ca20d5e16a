// The agent against the real server over loopback: the host's facts and GPUs
// arrive (GPUs from a fake NVML through dlopen, NVLink from a stand-in
// nvidia-smi), heartbeats keep it online, a killed agent's host goes offline
// after the timeout and comes back when the agent does; the server going
// away and coming back does not stop the agent. Metrics reach the query API
// and a hot GPU degrades the host; environments run as processes through
// the process runtime (running, restart, stop, a failing command); a wiped
// server is found again with a new token from the token file.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::agent {
namespace {

using api::testing_http::Call;
using api::testing_http::Reply;
namespace http = api::testing_http::http;

class AgentEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = api::testing_process::StartServer(REMOTEGPU_BIN, dir_.Sub("data"),
                                                {"--agent-timeout-s", "2"});
    ASSERT_NE(server_.port, 0) << server_.output;
    RegisterHostAndMintToken();
    smi_ = dir_.Sub("nvidia-smi");
    std::ofstream(smi_) << "#!/bin/sh\ncat '" << AGENT_FIXTURES << "/topo_a100_8x_nvlink.txt'\n";
    chmod(smi_.c_str(), 0755);
  }

  void RegisterHostAndMintToken() {
    nlohmann::json form = {{"host_id", "host-agent-e2e"}, {"name", "e2e"},
                           {"ip_address", "10.0.0.9"},    {"cpu_cores", 1},
                           {"memory_mb", 1024},           {"region", "lab"}};
    ASSERT_EQ(Call(server_.port, http::verb::post, "/api/cmdb/hosts", form.dump()).status, 201);
    Reply minted = Call(server_.port, http::verb::post,
                        "/api/admin/hosts/host-agent-e2e/agent-tokens", R"({"name":"e2e"})");
    ASSERT_EQ(minted.status, 201) << minted.raw;
    token_ = minted.body["data"]["key"].get<std::string>();
  }

  Subprocess StartAgent(std::vector<std::string> extra = {},
                        std::vector<std::string> environment = {}) {
    std::vector<std::string> argv = {
        AGENT_BIN,        "--server",     "http://127.0.0.1:" + std::to_string(server_.port),
        "--heartbeat-ms", "300",          "--nvml-library",
        FAKE_NVML_LIB,    "--nvidia-smi", smi_};
    if (std::find(extra.begin(), extra.end(), "--token-file") == extra.end() &&
        std::find(extra.begin(), extra.end(), "--config") == extra.end()) {
      argv.insert(argv.end(), {"--token", token_});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto agent = Subprocess::Spawn(argv, {.extra_env = environment});
    EXPECT_TRUE(agent.ok());
    return std::move(*agent);
  }

  // GET `target`'s data once `done` holds for it (`seconds` at most).
  nlohmann::json WaitFor(const std::string& target,
                         const std::function<bool(const nlohmann::json&)>& done, int seconds = 15) {
    nlohmann::json data;
    for (int i = 0; i < seconds * 10; ++i) {
      Reply reply = Call(server_.port, http::verb::get, target);
      if (reply.status == 200) {
        data = reply.body["data"];
        if (done(data)) return data;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << target << " never got there: " << data.dump();
    return data;
  }

  nlohmann::json WaitForHost(const std::function<bool(const nlohmann::json&)>& done,
                             int seconds = 15) {
    return WaitFor("/api/cmdb/hosts/host-agent-e2e", done, seconds);
  }

  testing::TempDir dir_;
  api::testing_process::Server server_;
  std::string token_, smi_;
};

TEST_F(AgentEndToEndTest, FactsGpusHeartbeatsAndOfflineDetection) {
  Subprocess agent = StartAgent();
  nlohmann::json host = WaitForHost([](const nlohmann::json& h) {
    return h.contains("gpus") && h["gpus"].size() == 2 &&
           !h["os_version"].get<std::string>().empty();
  });
  EXPECT_EQ(host["gpus"][0]["model"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(host["ip_address"], "10.0.0.9");  // What the operator set stays.
  EXPECT_EQ(host["name"], "e2e");
  EXPECT_GT(host["cpu_cores"].get<int>(), 0);
  EXPECT_TRUE(host["online"].get<bool>());

  // Heartbeats keep it online past the 2 s timeout.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_TRUE(WaitForHost([](const nlohmann::json&) { return true; })["online"].get<bool>());

  // Killed: offline after the timeout; back: online again.
  agent.Signal(SIGKILL);
  agent.Wait();
  WaitForHost([](const nlohmann::json& h) { return !h["online"].get<bool>(); });
  Subprocess again = StartAgent();
  WaitForHost([](const nlohmann::json& h) { return h["online"].get<bool>(); });
  again.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(again.Wait()), 0);
}

TEST_F(AgentEndToEndTest, TheServerGoingAwayDoesNotStopTheAgent) {
  Subprocess agent = StartAgent();
  WaitForHost([](const nlohmann::json& h) { return h["gpus"].size() == 2; });
  // The server stops; the agent keeps retrying rather than exiting.
  EXPECT_EQ(WEXITSTATUS(api::testing_process::Terminate(*server_.process)), 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int status = 0;
  EXPECT_EQ(waitpid(agent.pid(), &status, WNOHANG), 0) << "the agent exited";
  agent.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(agent.Wait()), 0);
}

TEST_F(AgentEndToEndTest, MetricsReachTheQueryApiAndAHotGpuDegradesTheHost) {
  Subprocess agent = StartAgent({"--metrics-ms", "300"}, {"FAKE_NVML_TEMPERATURE=91"});
  nlohmann::json series = WaitFor("/api/monitoring/hosts/host-agent-e2e/metrics",
                                  [](const nlohmann::json& d) { return d["count"] >= 3; });
  EXPECT_EQ(series["resolution"], "raw");
  const nlohmann::json& sample = series["samples"][0];
  EXPECT_GT(sample["memory_total_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(sample["gpu_count"], 2);
  EXPECT_DOUBLE_EQ(sample["gpu_avg_temperature"].get<double>(), 91);
  nlohmann::json gpu = WaitFor("/api/monitoring/gpus/GPU-fake-1/metrics",
                               [](const nlohmann::json& d) { return d["count"] >= 1; });
  EXPECT_DOUBLE_EQ(gpu["samples"][0]["utilization_percent"].get<double>(), 40);
  EXPECT_DOUBLE_EQ(gpu["samples"][0]["power_w"].get<double>(), 100);

  nlohmann::json host =
      WaitForHost([](const nlohmann::json& h) { return h["health_status"] == "degraded"; });
  // One HealthChanged however many samples followed.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Reply changes = Call(server_.port, http::verb::get,
                       "/api/audit/events?stream_prefix=host-agent-e2e&type=HealthChanged");
  ASSERT_EQ(changes.status, 200) << changes.raw;
  EXPECT_EQ(changes.body["data"]["total"], 1) << changes.raw;
  EXPECT_NE(changes.raw.find("GPU 0 runs above 85"), std::string::npos) << changes.raw;

  EXPECT_EQ(Call(server_.port, http::verb::get,
                 "/api/monitoring/hosts/host-agent-e2e/metrics?from=yesterday")
                .status,
            400);
  agent.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(agent.Wait()), 0);
}

// Reads a pid the workload wrote; -1 until it exists.
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = -1;
  in >> pid;
  return in ? pid : -1;
}

TEST_F(AgentEndToEndTest, EnvironmentsRunAsProcesses) {
  Subprocess agent =
      StartAgent({"--runtime", "process", "--work-dir", dir_.Sub("work"), "--sync-ms", "200"});
  WaitForHost([](const nlohmann::json& h) { return h["gpus"].size() == 2; });
  // The workload runs as nobody (the agent's default --workload-user): it
  // writes what the test reads into a directory open to it.
  ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  const std::string shared = dir_.Sub("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
  const std::string pid_file = shared + "/env.pid";
  const std::string gpu_file = shared + "/env.gpus";
  nlohmann::json form = {
      {"env_id", "env-e2e"},
      {"name", "job"},
      {"image", "none"},
      {"owner", "ops"},
      {"cpu_cores", 1},
      {"memory_mb", 256},
      {"gpu_count", 1},
      {"host_id", "host-agent-e2e"},
      {"command",
       {"sh", "-c",
        "echo $CUDA_VISIBLE_DEVICES > '" + gpu_file + "'; echo $$ > '" + pid_file + ".tmp'; mv '" +
            pid_file + ".tmp' '" + pid_file + "'; exec sleep 300"}}};
  Reply created = Call(server_.port, http::verb::post, "/api/environments", form.dump());
  ASSERT_EQ(created.status, 201) << created.raw;

  WaitFor("/api/environments/env-e2e",
          [](const nlohmann::json& e) { return e["status"] == "running"; });
  pid_t pid = -1;
  for (int i = 0; i < 100 && pid < 0; ++i) {
    pid = ReadPid(pid_file);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kill(pid, 0), 0) << "the environment's process is not alive";
  std::ifstream gpus(gpu_file);
  std::string visible;
  gpus >> visible;
  EXPECT_TRUE(visible == "0" || visible == "1") << visible;

  // Restart: a new process replaces the old one.
  std::remove(pid_file.c_str());
  ASSERT_EQ(Call(server_.port, http::verb::post, "/api/environments/env-e2e/restart").status, 200);
  pid_t restarted = -1;
  for (int i = 0; i < 200 && restarted < 0; ++i) {
    restarted = ReadPid(pid_file);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(restarted, 0);
  EXPECT_NE(restarted, pid);
  EXPECT_NE(kill(pid, 0), 0) << "the old process outlived the restart";

  // Stop ends the process.
  ASSERT_EQ(Call(server_.port, http::verb::post, "/api/environments/env-e2e/stop").status, 200);
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    ended = kill(restarted, 0) != 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(ended) << "stop did not end the process";

  // A command that fails: reported failed with the driver's reason.
  form["env_id"] = "env-fails";
  form["command"] = {"sh", "-c", "exit 3"};
  ASSERT_EQ(Call(server_.port, http::verb::post, "/api/environments", form.dump()).status, 201);
  WaitFor("/api/environments/env-fails",
          [](const nlohmann::json& e) { return e["status"] == "failed"; });
  Reply history = Call(server_.port, http::verb::get, "/api/audit/events?stream_prefix=env-fails");
  EXPECT_NE(history.raw.find("process exited with status 3"), std::string::npos) << history.raw;

  agent.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(agent.Wait()), 0);
}

TEST_F(AgentEndToEndTest, AWipedServerIsFoundAgainWithANewTokenFromAConfiguredFile) {
  const std::string token_file = dir_.Sub("token");
  std::ofstream(token_file) << token_ << "\n";
  const std::string config = dir_.Sub("agent.conf");  // Flags from a config file.
  std::ofstream(config) << "# remotegpu-agent\ntoken-file = " << token_file
                        << "\nmetrics-ms = 500\n";
  Subprocess agent = StartAgent({"--config", config});
  WaitForHost([](const nlohmann::json& h) { return h["gpus"].size() == 2; });

  // The server is wiped: same address, empty data directory.
  const uint16_t port = server_.port;
  EXPECT_EQ(WEXITSTATUS(api::testing_process::Terminate(*server_.process)), 0);
  server_ = api::testing_process::StartServer(
      REMOTEGPU_BIN, dir_.Sub("data-after-wipe"),
      {"--agent-timeout-s", "2", "--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(server_.port, port) << server_.output;
  RegisterHostAndMintToken();
  std::ofstream(token_file) << token_ << "\n";  // The operator hands the agent its new token.

  // Facts again, and online (the heartbeat after them may reach the read
  // model a moment later).
  // The agent may be deep in its back-off from the outage: up to a minute's wait.
  WaitForHost(
      [](const nlohmann::json& h) {
        return h["gpus"].size() == 2 && !h["os_version"].get<std::string>().empty() &&
               h["online"].get<bool>();
      },
      60);
  agent.Signal(SIGTERM);
  EXPECT_EQ(WEXITSTATUS(agent.Wait()), 0);
}

}  // namespace
}  // namespace remotegpu::agent
