// The reconciler's plan (pure) and the desired-state answer's parsing.
#include "agent/reconciler.h"

#include <gtest/gtest.h>

namespace remotegpu::agent {
namespace {

DesiredEnvironment Want(const std::string& id, const std::string& status, uint64_t generation = 0) {
  DesiredEnvironment want;
  want.spec.env_id = id;
  want.spec.generation = generation;
  want.status = status;
  return want;
}

WorkloadStatus Have(const std::string& id, bool running, uint64_t generation = 0) {
  return {id, running, running ? 0 : 1, running ? "" : "process exited with status 1", generation};
}

std::vector<std::pair<ReconcileAction::Kind, std::string>> Plan(
    const std::vector<DesiredEnvironment>& desired, const std::vector<WorkloadStatus>& actual) {
  std::vector<std::pair<ReconcileAction::Kind, std::string>> out;
  for (const auto& action : PlanReconcile(desired, actual)) {
    out.emplace_back(action.kind, action.env_id);
  }
  return out;
}

using K = ReconcileAction;

TEST(PlanReconcile, StartsWhatIsWantedAndMissing) {
  EXPECT_EQ(Plan({Want("env-a", "scheduled"), Want("env-b", "running")}, {}),
            (decltype(Plan({}, {})){{K::kStart, "env-a"}, {K::kStart, "env-b"}}));
}

TEST(PlanReconcile, RemovesWhatIsNoLongerWanted) {
  EXPECT_EQ(Plan({}, {Have("env-a", true)}), (decltype(Plan({}, {})){{K::kRemove, "env-a"}}));
}

TEST(PlanReconcile, ReportsRunningOnlyWhileTheServerWaitsForIt) {
  EXPECT_EQ(Plan({Want("env-a", "starting")}, {Have("env-a", true)}),
            (decltype(Plan({}, {})){{K::kReportRunning, "env-a"}}));
  EXPECT_TRUE(Plan({Want("env-a", "running")}, {Have("env-a", true)}).empty());
}

TEST(PlanReconcile, RestartsWhenTheServerAskedForANewGeneration) {
  EXPECT_EQ(Plan({Want("env-a", "running", 2)}, {Have("env-a", true, 1)}),
            (decltype(Plan({}, {})){{K::kRestart, "env-a"}}));
}

TEST(PlanReconcile, ReportsAWorkloadThatEndedOnItsOwn) {
  EXPECT_EQ(Plan({Want("env-a", "running")}, {Have("env-a", false)}),
            (decltype(Plan({}, {})){{K::kReportEnded, "env-a"}}));
}

TEST(ParseDesired, ReadsTheServersAnswer) {
  auto desired = ParseDesired(R"({"success": true, "data": {"host_id": "host-1", "environments": [
      {"env_id": "env-1", "status": "scheduled", "image": "ubuntu:22.04",
       "command": ["sleep", "60"], "env": {"A": "1"}, "gpu_indexes": [0, 1],
       "ports": [{"service": "ssh", "port": 30001}, {"service": "jupyter", "port": 30002}],
       "cpu_cores": 4, "memory_mb": 8192, "generation": 3}]}})");
  ASSERT_TRUE(desired.ok()) << desired.status().ToString();
  ASSERT_EQ(desired->size(), 1u);
  const WorkloadSpec& spec = (*desired)[0].spec;
  EXPECT_EQ((*desired)[0].status, "scheduled");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"sleep", "60"}));
  EXPECT_EQ(spec.env.at("A"), "1");
  EXPECT_EQ(spec.gpu_indexes, (std::vector<uint32_t>{0, 1}));
  ASSERT_EQ(spec.ports.size(), 2u);
  EXPECT_EQ(spec.ports[0].container_port, 22u);
  EXPECT_EQ(spec.ports[1].container_port, 8888u);
  EXPECT_EQ(spec.ports[1].host_port, 30002u);
  EXPECT_EQ(spec.generation, 3u);
}

TEST(ParseDesired, RefusesOtherShapes) {
  EXPECT_FALSE(ParseDesired("not json").ok());
  EXPECT_FALSE(ParseDesired(R"({"data": {}})").ok());
  EXPECT_FALSE(ParseDesired(R"({"data": {"environments": [{"status": "running"}]}})").ok());
}

}  // namespace
}  // namespace remotegpu::agent
