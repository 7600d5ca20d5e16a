// Given/when/then tests of the Lease decider.
#include "domain/lease.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

constexpr int64_t kDay = int64_t{24} * 3600 * 1'000'000;
constexpr int64_t kJan31 = 1'769'817'600'000'000;  // 2026-01-31T00:00:00Z
const DecideContext kContext{"lease-1", kJan31};

LeaseState Given(const std::vector<LeaseEvent>& events) {
  LeaseState state;
  for (const auto& e : events) Apply(state, e);
  return state;
}

LeaseCommand CreateCmd(uint32_t months) {
  LeaseCommand c;
  c.mutable_create()->set_customer_id("acme");
  c.mutable_create()->add_host_ids("host-1");
  c.mutable_create()->add_host_ids("host-2");
  c.mutable_create()->set_months(months);
  return c;
}

std::vector<LeaseEvent> Then(const LeaseState& state, const LeaseCommand& command) {
  auto events = Decide(state, command, kContext);
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  return events.ok() ? *events : std::vector<LeaseEvent>{};
}

TEST(LeaseDeciderTest, MonthsAreCalendarMonthsClampedToTheMonthsEnd) {
  EXPECT_EQ(AddMonths(kJan31, 1), kJan31 + 28 * kDay);  // 2026-02-28
  EXPECT_EQ(AddMonths(kJan31, 2), kJan31 + 59 * kDay);  // 2026-03-31
  EXPECT_EQ(AddMonths(kJan31, 12), kJan31 + 365 * kDay);
}

TEST(LeaseDeciderTest, CreateValidates) {
  auto created = Then(LeaseState{}, CreateCmd(3));
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].created().starts_at_us(), kJan31);
  EXPECT_EQ(created[0].created().expires_at_us(), AddMonths(kJan31, 3));
  EXPECT_EQ(Given(created).status, PENDING);
  EXPECT_EQ(Decide(LeaseState{}, CreateCmd(0), kContext).status().code(),
            StatusCode::kInvalidArgument);
  auto twice = CreateCmd(1);
  twice.mutable_create()->add_host_ids("host-1");
  EXPECT_EQ(Decide(LeaseState{}, twice, kContext).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(Given(created), CreateCmd(1), kContext).status().code(),
            StatusCode::kAlreadyExists);
}

TEST(LeaseDeciderTest, ExpiringSevenDaysBeforeThenExpired) {
  std::vector<LeaseEvent> history = Then(LeaseState{}, CreateCmd(1));
  LeaseCommand activate;
  activate.mutable_activate();
  auto active = Then(Given(history), activate);
  history.insert(history.end(), active.begin(), active.end());
  const int64_t expires = Given(history).expires_at_us;

  auto check = [](int64_t now) {
    LeaseCommand c;
    c.mutable_check_expiry()->set_now_us(now);
    return c;
  };
  EXPECT_TRUE(Then(Given(history), check(expires - 8 * kDay)).empty());
  auto expiring = Then(Given(history), check(expires - 7 * kDay));
  ASSERT_EQ(expiring.size(), 1u);
  EXPECT_TRUE(expiring[0].has_expiring());
  history.insert(history.end(), expiring.begin(), expiring.end());
  EXPECT_TRUE(Then(Given(history), check(expires - kDay)).empty());  // Already expiring.
  auto expired = Then(Given(history), check(expires));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_TRUE(expired[0].has_expired());
  history.insert(history.end(), expired.begin(), expired.end());
  EXPECT_TRUE(Then(Given(history), check(expires + kDay)).empty());  // Final.
}

TEST(LeaseDeciderTest, ExtendMovesExpiryAndLiftsExpiring) {
  std::vector<LeaseEvent> history = Then(LeaseState{}, CreateCmd(1));
  LeaseEvent activated;
  activated.mutable_activated();
  LeaseEvent expiring;
  expiring.mutable_expiring();
  history.push_back(activated);
  history.push_back(expiring);
  LeaseCommand extend;
  extend.mutable_extend()->set_months(2);
  auto extended = Then(Given(history), extend);
  ASSERT_EQ(extended.size(), 1u);
  EXPECT_EQ(extended[0].extended().new_expires_at_us(),
            AddMonths(extended[0].extended().old_expires_at_us(), 2));
  history.insert(history.end(), extended.begin(), extended.end());
  EXPECT_EQ(Given(history).status, ACTIVE);
}

TEST(LeaseDeciderTest, ReclaimEndsEarlyAndClosedLeasesRefuse) {
  std::vector<LeaseEvent> history = Then(LeaseState{}, CreateCmd(1));
  LeaseCommand reclaim;
  reclaim.mutable_reclaim()->set_reason("customer left");
  auto reclaimed = Then(Given(history), reclaim);
  history.insert(history.end(), reclaimed.begin(), reclaimed.end());
  EXPECT_EQ(Given(history).status, RECLAIMED);
  LeaseCommand extend;
  extend.mutable_extend()->set_months(1);
  EXPECT_EQ(Decide(Given(history), extend, kContext).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Decide(Given(history), reclaim, kContext).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace remotegpu::domain
