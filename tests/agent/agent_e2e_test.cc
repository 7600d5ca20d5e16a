// The agent against the real server over loopback: the host's facts and GPUs
// arrive (GPUs from a fake NVML through dlopen, NVLink from a stand-in
// nvidia-smi), heartbeats keep it online, a killed agent's host goes offline
// after the timeout and comes back when the agent does; the server going
// away and coming back does not stop the agent.
#include <sys/stat.h>

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
    nlohmann::json form = {{"host_id", "host-agent-e2e"}, {"name", "e2e"},
                           {"ip_address", "10.0.0.9"},    {"cpu_cores", 1},
                           {"memory_mb", 1024},           {"region", "lab"}};
    ASSERT_EQ(Call(server_.port, http::verb::post, "/api/cmdb/hosts", form.dump()).status, 201);
    Reply minted = Call(server_.port, http::verb::post,
                        "/api/admin/hosts/host-agent-e2e/agent-tokens", R"({"name":"e2e"})");
    ASSERT_EQ(minted.status, 201) << minted.raw;
    token_ = minted.body["data"]["key"].get<std::string>();
    smi_ = dir_.Sub("nvidia-smi");
    std::ofstream(smi_) << "#!/bin/sh\ncat '" << AGENT_FIXTURES << "/topo_a100_8x_nvlink.txt'\n";
    chmod(smi_.c_str(), 0755);
  }

  Subprocess StartAgent() {
    auto agent = Subprocess::Spawn(
        {AGENT_BIN, "--server", "http://127.0.0.1:" + std::to_string(server_.port), "--token",
         token_, "--heartbeat-ms", "300", "--nvml-library", FAKE_NVML_LIB, "--nvidia-smi", smi_});
    EXPECT_TRUE(agent.ok());
    return std::move(*agent);
  }

  // The host detail once `done` holds for it (10 s at most).
  nlohmann::json WaitForHost(const std::function<bool(const nlohmann::json&)>& done) {
    nlohmann::json host;
    for (int i = 0; i < 100; ++i) {
      Reply reply = Call(server_.port, http::verb::get, "/api/cmdb/hosts/host-agent-e2e");
      if (reply.status == 200) {
        host = reply.body["data"];
        if (done(host)) return host;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the host never got there: " << host.dump();
    return host;
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

}  // namespace
}  // namespace remotegpu::agent
