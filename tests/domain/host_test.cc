// Given/when/then tests of the Host decider.
#include "domain/host.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/domain/builders.h"

namespace remotegpu::domain {
namespace {

using testing_builders::AllocateCmd;
using testing_builders::Given;
using testing_builders::HostContext;
using testing_builders::MakeGpu;
using testing_builders::RegisteredHost;
using testing_builders::StatusCmd;

Result<std::vector<HostEvent>> When(const HostState& state, const HostCommand& command) {
  return Decide(state, command, HostContext());
}

TEST(HostDeciderTest, RegisterEmitsRegistrationAndEveryGpu) {
  HostCommand command;
  auto* reg = command.mutable_register_();
  reg->mutable_spec()->set_name("gpu-node-01");
  reg->mutable_spec()->set_ip("10.0.0.1");
  reg->mutable_spec()->set_cpu_cores(64);
  reg->mutable_spec()->set_memory_mb(512 * 1024);
  *reg->add_gpus() = MakeGpu(0, "A100");
  *reg->add_gpus() = MakeGpu(1, "A100");
  auto events = When(HostState{}, command);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_TRUE((*events)[0].has_registered());
  EXPECT_EQ((*events)[0].registered().asset().asset_number(), "RG-2026-42");  // Generated.
  EXPECT_EQ((*events)[0].registered().source(), MANUAL);
  EXPECT_EQ((*events)[2].gpu_added().gpu().index(), 1u);
  HostState state = Given(*events);
  EXPECT_EQ(state.status, AVAILABLE);
  EXPECT_EQ(state.gpus.size(), 2u);
  EXPECT_EQ(state.Usage(), IDLE);
  EXPECT_TRUE(state.Schedulable());
}

TEST(HostDeciderTest, RegisterRefusesBadInputAndDuplicates) {
  HostCommand command;
  command.mutable_register_()->mutable_spec()->set_name("n");
  auto missing_ip = When(HostState{}, command);
  EXPECT_EQ(missing_ip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing_ip.status().message().find("spec.ip"), std::string::npos);

  HostState registered = Given(RegisteredHost(2));
  auto again = When(registered, testing_builders::RegisterCmd(2));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);

  auto twice = testing_builders::RegisterCmd(0);
  *twice.mutable_register_()->add_gpus() = MakeGpu(3, "A100");
  *twice.mutable_register_()->add_gpus() = MakeGpu(3, "A100");
  EXPECT_EQ(When(HostState{}, twice).status().code(), StatusCode::kInvalidArgument);
}

TEST(HostDeciderTest, CommandsOnAnUnregisteredHostAreNotFound) {
  EXPECT_EQ(When(HostState{}, StatusCmd(MAINTENANCE, true)).status().code(),
            StatusCode::kNotFound);
}

TEST(HostDeciderTest, SpecEditRecordsOldAndNewValues) {
  HostState state = Given(RegisteredHost(2));
  HostCommand edit;
  *edit.mutable_update_spec()->mutable_spec() = state.spec;
  edit.mutable_update_spec()->mutable_spec()->set_memory_mb(1024 * 1024);
  edit.mutable_update_spec()->mutable_spec()->set_region("cn-east");
  auto events = When(state, edit);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  const auto& changes = (*events)[0].spec_changed().changes();
  ASSERT_EQ(changes.size(), 2);
  EXPECT_EQ(changes[0].field(), "memory_mb");
  EXPECT_EQ(changes[0].old_value(), "524288");
  EXPECT_EQ(changes[0].new_value(), "1048576");
  EXPECT_EQ(changes[1].field(), "region");
  EXPECT_EQ(changes[1].old_value(), "");
  EXPECT_EQ(changes[1].new_value(), "cn-east");
  // The same spec again changes nothing.
  EXPECT_TRUE(When(Given(RegisteredHost(2), *events), edit)->empty());
}

TEST(HostDeciderTest, AssetEditKeepsTheAssetNumberAndRecordsChanges) {
  HostState state = Given(RegisteredHost(0));
  HostCommand edit;
  edit.mutable_update_asset()->mutable_asset()->set_rack("R12");
  edit.mutable_update_asset()->mutable_asset()->set_unit(17);
  auto events = When(state, edit);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].asset_changed().asset().asset_number(), "RG-2026-42");
  EXPECT_EQ((*events)[0].asset_changed().changes_size(), 2);
}

TEST(HostDeciderTest, GpuRediscoveryNoticesAddedRemovedAndChanged) {
  HostState state = Given(RegisteredHost(3));
  HostCommand report;
  *report.mutable_report_gpus()->add_gpus() = MakeGpu(0, "A100");  // Unchanged.
  Gpu changed = MakeGpu(1, "A100");
  changed.set_uuid("GPU-replaced");
  *report.mutable_report_gpus()->add_gpus() = changed;              // Changed.
  *report.mutable_report_gpus()->add_gpus() = MakeGpu(3, "A100");  // Added; 2 is gone.
  auto events = When(state, report);
  ASSERT_TRUE(events.ok());
  std::set<std::string> kinds;
  for (const auto& e : *events) {
    if (e.has_gpu_added()) kinds.insert("added " + std::to_string(e.gpu_added().gpu().index()));
    if (e.has_gpu_removed()) {
      kinds.insert("removed " + std::to_string(e.gpu_removed().gpu().index()));
    }
    if (e.has_gpu_changed()) {
      kinds.insert("changed " + std::to_string(e.gpu_changed().gpu().index()));
      ASSERT_EQ(e.gpu_changed().changes_size(), 1);
      EXPECT_EQ(e.gpu_changed().changes(0).field(), "uuid");
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"added 3", "removed 2", "changed 1"}));
}

// Every (from, to) pair of the operational status table, allowed and refused.
TEST(HostDeciderTest, OperationalStatusTransitionTable) {
  const std::vector<OperationalStatus> all = {AVAILABLE, MAINTENANCE, FAULTY, RETIRED, RESERVED};
  const std::set<std::pair<OperationalStatus, OperationalStatus>> allowed = {
      {AVAILABLE, MAINTENANCE}, {AVAILABLE, FAULTY},    {AVAILABLE, RETIRED},
      {AVAILABLE, RESERVED},    {MAINTENANCE, AVAILABLE}, {MAINTENANCE, FAULTY},
      {MAINTENANCE, RETIRED},   {FAULTY, AVAILABLE},    {FAULTY, MAINTENANCE},
      {FAULTY, RETIRED},        {RESERVED, AVAILABLE},  {RESERVED, MAINTENANCE},
      {RESERVED, FAULTY},       {RESERVED, RETIRED},
  };
  for (OperationalStatus from : all) {
    for (OperationalStatus to : all) {
      SCOPED_TRACE(std::string(Name(from)) + " -> " + Name(to));
      std::vector<HostEvent> history = RegisteredHost(1);
      if (from != AVAILABLE) {
        HostEvent moved;
        moved.mutable_status_changed()->set_from(AVAILABLE);
        moved.mutable_status_changed()->set_to(from);
        moved.mutable_status_changed()->set_by_person(true);
        moved.mutable_status_changed()->set_reserved_for(from == RESERVED ? "acme" : "");
        history.push_back(moved);
      }
      auto events = When(Given(history), StatusCmd(to, true, "acme"));
      if (allowed.contains({from, to})) {
        ASSERT_TRUE(events.ok()) << events.status().ToString();
        ASSERT_EQ(events->size(), 1u);
        EXPECT_EQ((*events)[0].status_changed().from(), from);
        EXPECT_EQ((*events)[0].status_changed().to(), to);
        EXPECT_EQ((*events)[0].status_changed().reason(), "because");
        EXPECT_TRUE((*events)[0].status_changed().by_person());
      } else {
        ASSERT_FALSE(events.ok());
        EXPECT_EQ(events.status().code(), StatusCode::kFailedPrecondition);
      }
    }
  }
}

TEST(HostDeciderTest, MaintenanceAndRetirementNeedDrainWhileAllocated) {
  std::vector<HostEvent> history = RegisteredHost(2);
  HostState state = Given(history);
  auto allocated = When(state, AllocateCmd("env-1/1", "env-1", {0}));
  ASSERT_TRUE(allocated.ok());
  state = Given(history, *allocated);
  for (OperationalStatus to : {MAINTENANCE, RETIRED}) {
    auto refused = When(state, StatusCmd(to, true));
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("drain"), std::string::npos);
    auto drained = When(state, StatusCmd(to, true, "", /*drain=*/true));
    ASSERT_TRUE(drained.ok());
    EXPECT_TRUE((*drained)[0].status_changed().drained());
  }
  // Faulty needs no drain: a broken machine is broken.
  EXPECT_TRUE(When(state, StatusCmd(FAULTY, false)).ok());
}

TEST(HostDeciderTest, AutomationNeverLiftsAPersonsMaintenance) {
  std::vector<HostEvent> history = RegisteredHost(1);
  auto by_person = When(Given(history), StatusCmd(MAINTENANCE, true));
  ASSERT_TRUE(by_person.ok());
  HostState in_maintenance = Given(history, *by_person);
  auto automation = When(in_maintenance, StatusCmd(AVAILABLE, false));
  EXPECT_EQ(automation.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(automation.status().message().find("person"), std::string::npos);
  EXPECT_TRUE(When(in_maintenance, StatusCmd(AVAILABLE, true)).ok());

  auto by_automation = When(Given(history), StatusCmd(MAINTENANCE, false));
  EXPECT_TRUE(When(Given(history, *by_automation), StatusCmd(AVAILABLE, false)).ok());
}

TEST(HostDeciderTest, ReservedNamesForWhomAndTakesOnlyThem) {
  std::vector<HostEvent> history = RegisteredHost(2);
  EXPECT_EQ(When(Given(history), StatusCmd(RESERVED, true, "")).status().code(),
            StatusCode::kInvalidArgument);
  auto reserved = When(Given(history), StatusCmd(RESERVED, true, "acme"));
  ASSERT_TRUE(reserved.ok());
  HostState state = Given(history, *reserved);
  EXPECT_FALSE(state.Schedulable());
  auto other = When(state, AllocateCmd("env-1/1", "env-1", {0}, "globex"));
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(When(state, AllocateCmd("env-1/1", "env-1", {0}, "acme")).ok());
}

TEST(HostDeciderTest, RetiredIsFinal) {
  std::vector<HostEvent> history = RegisteredHost(1);
  auto retired = When(Given(history), StatusCmd(RETIRED, true));
  ASSERT_TRUE(retired.ok());
  HostState state = Given(history, *retired);
  for (OperationalStatus to : {AVAILABLE, MAINTENANCE, FAULTY, RESERVED}) {
    EXPECT_EQ(When(state, StatusCmd(to, true, "acme")).status().code(),
              StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(When(state, AllocateCmd("env-1/1", "env-1", {0})).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(HostDeciderTest, HeartbeatsAndOfflineEmitOnlyTransitions) {
  HostState online = Given(RegisteredHost(1));
  HostCommand heartbeat;
  heartbeat.mutable_heartbeat();
  EXPECT_TRUE(When(online, heartbeat)->empty());
  HostCommand offline;
  offline.mutable_mark_offline()->set_last_heartbeat_us(5);
  auto went = When(online, offline);
  ASSERT_EQ(went->size(), 1u);
  HostState off = Given(RegisteredHost(1), *went);
  EXPECT_FALSE(off.Schedulable());
  EXPECT_TRUE(When(off, offline)->empty());
  auto back = When(off, heartbeat);
  ASSERT_EQ(back->size(), 1u);
  EXPECT_TRUE(back->at(0).has_came_online());
}

TEST(HostDeciderTest, HealthThresholdsIsolateAndRecover) {
  std::vector<HostEvent> history = RegisteredHost(2);
  auto report = [](double temp, uint64_t ecc, double disk, bool accessible = true) {
    HostCommand command;
    auto* health = command.mutable_report_health();
    auto* gpu = health->add_gpus();
    gpu->set_index(0);
    gpu->set_temperature_c(temp);
    gpu->set_ecc_uncorrectable_errors(ecc);
    gpu->set_accessible(accessible);
    health->set_disk_free_percent(disk);
    health->set_memory_free_percent(50);
    return command;
  };
  EXPECT_TRUE(When(Given(history), report(60, 0, 50))->empty());  // Healthy stays quiet.

  auto hot = When(Given(history), report(86, 0, 50));
  ASSERT_EQ(hot->size(), 1u);
  EXPECT_EQ(hot->at(0).health_changed().to(), DEGRADED);
  EXPECT_FALSE(hot->at(0).health_changed().isolated());
  EXPECT_TRUE(Given(history, *hot).Schedulable());  // Degraded still takes work.

  auto low_disk = When(Given(history), report(60, 0, 9.5));
  EXPECT_EQ(low_disk->at(0).health_changed().to(), DEGRADED);

  auto ecc = When(Given(history), report(60, 3, 50));
  ASSERT_EQ(ecc->size(), 1u);
  EXPECT_EQ(ecc->at(0).health_changed().to(), UNHEALTHY);
  EXPECT_TRUE(ecc->at(0).health_changed().isolated());
  std::vector<HostEvent> sick = history;
  sick.insert(sick.end(), ecc->begin(), ecc->end());
  HostState isolated = Given(sick);
  EXPECT_FALSE(isolated.Schedulable());
  EXPECT_EQ(When(isolated, AllocateCmd("env-1/1", "env-1", {0})).status().code(),
            StatusCode::kFailedPrecondition);

  auto recovered = When(isolated, report(60, 0, 50));
  ASSERT_EQ(recovered->size(), 1u);
  EXPECT_EQ(recovered->at(0).health_changed().to(), HEALTHY);
  EXPECT_TRUE(Given(sick, *recovered).Schedulable());

  EXPECT_EQ(When(Given(history), report(60, 0, 50, false))->at(0).health_changed().to(),
            UNHEALTHY);
}

TEST(HostDeciderTest, AHotGpuWhoseTemperatureMovesWritesOneEvent) {
  std::vector<HostEvent> history = RegisteredHost(1);
  auto hot = [](double temp) {
    HostCommand command;
    auto* gpu = command.mutable_report_health()->add_gpus();
    gpu->set_accessible(true);
    gpu->set_temperature_c(temp);
    command.mutable_report_health()->set_disk_free_percent(50);
    command.mutable_report_health()->set_memory_free_percent(50);
    return command;
  };
  auto first = When(Given(history), hot(88));
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->at(0).health_changed().reasons(0), "GPU 0 runs above 85 °C");
  history.insert(history.end(), first->begin(), first->end());
  EXPECT_TRUE(When(Given(history), hot(91))->empty());  // Same verdict, no event.
}

TEST(JudgeHealth, FromAMetricsSample) {
  HostSample sample;
  sample.set_memory_total_bytes(100);
  sample.set_memory_available_bytes(4);  // 4 % free.
  sample.set_disk_total_bytes(100);
  sample.set_disk_available_bytes(50);
  auto* power = sample.add_gpus();
  power->set_index(0);
  power->set_accessible(true);
  power->set_has_power(true);
  power->set_power_w(720);
  power->set_power_limit_w(700);
  auto* lost = sample.add_gpus();
  lost->set_index(1);  // Not accessible: nvidia-smi stopped answering for it.
  HealthVerdict verdict = JudgeHealth(HealthReportOf(sample));
  EXPECT_EQ(verdict.status, UNHEALTHY);
  EXPECT_EQ(verdict.reasons,
            (std::vector<std::string>{"GPU 0 draws more than its power limit",
                                      "GPU 1 is not accessible", "memory under 5 % free"}));

  // No temperature or power reading is no reason; missing totals count as fine.
  HostSample quiet;
  auto* unknown = quiet.add_gpus();
  unknown->set_accessible(true);
  unknown->set_temperature_c(99);  // has_temperature false: not a reading.
  EXPECT_EQ(JudgeHealth(HealthReportOf(quiet)).status, HEALTHY);
}

TEST(HostDeciderTest, AllocationNeverExceedsCapacityAndGpusHaveOneHolder) {
  std::vector<HostEvent> history = RegisteredHost(4);  // 64 cores, 512 GiB.
  HostState state = Given(history);
  auto first = When(state, AllocateCmd("env-1/1", "env-1", {0, 1}));
  ASSERT_TRUE(first.ok());
  state = Given(history, *first);
  EXPECT_EQ(state.Usage(), PARTIAL);

  auto taken = When(state, AllocateCmd("env-2/1", "env-2", {1, 2}));
  EXPECT_EQ(taken.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(taken.status().message().find("GPU 1 is held by allocation env-1/1"),
            std::string::npos);
  EXPECT_EQ(When(state, AllocateCmd("env-2/1", "env-2", {7})).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(When(state, AllocateCmd("env-2/1", "env-2", {2, 2})).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(When(state, AllocateCmd("env-1/1", "env-1", {2})).status().code(),
            StatusCode::kAlreadyExists);

  HostCommand too_much = AllocateCmd("env-3/1", "env-3", {2});
  too_much.mutable_allocate()->set_cpu_cores(60);  // 8 already taken of 64.
  auto cpu = When(state, too_much);
  EXPECT_EQ(cpu.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(cpu.status().message().find("56 cores free"), std::string::npos);

  auto rest = When(state, AllocateCmd("env-3/1", "env-3", {2, 3}));
  ASSERT_TRUE(rest.ok());
  std::vector<HostEvent> full = history;
  full.insert(full.end(), first->begin(), first->end());
  full.insert(full.end(), rest->begin(), rest->end());
  EXPECT_EQ(Given(full).Usage(), FULL);
}

TEST(HostDeciderTest, OvercommitOnlyWhereAllowed) {
  std::vector<HostEvent> history = RegisteredHost(0);
  history[0].mutable_registered()->mutable_spec()->set_overcommit_percent(150);
  HostState state = Given(history);
  HostCommand big = AllocateCmd("env-1/1", "env-1", {});
  big.mutable_allocate()->set_cpu_cores(90);  // 64 cores * 1.5 = 96.
  auto over = When(state, big);
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ(Given(history, *over).Usage(), OVERCOMMIT);
  big.mutable_allocate()->set_cpu_cores(97);
  EXPECT_EQ(When(state, big).status().code(), StatusCode::kResourceExhausted);
}

TEST(HostDeciderTest, PortsAreBoundLowestFirstOnceAndExhaustionIsClear) {
  std::vector<HostEvent> history = RegisteredHost(0);
  PortRange* tiny = history[0].mutable_registered()->mutable_spec()->add_port_ranges();
  tiny->set_service(SSH);
  tiny->set_first(30000);
  tiny->set_last(30001);
  HostCommand two = AllocateCmd("env-1/1", "env-1", {});
  auto* request = two.mutable_allocate()->add_ports();
  request->set_service(SSH);
  request->set_count(1);
  auto* jupyter = two.mutable_allocate()->add_ports();
  jupyter->set_service(JUPYTER);
  jupyter->set_count(1);
  auto first = When(Given(history), two);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->at(0).allocated().ports(0).port(), 30000u);
  EXPECT_EQ(first->at(0).allocated().ports(1).port(), 38000u);  // Default Jupyter pool.
  history.insert(history.end(), first->begin(), first->end());

  HostCommand next = two;
  next.mutable_allocate()->set_allocation_id("env-2/1");
  next.mutable_allocate()->set_holder("env-2");
  auto second = When(Given(history), next);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->at(0).allocated().ports(0).port(), 30001u);
  history.insert(history.end(), second->begin(), second->end());

  next.mutable_allocate()->set_allocation_id("env-3/1");
  auto exhausted = When(Given(history), next);
  EXPECT_EQ(exhausted.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(exhausted.status().message().find("no free SSH port"), std::string::npos);

  // Releasing gives the port back.
  HostCommand release;
  release.mutable_release()->set_allocation_id("env-1/1");
  auto released = When(Given(history), release);
  ASSERT_TRUE(released.ok());
  history.insert(history.end(), released->begin(), released->end());
  auto third = When(Given(history), next);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->at(0).allocated().ports(0).port(), 30000u);
}

TEST(HostDeciderTest, WholeMachineLeaseTakesEverythingAndNeedsAnEmptyHost) {
  std::vector<HostEvent> history = RegisteredHost(8);
  HostCommand lease;
  lease.mutable_allocate()->set_allocation_id("lease-1");
  lease.mutable_allocate()->set_holder("lease-1");
  lease.mutable_allocate()->set_whole_machine(true);
  auto leased = When(Given(history), lease);
  ASSERT_TRUE(leased.ok());
  EXPECT_EQ(leased->at(0).allocated().gpu_indexes_size(), 8);
  EXPECT_EQ(leased->at(0).allocated().cpu_cores(), 64u);
  HostState state = Given(history, *leased);
  EXPECT_FALSE(state.Schedulable());
  EXPECT_EQ(state.Usage(), FULL);
  EXPECT_EQ(When(state, AllocateCmd("env-1/1", "env-1", {})).status().code(),
            StatusCode::kFailedPrecondition);

  auto env = When(Given(history), AllocateCmd("env-1/1", "env-1", {0}));
  std::vector<HostEvent> busy = history;
  busy.insert(busy.end(), env->begin(), env->end());
  EXPECT_EQ(When(Given(busy), lease).status().code(), StatusCode::kFailedPrecondition);
}

TEST(HostDeciderTest, ReleaseOfAnUnknownAllocationIsNotFound) {
  HostCommand release;
  release.mutable_release()->set_allocation_id("env-9/1");
  EXPECT_EQ(When(Given(RegisteredHost(1)), release).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace remotegpu::domain
