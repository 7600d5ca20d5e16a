#include "domain/scheduler.h"

#include <gtest/gtest.h>

#include "tests/domain/builders.h"

namespace remotegpu::domain {
namespace {

using testing_builders::AllocateCmd;
using testing_builders::Given;
using testing_builders::HostContext;
using testing_builders::RegisteredHost;

// A host with `gpus` GPUs of `model`, of which the first `used` are allocated.
HostState Host(int gpus, int used, const std::string& model = "A100",
               const std::string& region = "cn-east") {
  std::vector<HostEvent> history = RegisteredHost(gpus, model);
  history[0].mutable_registered()->mutable_spec()->set_region(region);
  HostState state = Given(history);
  if (used > 0) {
    std::vector<uint32_t> indexes;
    for (int i = 0; i < used; ++i) indexes.push_back(i);
    auto allocated = Decide(state, AllocateCmd("env-x/1", "env-x", indexes), HostContext());
    state = Given(history, allocated.value());
  }
  return state;
}

PlacementRequest Gpus(uint32_t count, SchedulingStrategy strategy) {
  PlacementRequest request;
  request.cpu_cores = 4;
  request.memory_mb = 8192;
  request.gpu_count = count;
  request.strategy = strategy;
  return request;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index_.Update("host-a", Host(8, 6));  // 2 free
    index_.Update("host-b", Host(8, 0));  // 8 free
    index_.Update("host-c", Host(8, 4));  // 4 free
    index_.Update("host-d", Host(8, 7, "H100", "cn-west"));  // 1 free H100
  }
  std::string Chosen(const PlacementRequest& request) {
    auto choice = index_.Place(request, random_);
    EXPECT_TRUE(choice.ok()) << choice.status().ToString();
    return choice.ok() ? choice->host_id : "";
  }
  CapacityIndex index_;
  std::mt19937_64 random_{7};
};

TEST_F(SchedulerTest, FirstFitTakesTheFirstHostInIdOrder) {
  EXPECT_EQ(Chosen(Gpus(1, FIRST_FIT)), "host-a");
  EXPECT_EQ(Chosen(Gpus(3, FIRST_FIT)), "host-b");
}

TEST_F(SchedulerTest, BestFitTakesTheTightestHost) {
  EXPECT_EQ(Chosen(Gpus(1, BEST_FIT)), "host-d");  // 1 free: exact fit.
  EXPECT_EQ(Chosen(Gpus(2, BEST_FIT)), "host-a");
  EXPECT_EQ(Chosen(Gpus(3, BEST_FIT)), "host-c");
}

TEST_F(SchedulerTest, LeastLoadedTakesTheEmptiestHost) {
  EXPECT_EQ(Chosen(Gpus(1, LEAST_LOADED)), "host-b");
}

TEST_F(SchedulerTest, RoundRobinCyclesThroughFittingHosts) {
  std::vector<std::string> chosen;
  for (int i = 0; i < 5; ++i) chosen.push_back(Chosen(Gpus(2, ROUND_ROBIN)));
  EXPECT_EQ(chosen, (std::vector<std::string>{"host-a", "host-b", "host-c", "host-a", "host-b"}));
}

TEST_F(SchedulerTest, RandomIsSeededAndOnlyPicksFittingHosts) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(Chosen(Gpus(3, RANDOM)));
  EXPECT_EQ(seen, (std::set<std::string>{"host-b", "host-c"}));
  CapacityIndex same = index_;
  std::mt19937_64 a(99), b(99);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(index_.Place(Gpus(1, RANDOM), a)->host_id, same.Place(Gpus(1, RANDOM), b)->host_id);
  }
}

TEST_F(SchedulerTest, ConstraintsFilterHosts) {
  PlacementRequest h100 = Gpus(1, LEAST_LOADED);
  h100.constraints.set_gpu_model("H100");
  EXPECT_EQ(Chosen(h100), "host-d");
  PlacementRequest west = Gpus(1, FIRST_FIT);
  west.constraints.set_region("cn-west");
  EXPECT_EQ(Chosen(west), "host-d");
  PlacementRequest big_memory = Gpus(1, FIRST_FIT);
  big_memory.constraints.set_min_gpu_memory_mb(100000);
  auto none = index_.Place(big_memory, random_);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(none.status().message().find("at least 100000 MB"), std::string::npos);
  PlacementRequest named = Gpus(2, BEST_FIT);
  named.constraints.set_host_id("host-c");
  EXPECT_EQ(Chosen(named), "host-c");
  named.constraints.set_host_id("host-zz");
  EXPECT_EQ(index_.Place(named, random_).status().code(), StatusCode::kNotFound);
  PlacementRequest too_many = Gpus(9, BEST_FIT);
  EXPECT_EQ(index_.Place(too_many, random_).status().code(), StatusCode::kResourceExhausted);
}

TEST_F(SchedulerTest, LabelsAndOsMustMatch) {
  std::vector<HostEvent> history = RegisteredHost(2);
  auto* label = history[0].mutable_registered()->mutable_spec()->add_labels();
  label->set_key("team");
  label->set_value("vision");
  index_.Update("host-e", Given(history));
  PlacementRequest request = Gpus(1, FIRST_FIT);
  auto* wanted = request.constraints.add_labels();
  wanted->set_key("team");
  wanted->set_value("vision");
  EXPECT_EQ(Chosen(request), "host-e");
  request.constraints.set_os("windows");
  EXPECT_FALSE(index_.Place(request, random_).ok());
}

TEST_F(SchedulerTest, NvlinkPreferenceChoosesALinkedSet) {
  std::vector<HostEvent> history = RegisteredHost(0);
  for (uint32_t i = 0; i < 4; ++i) {
    Gpu gpu = testing_builders::MakeGpu(i, "A800");
    // 0-1 and 2-3 are NVLink pairs.
    gpu.add_nvlink_peers(i ^ 1u);
    history.emplace_back().mutable_gpu_added()->mutable_gpu()->CopyFrom(gpu);
  }
  HostState state = Given(history);
  auto taken = Decide(state, AllocateCmd("env-y/1", "env-y", {1}), HostContext());
  index_.Update("host-n", Given(history, taken.value()));  // Free: 0, 2, 3.
  PlacementRequest request = Gpus(2, FIRST_FIT);
  request.constraints.set_gpu_model("A800");
  request.constraints.set_prefer_nvlink(true);
  auto choice = index_.Place(request, random_);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->gpu_indexes, (std::vector<uint32_t>{2, 3}));
  request.constraints.set_prefer_nvlink(false);
  EXPECT_EQ(index_.Place(request, random_)->gpu_indexes, (std::vector<uint32_t>{0, 2}));
}

TEST_F(SchedulerTest, UnschedulableHostsAreSkippedAndUpdatesMoveHostsBetweenBuckets) {
  index_.Update("host-b", Host(8, 8));  // Now full.
  // No host has 5 free any more.
  EXPECT_FALSE(index_.Place(Gpus(5, BEST_FIT), random_).ok());
  index_.Remove("host-b");
  EXPECT_EQ(index_.size(), 3u);
  std::vector<HostEvent> history = RegisteredHost(8);
  HostEvent offline;
  offline.mutable_went_offline();
  history.push_back(offline);
  index_.Update("host-f", Given(history));
  EXPECT_FALSE(index_.Place(Gpus(5, LEAST_LOADED), random_).ok());
}

TEST_F(SchedulerTest, CpuOnlyRequestsNeedNoGpus) {
  PlacementRequest cpu = Gpus(0, BEST_FIT);
  cpu.cpu_cores = 60;
  auto choice = index_.Place(cpu, random_);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->host_id, "host-b");  // The only host with 60 cores free.
  EXPECT_TRUE(choice->gpu_indexes.empty());
}

}  // namespace
}  // namespace remotegpu::domain
