// Given/when/then tests of the Environment decider.
#include "domain/environment.h"

#include <gtest/gtest.h>

#include <set>

namespace remotegpu::domain {
namespace {

const DecideContext kContext{"env-7", 1'767'225'600'000'000};

EnvironmentSpec Spec(uint32_t gpus = 1) {
  EnvironmentSpec spec;
  spec.set_name("train_llm-01");
  spec.set_owner("acme");
  spec.set_image("pytorch:2.3-cuda12");
  spec.set_cpu_cores(8);
  spec.set_memory_mb(32768);
  spec.set_gpu_count(gpus);
  return spec;
}

EnvironmentState Given(const std::vector<EnvironmentEvent>& events) {
  EnvironmentState state;
  for (const auto& e : events) Apply(state, e);
  return state;
}

EnvironmentEvent Created() {
  EnvironmentEvent e;
  *e.mutable_created()->mutable_spec() = Spec();
  return e;
}

EnvironmentEvent Scheduled() {
  EnvironmentEvent e;
  auto* placement = e.mutable_scheduled()->mutable_placement();
  placement->set_host_id("host-1");
  placement->set_allocation_id("env-7/1");
  placement->add_gpu_indexes(0);
  return e;
}

EnvironmentEvent MovedTo(EnvironmentStatus to) {
  EnvironmentEvent e;
  e.mutable_status_changed()->set_to(to);
  return e;
}

EnvironmentCommand ChangeTo(EnvironmentStatus to) {
  EnvironmentCommand c;
  c.mutable_change_status()->set_to(to);
  c.mutable_change_status()->set_reason("test");
  return c;
}

TEST(EnvironmentDeciderTest, CreateValidatesTheSpec) {
  EnvironmentCommand create;
  *create.mutable_create()->mutable_spec() = Spec();
  auto ok = Decide(EnvironmentState{}, create, kContext);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(Given(*ok).status, CREATING);

  for (const char* bad : {"", "has space", "dot.name", "slash/x"}) {
    create.mutable_create()->mutable_spec()->set_name(bad);
    auto refused = Decide(EnvironmentState{}, create, kContext);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  *create.mutable_create()->mutable_spec() = Spec();
  create.mutable_create()->mutable_spec()->clear_image();
  EXPECT_NE(Decide(EnvironmentState{}, create, kContext).status().message().find("image"),
            std::string::npos);
  *create.mutable_create()->mutable_spec() = Spec();
  EXPECT_EQ(Decide(Given({Created()}), create, kContext).status().code(),
            StatusCode::kAlreadyExists);
}

// Every (from, to) pair of the lifecycle table.
TEST(EnvironmentDeciderTest, LifecycleTransitionTable) {
  const std::vector<EnvironmentStatus> all = {CREATING, SCHEDULED, STARTING, RUNNING,  STOPPING,
                                              STOPPED,  RESTARTING, FAILED,  DELETED};
  const std::set<std::pair<EnvironmentStatus, EnvironmentStatus>> allowed = {
      {CREATING, FAILED},     {CREATING, DELETED},   {SCHEDULED, STARTING},
      {SCHEDULED, STOPPING},  {SCHEDULED, FAILED},   {SCHEDULED, DELETED},
      {STARTING, RUNNING},    {STARTING, STOPPING},  {STARTING, FAILED},
      {STARTING, DELETED},    {RUNNING, STOPPING},   {RUNNING, RESTARTING},
      {RUNNING, FAILED},      {RUNNING, DELETED},    {RESTARTING, RUNNING},
      {RESTARTING, FAILED},   {RESTARTING, DELETED}, {STOPPING, STOPPED},
      {STOPPING, FAILED},     {STOPPING, DELETED},   {STOPPED, DELETED},
      {FAILED, STOPPED},      {FAILED, DELETED},
  };
  for (EnvironmentStatus from : all) {
    for (EnvironmentStatus to : all) {
      if (to == SCHEDULED) continue;  // Reached by placing; tested below.
      SCOPED_TRACE(std::string(Name(from)) + " -> " + Name(to));
      std::vector<EnvironmentEvent> history = {Created()};
      if (from != CREATING) history.push_back(Scheduled());
      if (from != CREATING && from != SCHEDULED) history.push_back(MovedTo(from));
      auto events = Decide(Given(history), ChangeTo(to), kContext);
      if (allowed.contains({from, to})) {
        ASSERT_TRUE(events.ok()) << events.status().ToString();
        EXPECT_EQ((*events)[0].status_changed().from(), from);
        EXPECT_EQ((*events)[0].status_changed().to(), to);
      } else {
        ASSERT_FALSE(events.ok());
        // Creating is no target at all; anything else breaks the table.
        EXPECT_EQ(events.status().code(), to == CREATING && from != DELETED
                                              ? StatusCode::kInvalidArgument
                                              : StatusCode::kFailedPrecondition);
      }
    }
  }
}

TEST(EnvironmentDeciderTest, StopFailAndDeleteReleaseThePlacement) {
  std::vector<EnvironmentEvent> history = {Created(), Scheduled(), MovedTo(STARTING),
                                           MovedTo(RUNNING), MovedTo(STOPPING)};
  auto stopped = Decide(Given(history), ChangeTo(STOPPED), kContext);
  ASSERT_TRUE(stopped.ok());
  ASSERT_EQ(stopped->size(), 2u);
  EXPECT_EQ((*stopped)[1].placement_released().placement().allocation_id(), "env-7/1");
  history.insert(history.end(), stopped->begin(), stopped->end());
  EnvironmentState state = Given(history);
  EXPECT_FALSE(state.placed);
  // Deleting a stopped environment has nothing left to release.
  auto deleted = Decide(state, ChangeTo(DELETED), kContext);
  ASSERT_EQ(deleted->size(), 1u);
  // Deleting a running one releases.
  auto running_deleted =
      Decide(Given({Created(), Scheduled(), MovedTo(STARTING), MovedTo(RUNNING)}),
             ChangeTo(DELETED), kContext);
  ASSERT_EQ(running_deleted->size(), 2u);
  EXPECT_TRUE((*running_deleted)[1].has_placement_released());
}

TEST(EnvironmentDeciderTest, PlacementOnlyFromCreatingStoppedOrFailedWithTheRightGpuCount) {
  EnvironmentCommand place;
  auto* placement = place.mutable_record_placement()->mutable_placement();
  placement->set_host_id("host-1");
  placement->set_allocation_id("env-7/2");
  placement->add_gpu_indexes(3);
  EXPECT_TRUE(Decide(Given({Created()}), place, kContext).ok());
  EXPECT_EQ(Decide(Given({Created(), Scheduled()}), place, kContext).status().code(),
            StatusCode::kFailedPrecondition);
  std::vector<EnvironmentEvent> stopped = {Created(), Scheduled(), MovedTo(STOPPING),
                                           MovedTo(STOPPED)};
  EXPECT_TRUE(Decide(Given(stopped), place, kContext).ok());
  placement->add_gpu_indexes(4);
  EXPECT_EQ(Decide(Given({Created()}), place, kContext).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(EnvironmentDeciderTest, DeletedIsFinal) {
  auto state = Given({Created(), MovedTo(DELETED)});
  EXPECT_EQ(Decide(state, ChangeTo(STOPPED), kContext).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Decide(state, ChangeTo(DELETED), kContext).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace remotegpu::domain
