// Given/when/then tests of the quota decider.
#include "domain/quota.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

const DecideContext kContext{"quota-customer-1", 1'767'225'600'000'000};

QuotaState Given(const std::vector<QuotaEvent>& events) {
  QuotaState state;
  for (const auto& e : events) Apply(state, e);
  return state;
}

QuotaEvent SetEvent(QuotaLevel level, const QuotaOverrides& overrides = {}) {
  QuotaEvent e;
  e.mutable_set()->set_level(level);
  *e.mutable_set()->mutable_overrides() = overrides;
  return e;
}

QuotaCommand Reserve(const std::string& env, uint32_t cpu, uint32_t gpus, uint64_t storage = 0) {
  QuotaCommand c;
  c.mutable_reserve()->set_environment_id(env);
  c.mutable_reserve()->mutable_amounts()->set_cpu_cores(cpu);
  c.mutable_reserve()->mutable_amounts()->set_memory_mb(1024);
  c.mutable_reserve()->mutable_amounts()->set_gpu_count(gpus);
  c.mutable_reserve()->mutable_amounts()->set_storage_gb(storage);
  return c;
}

QuotaCommand Release(const std::string& env) {
  QuotaCommand c;
  c.mutable_release()->set_environment_id(env);
  return c;
}

// Applies what `command` decides to `state`, expecting success.
void Commit(QuotaState& state, const QuotaCommand& command) {
  auto events = Decide(state, command, kContext);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  for (const auto& e : *events) Apply(state, e);
}

TEST(QuotaDecider, OverridesReplaceOnlyTheirOwnLimits) {
  QuotaOverrides overrides;
  overrides.set_gpu_count(0);
  overrides.set_environments(7);
  const QuotaAmounts limits = EffectiveLimits(QUOTA_PRO, overrides);
  EXPECT_EQ(limits.gpu_count(), 0u);
  EXPECT_EQ(limits.environments(), 7u);
  EXPECT_EQ(limits.cpu_cores(), LevelLimits(QUOTA_PRO).cpu_cores());
  // Each level gives at least as much as the one below.
  for (auto [lower, higher] :
       {std::pair{QUOTA_FREE, QUOTA_BASIC}, std::pair{QUOTA_BASIC, QUOTA_PRO},
        std::pair{QUOTA_PRO, QUOTA_ENTERPRISE}}) {
    EXPECT_LT(LevelLimits(lower).gpu_count(), LevelLimits(higher).gpu_count());
    EXPECT_LT(LevelLimits(lower).environments(), LevelLimits(higher).environments());
  }
}

TEST(QuotaDecider, ReservationsCountUntilReleasedAndRefuseWhatWouldExceed) {
  QuotaState state = Given({SetEvent(QUOTA_FREE)});  // 2 environments, 1 GPU, 8 cores.
  Commit(state, Reserve("env-a", 4, 1));
  EXPECT_EQ(state.used.environments(), 1u);
  EXPECT_EQ(state.used.gpu_count(), 1u);

  auto second_gpu = Decide(state, Reserve("env-b", 2, 1), kContext);
  ASSERT_EQ(second_gpu.status().code(), StatusCode::kQuotaExceeded);
  EXPECT_NE(second_gpu.status().message().find("gpu_count 1 in use + 1 asked > 1"),
            std::string::npos)
      << second_gpu.status().message();
  auto too_many_cores = Decide(state, Reserve("env-b", 5, 0), kContext);
  EXPECT_EQ(too_many_cores.status().code(), StatusCode::kQuotaExceeded);

  Commit(state, Reserve("env-b", 4, 0));
  auto third = Decide(state, Reserve("env-c", 0, 0), kContext);
  ASSERT_EQ(third.status().code(), StatusCode::kQuotaExceeded);
  EXPECT_NE(third.status().message().find("environments"), std::string::npos);

  // Reserving an id again changes nothing; releasing gives the share back.
  auto again = Decide(state, Reserve("env-a", 4, 1), kContext);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  Commit(state, Release("env-a"));
  EXPECT_EQ(state.used.environments(), 1u);
  EXPECT_EQ(state.used.gpu_count(), 0u);
  EXPECT_EQ(state.used.cpu_cores(), 4u);
  Commit(state, Reserve("env-c", 2, 1));
  auto unknown = Decide(state, Release("env-zzz"), kContext);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
}

TEST(QuotaDecider, LoweringBelowUsageKeepsWhatExistsAndRefusesMore) {
  QuotaState state = Given({SetEvent(QUOTA_PRO)});
  Commit(state, Reserve("env-a", 4, 4));
  Commit(state, Reserve("env-b", 4, 4));
  QuotaOverrides two_gpus;
  two_gpus.set_gpu_count(2);
  Apply(state, SetEvent(QUOTA_PRO, two_gpus));
  EXPECT_EQ(state.used.gpu_count(), 8u);
  EXPECT_EQ(Decide(state, Reserve("env-c", 1, 1), kContext).status().code(),
            StatusCode::kQuotaExceeded);
  ASSERT_TRUE(Decide(state, Reserve("env-c", 1, 0), kContext).ok());
}

TEST(QuotaDecider, StorageIsLimitedToo) {
  QuotaState state = Given({SetEvent(QUOTA_FREE)});
  EXPECT_EQ(Decide(state, Reserve("env-a", 1, 0, 101), kContext).status().code(),
            StatusCode::kQuotaExceeded);
  ASSERT_TRUE(Decide(state, Reserve("env-a", 1, 0, 100), kContext).ok());
}

TEST(QuotaDecider, MalformedCommandsAreRefused) {
  EXPECT_EQ(Decide(QuotaState{}, QuotaCommand{}, kContext).status().code(),
            StatusCode::kInvalidArgument);
  QuotaCommand no_level;
  no_level.mutable_set();
  EXPECT_EQ(Decide(QuotaState{}, no_level, kContext).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(Given({SetEvent(QUOTA_FREE)}), Reserve("", 1, 0), kContext).status().code(),
            StatusCode::kInvalidArgument);
  // No quota stream: reserving is a caller's mistake, not a free pass.
  EXPECT_EQ(Decide(QuotaState{}, Reserve("env-a", 1, 0), kContext).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ParseQuotaLevel("gold").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseQuotaLevel("enterprise"), QUOTA_ENTERPRISE);
}

}  // namespace
}  // namespace remotegpu::domain
