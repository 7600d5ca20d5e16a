// Host facts read from a fixture tree laid out like a GPU server's / .
#include "agent/host_facts.h"

#include <gtest/gtest.h>

namespace remotegpu::agent {
namespace {

TEST(HostFacts, ReadFromTheMachinesFiles) {
  const domain::AgentReport facts = ReadHostFacts(std::string(AGENT_FIXTURES) + "/root");
  EXPECT_EQ(facts.hostname(), "gpu-node-07");
  EXPECT_EQ(facts.os(), "linux");
  EXPECT_EQ(facts.os_version(), "Ubuntu 22.04.4 LTS");
  EXPECT_EQ(facts.kernel(), "5.15.0-105-generic");
  EXPECT_EQ(facts.cpu_model(), "AMD EPYC 7763 64-Core Processor");
  EXPECT_EQ(facts.cpu_cores(), 4u);
  EXPECT_EQ(facts.memory_mb(), 1056617472u / 1024);
  EXPECT_EQ(facts.deployment_mode(), domain::DOCKER);
  EXPECT_FALSE(facts.arch().empty());
}

TEST(HostFacts, ThisMachine) {
  const domain::AgentReport facts = ReadHostFacts();
  EXPECT_FALSE(facts.hostname().empty());
  EXPECT_GT(facts.cpu_cores(), 0u);
  EXPECT_GT(facts.memory_mb(), 0u);
  EXPECT_GT(facts.disk_gb(), 0u);
}

TEST(HostFacts, AnEmptyTreeGivesEmptyFactsNotACrash) {
  const domain::AgentReport facts = ReadHostFacts("/nonexistent-root");
  EXPECT_EQ(facts.hostname(), "");
  EXPECT_EQ(facts.cpu_cores(), 0u);
  EXPECT_EQ(facts.deployment_mode(), domain::BARE_METAL);
}

}  // namespace
}  // namespace remotegpu::agent
