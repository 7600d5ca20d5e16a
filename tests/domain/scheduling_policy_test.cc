#include "domain/scheduling_policy.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

PolicyCommand Update(std::optional<bool> enabled, std::optional<int32_t> priority) {
  PolicyCommand command;
  if (enabled) command.mutable_update()->set_enabled(*enabled);
  if (priority) command.mutable_update()->set_priority(*priority);
  return command;
}

TEST(SchedulingPolicyTest, AnEmptyStreamIsTheBuiltInDefault) {
  auto events = Decide(PolicyState{}, Update(true, 300), {"policy-round-robin", 0});
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  const SchedulingPolicy& policy = (*events)[0].updated().policy();
  EXPECT_EQ(policy.strategy(), ROUND_ROBIN);
  EXPECT_TRUE(policy.enabled());
  EXPECT_EQ(policy.priority(), 300);
  EXPECT_EQ(policy.config_json(), "{}");
  EXPECT_EQ(Decide(PolicyState{}, Update(true, 1), {"policy-fastest", 0}).status().code(),
            StatusCode::kNotFound);
}

TEST(SchedulingPolicyTest, PriorityIsBoundedAndNoChangeMeansNoEvent) {
  PolicyState best = *DefaultPolicy("best-fit");
  EXPECT_EQ(Decide(best, Update(std::nullopt, 1001), {"policy-best-fit", 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(best, Update(std::nullopt, -1), {"policy-best-fit", 0}).status().code(),
            StatusCode::kInvalidArgument);
  auto same = Decide(best, Update(true, 100), {"policy-best-fit", 0});
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
}

TEST(SchedulingPolicyTest, TheEnabledPolicyWithTheHighestPriorityWins) {
  std::map<std::string, PolicyState> policies;
  for (const auto& id : PolicyIds()) policies[id] = *DefaultPolicy(id);
  EXPECT_EQ(EffectiveStrategy(policies), BEST_FIT);

  auto apply = [&](const std::string& id, const PolicyCommand& command) {
    auto events = Decide(policies[id], command, {PolicyStreamId(id), 0});
    ASSERT_TRUE(events.ok());
    for (const auto& event : *events) Apply(policies[id], event);
  };
  apply("random", Update(true, 50));  // Enabled, but below best-fit's 100.
  EXPECT_EQ(EffectiveStrategy(policies), BEST_FIT);
  apply("least-loaded", Update(true, 500));
  EXPECT_EQ(EffectiveStrategy(policies), LEAST_LOADED);
  apply("least-loaded", Update(false, std::nullopt));
  EXPECT_EQ(EffectiveStrategy(policies), BEST_FIT);
  apply("best-fit", Update(false, std::nullopt));
  EXPECT_EQ(EffectiveStrategy(policies), RANDOM);
  apply("random", Update(false, std::nullopt));
  EXPECT_EQ(EffectiveStrategy(policies), BEST_FIT) << "none enabled: best-fit";
}

}  // namespace
}  // namespace remotegpu::domain
