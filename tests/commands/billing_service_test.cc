// Order ids across accounts, over a real RocksDB log: a recharge claims its
// order id in the same append, so a second customer's recharge with it is
// refused with nothing written; recharges recorded before claims existed are
// claimed once at start. And the id rules: a new stream takes the strict
// grammar, commands on a stream an earlier version created keep working.
#include "commands/billing_service.h"

#include <gtest/gtest.h>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

class BillingServiceTest : public ServiceTest {
 protected:
  domain::AccountCommand Recharge(const std::string& order_id) {
    domain::AccountCommand command;
    auto* recharge = command.mutable_recharge();
    recharge->set_order_id(order_id);
    recharge->set_amount_fen(10'000);
    recharge->set_method("manual");
    return command;
  }
};

TEST_F(BillingServiceTest, AnOrderIdIsTakenOnceAcrossEveryAccount) {
  BillingService billing(*store_, clock_);
  ASSERT_TRUE(billing.Account("customer-a", Recharge("order-1"), meta_).ok());
  const uint64_t before = store_->LastPosition();
  auto again = billing.Account("customer-b", Recharge("order-1"), meta_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->LastPosition(), before);
  auto bad = billing.Account("customer-b", Recharge("order/1"), meta_);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(billing.Account("customer-b", Recharge("order-2"), meta_).ok());
}

// Regression: recharges recorded before order ids were claimed had no claim,
// so another customer could reuse their order id and wedge the projection.
TEST_F(BillingServiceTest, RechargesRecordedBeforeClaimsAreClaimedAtStart) {
  // What an earlier version wrote: the recharge alone.
  domain::AccountEvent recharged;
  recharged.mutable_recharged()->set_order_id("order-old");
  recharged.mutable_recharged()->set_amount_fen(500);
  ASSERT_TRUE(store_
                  ->Append({{AccountStreamOf("customer-a"), eventstore::ExpectedVersion::NoStream(),
                             ToEventData(std::vector{recharged}, meta_, clock_.NowMicros())}})
                  .ok());
  BillingService billing(*store_, clock_);
  ASSERT_TRUE(billing.ClaimRecordedOrders(meta_).ok());
  ASSERT_TRUE(billing.ClaimRecordedOrders(meta_).ok());  // Once: nothing more.
  EXPECT_EQ(*store_->StreamHead(PaymentStreamOf("order-old")), 1u);
  auto reused = billing.Account("customer-b", Recharge("order-old"), meta_);
  EXPECT_EQ(reused.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(BillingServiceTest, NewStreamsTakeTheStrictGrammarOldOnesKeepWorking) {
  const std::string legacy = "host-gpu01.dc1";
  auto refused = hosts_service_->Execute(legacy, domain::testing_builders::RegisterCmd(1), meta_);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  // A host an earlier version registered under such an id, written directly.
  auto events = domain::Decide(domain::HostState{}, domain::testing_builders::RegisterCmd(1),
                               {legacy, clock_.NowMicros()});
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_TRUE(store_
                  ->Append({{legacy, eventstore::ExpectedVersion::NoStream(),
                             ToEventData(*events, meta_, clock_.NowMicros())}})
                  .ok());
  domain::HostCommand maintenance;
  maintenance.mutable_change_status()->set_to(domain::MAINTENANCE);
  maintenance.mutable_change_status()->set_reason("disk swap");
  auto changed = hosts_service_->Execute(legacy, maintenance, meta_);
  EXPECT_TRUE(changed.ok()) << changed.status().ToString();
}

}  // namespace
}  // namespace remotegpu::commands
