// The commerce deciders: rates, accounts, invoices, months.
#include "domain/billing.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

constexpr int64_t kNow = 1'793'577'600'000'000;  // 2026-11-02T00:00:00Z

TEST(RatesTest, NeverNegativeNeverRetroactiveModelsOnce) {
  RatesState state;
  SetRates set;
  set.mutable_rates()->set_cpu_core_hour_fen(10);
  auto events = Decide(state, set, {kRatesStream, kNow});
  ASSERT_TRUE(events.ok());
  Apply(state, (*events)[0]);
  EXPECT_EQ(state.At(kNow)->cpu_core_hour_fen(), 10);
  EXPECT_EQ(state.At(kNow - 1), nullptr);
  EXPECT_EQ(Decide(state, set, {kRatesStream, kNow}).status().code(),
            StatusCode::kFailedPrecondition);  // Not after the last change.
  set.set_effective_at_us(kNow - 1);
  EXPECT_EQ(Decide(state, set, {kRatesStream, kNow + 5}).status().code(),
            StatusCode::kFailedPrecondition);  // In the past.
  set.set_effective_at_us(0);
  set.mutable_rates()->set_memory_gb_hour_fen(-1);
  EXPECT_EQ(Decide(state, set, {kRatesStream, kNow + 5}).status().code(),
            StatusCode::kInvalidArgument);
  set.mutable_rates()->set_memory_gb_hour_fen(1);
  set.mutable_rates()->add_gpu_rates()->set_gpu_model("H100");
  set.mutable_rates()->add_gpu_rates()->set_gpu_model("H100");
  EXPECT_EQ(Decide(state, set, {kRatesStream, kNow + 5}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RatesTest, HourlyPriceSumsTheDimensions) {
  RateCard card;
  card.set_cpu_core_hour_fen(10);
  card.set_memory_gb_hour_fen(3);
  card.set_gpu_hour_fen(500);
  auto* h100 = card.add_gpu_rates();
  h100->set_gpu_model("H100");
  h100->set_fen_per_hour(1500);
  card.set_storage_gb_month_fen(30);
  EnvironmentSpec spec;
  spec.set_cpu_cores(8);
  spec.set_memory_mb(16 * 1024 + 1);  // Rounds up to 17 GiB.
  spec.set_gpu_count(2);
  spec.set_storage_gb(100);  // 3000 fen a month: 4.1666… an hour → 4.
  EXPECT_EQ(HourlyPriceOf(card, spec), 80 + 51 + 1000 + 4);
  spec.mutable_constraints()->set_gpu_model("H100");
  spec.set_storage_gb(108);  // 3240 / 720 = 4.5 → 5 (half up).
  EXPECT_EQ(HourlyPriceOf(card, spec), 80 + 51 + 3000 + 5);
}

TEST(AccountTest, RechargesOnceWarnsOnceAndClears) {
  AccountState state;
  const DecideContext context{"account-acme", kNow};
  auto apply = [&](const AccountCommand& command) {
    auto events = Decide(state, command, context);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    for (const auto& event : *events) Apply(state, event);
    return events.ok() ? events->size() : 0;
  };
  AccountCommand settings;
  settings.mutable_change_settings()->set_low_balance_threshold_fen(1000);
  EXPECT_EQ(apply(settings), 1u);
  EXPECT_EQ(apply(settings), 0u);  // Unchanged: nothing written.

  AccountCommand recharge;
  recharge.mutable_recharge()->set_order_id("order-1");
  recharge.mutable_recharge()->set_amount_fen(5000);
  recharge.mutable_recharge()->set_method("alipay");
  EXPECT_EQ(apply(recharge), 1u);
  EXPECT_EQ(state.recharged_fen, 5000);
  EXPECT_EQ(Decide(state, recharge, context).status().code(), StatusCode::kAlreadyExists);
  recharge.mutable_recharge()->set_order_id("order-2");
  recharge.mutable_recharge()->set_amount_fen(0);
  EXPECT_EQ(Decide(state, recharge, context).status().code(), StatusCode::kInvalidArgument);

  AccountCommand check;
  check.mutable_check_balance()->set_balance_fen(999);
  EXPECT_EQ(apply(check), 1u);
  EXPECT_TRUE(state.warned);
  EXPECT_EQ(apply(check), 0u);
  check.mutable_check_balance()->set_balance_fen(-100'000);
  EXPECT_EQ(apply(check), 0u);  // No stop policy: never exhausted.
  EXPECT_FALSE(state.exhausted);
  check.mutable_check_balance()->set_balance_fen(1000);  // At the threshold is not below it.
  EXPECT_EQ(apply(check), 1u);
  EXPECT_FALSE(state.warned);
}

TEST(InvoiceTest, DraftIssuedPaidInThatOrder) {
  InvoiceState state;
  const DecideContext context{"invoice-acme-2026-11", kNow};
  InvoiceCommand issue;
  issue.mutable_issue();
  EXPECT_EQ(Decide(state, issue, context).status().code(), StatusCode::kNotFound);
  InvoiceGroups groups;
  BillLineRecorded line;
  line.set_resource_id("env-2");
  line.set_resource_type("environment");
  line.set_seconds(3600);
  line.set_amount_fen(1250);
  AddLine(groups, line);
  AddLine(groups, line);
  line.set_resource_id("env-1");
  line.set_amount_fen(7);
  AddLine(groups, line);
  InvoiceCommand draft;
  *draft.mutable_draft()->mutable_invoice() = DraftOf("acme", "2026-11", groups);
  const InvoiceDrafted& drafted = draft.draft().invoice();
  EXPECT_EQ(drafted.total_fen(), 2507);
  ASSERT_EQ(drafted.groups_size(), 2);
  EXPECT_EQ(drafted.groups(0).resource_id(), "env-1");
  EXPECT_EQ(drafted.groups(1).lines(), 2);
  EXPECT_EQ(drafted.period_start_us(), kNow - 24LL * 3600 * 1'000'000);
  for (const auto& command : {draft, issue}) {
    auto events = Decide(state, command, context);
    ASSERT_TRUE(events.ok());
    Apply(state, (*events)[0]);
  }
  EXPECT_EQ(state.status, InvoiceStatus::kIssued);
  EXPECT_EQ(Decide(state, draft, context).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Decide(state, issue, context).status().code(), StatusCode::kFailedPrecondition);
}

TEST(MonthTest, NamesAndBounds) {
  EXPECT_EQ(MonthOf(kNow), "2026-11");
  EXPECT_EQ(MonthOf(kNow - 1), "2026-11");
  EXPECT_EQ(MonthOf(kNow - 24LL * 3600 * 1'000'000 - 1), "2026-10");
  auto december = BoundsOf("2026-12");
  ASSERT_TRUE(december.ok());
  EXPECT_EQ(MonthOf(december->start_us), "2026-12");
  EXPECT_EQ(MonthOf(december->end_us), "2027-01");
  for (const char* bad : {"2026-13", "2026-1", "26-11", "2026-11x", "2026/11", ""}) {
    EXPECT_FALSE(BoundsOf(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace remotegpu::domain
