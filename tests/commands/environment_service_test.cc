#include "commands/environment_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

using EnvironmentServiceTest = ServiceTest;

TEST_F(EnvironmentServiceTest, CreatePlacesAndAppendsEnvironmentAndHostTogether) {
  RegisterHost("host-1", 8);
  auto placed = environments_service_->Create("env-1", Spec(2), meta_);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(placed->placement.host_id(), "host-1");
  EXPECT_EQ(placed->placement.gpu_indexes_size(), 2);
  ASSERT_EQ(placed->placement.ports_size(), 1);
  EXPECT_EQ(placed->placement.ports(0).port(), 30000u);

  // One append: the environment's two events and the host's allocation are
  // contiguous in the log.
  auto events = store_->ReadAll(placed->env.first_position, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].data.type, "EnvironmentCreated");
  EXPECT_EQ((*events)[1].data.type, "EnvironmentScheduled");
  EXPECT_EQ((*events)[2].data.type, "ResourcesAllocated");
  EXPECT_EQ((*events)[2].stream_id, "host-1");
  EXPECT_EQ((*events)[0].data.actor.id, "user-1");
  EXPECT_EQ((*events)[0].data.correlation_id, "req-1");

  domain::HostState host = FoldFromLog("host-1");
  EXPECT_EQ(host.gpu_holders.size(), 2u);
  EXPECT_EQ(host.Usage(), domain::PARTIAL);
  EXPECT_EQ(host.allocations.begin()->second.holder, "env-1");
}

TEST_F(EnvironmentServiceTest, NoCapacityIsAClearErrorAndStaysInTheSchedulingHistory) {
  RegisterHost("host-1", 2);
  auto placed = environments_service_->Create("env-1", Spec(4), meta_);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(placed.status().message().find("4 free GPU(s)"), std::string::npos)
      << placed.status().message();
  auto env = store_->ReadStream("env-1");
  ASSERT_EQ(env->size(), 2u);
  EXPECT_EQ((*env)[1].data.type, "SchedulingFailed");
  EXPECT_TRUE(FoldFromLog("host-1").allocations.empty());
}

TEST_F(EnvironmentServiceTest, DuplicateIdAndBadSpecAreRefusedWithoutWriting) {
  RegisterHost("host-1", 8);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());
  const uint64_t before = store_->LastPosition();
  EXPECT_EQ(environments_service_->Create("env-1", Spec(1), meta_).status().code(),
            StatusCode::kAlreadyExists);
  domain::EnvironmentSpec bad = Spec(1);
  bad.set_name("no spaces allowed");
  EXPECT_EQ(environments_service_->Create("env-2", bad, meta_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(environments_service_->Create("nodash", Spec(1), meta_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LastPosition(), before);
}

TEST_F(EnvironmentServiceTest, StopReleasesGpusAndPortsAndStartPlacesAgain) {
  RegisterHost("host-1", 2);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(2), meta_).ok());
  EXPECT_FALSE(environments_service_->Create("env-2", Spec(2), meta_).ok());  // Full.

  for (auto to : {domain::STARTING, domain::RUNNING, domain::STOPPING, domain::STOPPED}) {
    auto moved = environments_service_->ChangeStatus("env-1", to, "test", meta_);
    ASSERT_TRUE(moved.ok()) << domain::Name(to) << ": " << moved.status().ToString();
  }
  domain::HostState host = FoldFromLog("host-1");
  EXPECT_TRUE(host.allocations.empty());
  EXPECT_TRUE(host.port_holders.empty());

  auto restarted = environments_service_->Start("env-1", meta_);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  EXPECT_EQ(restarted->placement.allocation_id(), "env-1/2");
  EXPECT_EQ(FoldFromLog("host-1").gpu_holders.size(), 2u);

  auto deleted = environments_service_->ChangeStatus("env-1", domain::DELETED, "done", meta_);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(FoldFromLog("host-1").allocations.empty());
  EXPECT_EQ(environments_service_->Start("env-1", meta_).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(EnvironmentServiceTest, IllegalLifecycleMovesAreRefusedWithTheTablesReason) {
  RegisterHost("host-1", 1);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());
  auto moved = environments_service_->ChangeStatus("env-1", domain::STOPPED, "skip", meta_);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(moved.status().message().find("from scheduled to stopped"), std::string::npos);
}

TEST_F(EnvironmentServiceTest, UnschedulableHostsAreAvoided) {
  RegisterHost("host-1", 8);
  RegisterHost("host-2", 8);
  auto maintenance = hosts_service_->Execute(
      "host-1", domain::testing_builders::StatusCmd(domain::MAINTENANCE, true), meta_);
  ASSERT_TRUE(maintenance.ok());
  for (int i = 0; i < 4; ++i) {
    auto placed = environments_service_->Create("env-" + std::to_string(i), Spec(2), meta_);
    ASSERT_TRUE(placed.ok()) << placed.status().ToString();
    EXPECT_EQ(placed->placement.host_id(), "host-2");
  }
}

TEST_F(EnvironmentServiceTest, IndexRebuiltFromTheLogMatchesTheLiveOne) {
  RegisterHost("host-1", 8);
  RegisterHost("host-2", 4, "H100");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(environments_service_->Create("env-" + std::to_string(i), Spec(1), meta_).ok());
  }
  ASSERT_TRUE(environments_service_->ChangeStatus("env-2", domain::FAILED, "crash", meta_).ok());
  SchedulerIndex rebuilt;
  ASSERT_TRUE(rebuilt.CatchUp(*store_).ok());
  for (const auto& host_id : {"host-1", "host-2"}) {
    EXPECT_EQ(rebuilt.HostVersion(host_id), index_->HostVersion(host_id));
    EXPECT_EQ(rebuilt.HostState(host_id)->gpu_holders, index_->HostState(host_id)->gpu_holders);
  }
}

// Many threads create environments against a few hosts through the real
// store: every success holds its own GPUs and ports, every failure says why.
TEST_F(EnvironmentServiceTest, ConcurrentCreationsNeverShareGpusOrPorts) {
  constexpr int kHosts = 3;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 12;
  for (int h = 0; h < kHosts; ++h) RegisterHost("host-" + std::to_string(h), 8);
  std::atomic<int> successes{0}, no_capacity{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> unexpected;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto placed = environments_service_->Create(
            "env-" + std::to_string(t) + "-" + std::to_string(i), Spec(1 + (i % 2)), meta_);
        if (placed.ok()) {
          ++successes;
        } else if (placed.status().code() == StatusCode::kResourceExhausted) {
          ++no_capacity;
        } else {
          std::lock_guard lock(mu);
          unexpected.push_back(placed.status().ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  // 24 GPUs, requests of 1 and 2: they run out, so both outcomes happen.
  EXPECT_GT(successes.load(), 0);
  EXPECT_GT(no_capacity.load(), 0);

  int gpus_held = 0;
  for (int h = 0; h < kHosts; ++h) {
    const std::string host_id = "host-" + std::to_string(h);
    domain::HostState replayed = FoldFromLog(host_id);
    std::set<uint32_t> gpus;
    std::set<uint32_t> ports;
    for (const auto& [id, allocation] : replayed.allocations) {
      for (uint32_t gpu : allocation.gpu_indexes) {
        EXPECT_TRUE(gpus.insert(gpu).second) << host_id << " GPU " << gpu << " held twice";
      }
      for (const auto& port : allocation.ports) {
        EXPECT_TRUE(ports.insert(port.port()).second) << host_id << " port " << port.port();
      }
    }
    EXPECT_LE(replayed.cpu_allocated, replayed.spec.cpu_cores());
    gpus_held += static_cast<int>(gpus.size());
    // The live index and the cache agree with the log.
    EXPECT_EQ(index_->HostState(host_id)->gpu_holders, replayed.gpu_holders);
  }
  EXPECT_EQ(gpus_held, 24);
}

}  // namespace
}  // namespace remotegpu::commands
