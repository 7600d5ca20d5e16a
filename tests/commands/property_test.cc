// Property test: random command sequences through the real services and
// store. After every command the state folded from the log alone equals the
// state the command side keeps (cache and scheduler index), no GPU has two
// holders, no port is bound twice, and allocations stay within capacity.
// REMOTEGPU_PROPERTY_SEED replays one sequence.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

class PropertyTest : public ServiceTest {
 protected:
  // Codes a refused command may answer with; anything else is a bug.
  static bool ExpectedRefusal(StatusCode code) {
    return code == StatusCode::kInvalidArgument || code == StatusCode::kFailedPrecondition ||
           code == StatusCode::kResourceExhausted || code == StatusCode::kNotFound ||
           code == StatusCode::kAlreadyExists;
  }

  void CheckInvariants(const std::vector<std::string>& hosts, const std::string& after) {
    for (const auto& host_id : hosts) {
      domain::HostState replayed = FoldFromLog(host_id);
      auto live = index_->HostState(host_id);
      ASSERT_TRUE(live.has_value()) << after;
      ASSERT_EQ(live->gpu_holders, replayed.gpu_holders) << host_id << " after " << after;
      ASSERT_EQ(live->port_holders, replayed.port_holders) << host_id << " after " << after;
      ASSERT_EQ(live->status, replayed.status) << host_id << " after " << after;
      ASSERT_EQ(live->cpu_allocated, replayed.cpu_allocated) << host_id << " after " << after;
      std::set<uint32_t> gpus, ports;
      uint64_t cpu = 0, memory = 0;
      for (const auto& [id, allocation] : replayed.allocations) {
        for (uint32_t gpu : allocation.gpu_indexes) {
          ASSERT_TRUE(gpus.insert(gpu).second) << "GPU held twice after " << after;
          ASSERT_TRUE(replayed.gpus.contains(gpu)) << "unknown GPU allocated after " << after;
        }
        for (const auto& port : allocation.ports) {
          ASSERT_TRUE(ports.insert(port.port()).second) << "port bound twice after " << after;
        }
        cpu += allocation.cpu_cores;
        memory += allocation.memory_mb;
      }
      ASSERT_LE(cpu, replayed.spec.cpu_cores()) << after;  // No host allows overcommit here.
      ASSERT_LE(memory, replayed.spec.memory_mb()) << after;
    }
  }
};

TEST_F(PropertyTest, RandomCommandSequencesKeepTheInvariants) {
  const char* seed_env = std::getenv("REMOTEGPU_PROPERTY_SEED");
  const uint64_t first_seed = seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10) : 1;
  const int sequences = seed_env != nullptr ? 1 : 30;
  constexpr int kCommandsPerSequence = 100;
  const std::vector<std::string> models = {"A100", "H100"};
  int commands_run = 0, refused = 0;

  for (int sequence = 0; sequence < sequences; ++sequence) {
    const uint64_t seed = first_seed + sequence;
    SCOPED_TRACE("REMOTEGPU_PROPERTY_SEED=" + std::to_string(seed));
    OpenFresh("events-" + std::to_string(seed));
    std::mt19937_64 random(seed);
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random); };
    std::vector<std::string> hosts, envs;

    for (int step = 0; step < kCommandsPerSequence; ++step) {
      std::string what;
      Status outcome;
      const size_t op = hosts.empty() ? 0 : pick(10);
      if (op == 0 && hosts.size() < 5) {
        std::string id = "host-" + std::to_string(hosts.size());
        what = "register " + id;
        auto r = hosts_service_->Execute(
            id, domain::testing_builders::RegisterCmd(2 + 2 * static_cast<int>(pick(3)),
                                                      models[pick(2)]),
            meta_);
        outcome = r.status();
        if (r.ok()) hosts.push_back(id);
      } else if (op <= 3) {
        std::string id = "env-" + std::to_string(envs.size());
        domain::EnvironmentSpec spec = Spec(static_cast<uint32_t>(pick(4)));
        spec.set_strategy(static_cast<domain::SchedulingStrategy>(1 + pick(5)));
        if (pick(3) == 0) spec.mutable_constraints()->set_gpu_model(models[pick(2)]);
        if (pick(4) == 0) spec.mutable_constraints()->set_prefer_nvlink(true);
        what = "create " + id;
        auto r = environments_service_->Create(id, spec, meta_);
        outcome = r.status();
        envs.push_back(id);  // Created even when not placed.
      } else if (op <= 6 && !envs.empty()) {
        const std::string& id = envs[pick(envs.size())];
        auto to = static_cast<domain::EnvironmentStatus>(3 + pick(7));  // starting..deleted
        what = "move " + id + " to " + domain::Name(to);
        outcome = environments_service_->ChangeStatus(id, to, "random", meta_).status();
      } else if (op == 7 && !envs.empty()) {
        const std::string& id = envs[pick(envs.size())];
        what = "start " + id;
        outcome = environments_service_->Start(id, meta_).status();
      } else if (op == 8) {
        const std::string& id = hosts[pick(hosts.size())];
        auto to = static_cast<domain::OperationalStatus>(1 + pick(5));
        what = "status " + id + " " + domain::Name(to);
        outcome = hosts_service_
                      ->Execute(id,
                                domain::testing_builders::StatusCmd(to, pick(2) == 0, "acme",
                                                                    pick(2) == 0),
                                meta_)
                      .status();
      } else {
        const std::string& id = hosts[pick(hosts.size())];
        domain::HostCommand command;
        if (pick(2) == 0) {
          auto* gpu = command.mutable_report_health()->add_gpus();
          gpu->set_accessible(true);
          gpu->set_ecc_uncorrectable_errors(pick(4) == 0 ? 1 : 0);
          command.mutable_report_health()->set_disk_free_percent(50);
          command.mutable_report_health()->set_memory_free_percent(50);
          what = "health " + id;
        } else if (pick(2) == 0) {
          command.mutable_mark_offline();
          what = "offline " + id;
        } else {
          command.mutable_heartbeat();
          what = "heartbeat " + id;
        }
        outcome = hosts_service_->Execute(id, command, meta_).status();
      }
      ++commands_run;
      if (!outcome.ok()) {
        ++refused;
        ASSERT_TRUE(ExpectedRefusal(outcome.code())) << what << ": " << outcome.ToString();
      }
      CheckInvariants(hosts, what);
      if (HasFatalFailure()) return;
    }

    // The whole log replays into the same scheduler index.
    SchedulerIndex rebuilt;
    ASSERT_TRUE(rebuilt.CatchUp(*store_).ok());
    for (const auto& id : hosts) {
      ASSERT_EQ(rebuilt.HostState(id)->gpu_holders, index_->HostState(id)->gpu_holders);
    }
  }
  std::cout << commands_run << " commands, " << refused << " refused as expected\n";
  EXPECT_GT(refused, 0);
  EXPECT_LT(refused, commands_run);
}

}  // namespace
}  // namespace remotegpu::commands
