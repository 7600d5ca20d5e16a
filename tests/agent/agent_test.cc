// The agent's loop without a server: metrics are still sampled on their
// schedule and kept in a bounded buffer, the oldest going first.
#include "agent/agent.h"

#include <thread>

#include <gtest/gtest.h>

namespace remotegpu::agent {
namespace {

TEST(Agent, MetricsWaitInABoundedBufferWhileTheServerIsAway) {
  auto client = HttpClient::For("http://127.0.0.1:1", "rgk.x.y", std::chrono::milliseconds(200));
  ASSERT_TRUE(client.ok());
  Agent agent(std::move(*client), {.metrics_interval = std::chrono::milliseconds(10),
                                   .metrics_buffer = 5,
                                   .gpus = {"/no/such/libnvidia-ml.so", "/no/such/nvidia-smi"},
                                   .root = std::string(AGENT_FIXTURES) + "/root"});
  std::thread loop([&] { agent.Run(); });
  // Port 1 refuses at once; in half a second about 50 samples were taken.
  for (int i = 0; i < 100 && agent.BufferedSamples() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(agent.BufferedSamples(), 5u);
  EXPECT_GT(agent.DroppedSamples(), 0u);
  agent.Stop();
  loop.join();
}

}  // namespace
}  // namespace remotegpu::agent
