// Metering on simulated time: exact amounts, hour lines, price changes,
// lease months.
#include "domain/metering.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace remotegpu::domain {
namespace {

int64_t At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

PriceSchedule Prices(std::vector<PricePoint> points) { return *PriceSchedule::Of(points); }

// The amounts of every hour line of `spans` between `from` and `to`.
int64_t Total(const std::vector<RunSpan>& spans, const PriceSchedule& prices, int64_t from,
              int64_t to) {
  int64_t total = 0;
  FenSeconds carry;
  for (int64_t hour : DueHours(0, from, to)) {
    auto line = MeterHour("env-1", spans, prices, hour, carry);
    EXPECT_TRUE(line.ok());
    if (!*line) continue;
    total += (*line)->amount_fen;
    carry = (*line)->carry_out;
  }
  return total;
}

TEST(Metering, NinetyMinutesAtTwelveFiftyIsEighteenSeventyFive) {
  const PriceSchedule prices = Prices({{0, 1250}});
  const std::vector<RunSpan> run = {{At("2026-11-23T10:00:00Z"), At("2026-11-23T11:30:00Z")}};
  auto ten = MeterHour("env-1", run, prices, At("2026-11-23T10:00:00Z"));
  auto eleven = MeterHour("env-1", run, prices, At("2026-11-23T11:00:00Z"));
  ASSERT_TRUE(ten.ok() && *ten && eleven.ok() && *eleven);
  EXPECT_EQ((*ten)->amount_fen, 1250);
  EXPECT_EQ((*eleven)->amount_fen, 625);
  EXPECT_EQ((*eleven)->seconds, 1800);
  EXPECT_EQ(Total(run, prices, At("2026-11-23T10:00:00Z"), At("2026-11-23T12:00:00Z")), 1875);
  // Started off the hour: prorated to the second at both ends; 937.5 fen
  // an hour, billed 938 then 937 with the half fen carried.
  const std::vector<RunSpan> odd = {{At("2026-11-23T10:15:00Z"), At("2026-11-23T11:45:00Z")}};
  auto first = MeterHour("env-1", odd, prices, At("2026-11-23T10:00:00Z"));
  EXPECT_EQ((**first).amount_fen, 938);
  EXPECT_EQ((**MeterHour("env-1", odd, prices, At("2026-11-23T11:00:00Z"), (**first).carry_out))
                .amount_fen,
            937);
  EXPECT_EQ(Total(odd, prices, At("2026-11-23T10:00:00Z"), At("2026-11-23T12:00:00Z")), 1875);
  // A long odd run sums to its exact total rounded once: 10:00:07 to 19:00:00
  // at ¥0.07/h is 62.986… fen → 63.
  const std::vector<RunSpan> long_run = {{At("2026-11-23T10:00:07Z"), At("2026-11-23T19:00:00Z")}};
  EXPECT_EQ(
      Total(long_run, Prices({{0, 7}}), At("2026-11-23T10:00:00Z"), At("2026-11-23T19:00:00Z")),
      63);
}

TEST(Metering, AStopAndStartInsideOneHourBillsBothPartsInOneLine) {
  const PriceSchedule prices = Prices({{0, 1200}});
  const std::vector<RunSpan> runs = {{At("2026-11-23T10:00:00Z"), At("2026-11-23T10:10:00Z")},
                                     {At("2026-11-23T10:40:00Z"), At("2026-11-23T10:55:00Z")}};
  auto line = MeterHour("env-1", runs, prices, At("2026-11-23T10:00:00Z"));
  ASSERT_TRUE(line.ok() && *line);
  EXPECT_EQ((*line)->seconds, 25 * 60);
  EXPECT_EQ((*line)->amount_fen, 500);  // 25 min at ¥12/h.
  EXPECT_EQ((*line)->parts.size(), 2u);
}

TEST(Metering, APriceChangeSplitsTheLineAndIsNeverRetroactive) {
  // ¥10/h until 14:20, ¥16/h from then; running 14:00–15:00.
  const PriceSchedule prices = Prices({{0, 1000}, {At("2026-11-23T14:20:00Z"), 1600}});
  const std::vector<RunSpan> run = {{At("2026-11-23T14:00:00Z"), At("2026-11-23T15:00:00Z")}};
  auto line = MeterHour("env-1", run, prices, At("2026-11-23T14:00:00Z"));
  ASSERT_TRUE(line.ok() && *line);
  ASSERT_EQ((*line)->parts.size(), 2u);
  EXPECT_EQ((*line)->parts[0].fen_per_unit, 1000);
  EXPECT_EQ((*line)->parts[0].seconds, 20 * 60);
  EXPECT_EQ((*line)->parts[1].fen_per_unit, 1600);
  EXPECT_EQ((*line)->amount_fen, 333 + 1067);  // 1000/3 + 3200/3 = 1400 exactly.
  // The hour before the change keeps the old price.
  auto before = MeterHour("env-1", {{At("2026-11-23T13:00:00Z"), At("2026-11-23T14:00:00Z")}},
                          prices, At("2026-11-23T13:00:00Z"));
  EXPECT_EQ((**before).amount_fen, 1000);
  // A change on the hour: each hour has one price.
  const PriceSchedule on_the_hour = Prices({{0, 1000}, {At("2026-11-23T14:00:00Z"), 1600}});
  const std::vector<RunSpan> across = {{At("2026-11-23T13:30:00Z"), At("2026-11-23T14:30:00Z")}};
  EXPECT_EQ((**MeterHour("env-1", across, on_the_hour, At("2026-11-23T13:00:00Z"))).amount_fen,
            500);
  EXPECT_EQ((**MeterHour("env-1", across, on_the_hour, At("2026-11-23T14:00:00Z"))).amount_fen,
            800);
}

TEST(Metering, NothingRunNothingBilledAndNoPriceIsAnError) {
  const PriceSchedule prices = Prices({{At("2026-11-23T12:00:00Z"), 1000}});
  auto idle = MeterHour("env-1", {{At("2026-11-23T08:00:00Z"), At("2026-11-23T09:00:00Z")}}, prices,
                        At("2026-11-23T10:00:00Z"));
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(*idle);
  auto unpriced = MeterHour("env-1", {{At("2026-11-23T10:00:00Z"), At("2026-11-23T11:00:00Z")}},
                            prices, At("2026-11-23T10:00:00Z"));
  EXPECT_EQ(unpriced.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(PriceSchedule::Of({{10, 5}, {10, 6}}).ok());
  EXPECT_FALSE(PriceSchedule::Of({{10, -5}}).ok());
}

TEST(Metering, DueHoursAreCompleteHoursAfterTheCursor) {
  EXPECT_EQ(DueHours(0, At("2026-11-23T10:20:00Z"), At("2026-11-23T12:59:59Z")),
            (std::vector<int64_t>{At("2026-11-23T10:00:00Z"), At("2026-11-23T11:00:00Z")}));
  EXPECT_EQ(DueHours(At("2026-11-23T12:00:00Z"), 0, At("2026-11-23T13:00:00Z")),
            (std::vector<int64_t>{At("2026-11-23T12:00:00Z")}));
  EXPECT_TRUE(DueHours(At("2026-11-23T12:00:00Z"), 0, At("2026-11-23T12:30:00Z")).empty());
}

TEST(Metering, ALeaseOfThreeMonthsBillsThreeMonthlyLines) {
  const PriceSchedule monthly = Prices({{0, 3'000'000}});  // ¥30,000 a month.
  const int64_t start = At("2026-01-31T09:00:00Z");
  const int64_t end = LeaseMonthStart(start, 3);
  EXPECT_EQ(LeaseMonthStart(start, 1), At("2026-02-28T09:00:00Z"));  // Clamped.
  EXPECT_EQ(LeaseMonthStart(start, 2), At("2026-03-31T09:00:00Z"));
  EXPECT_EQ(end, At("2026-04-30T09:00:00Z"));
  auto lines = MeterLeaseMonths("lease-1", start, end, monthly, At("2026-12-01T00:00:00Z"));
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 3u);
  for (const auto& line : *lines) EXPECT_EQ(line.amount_fen, 3'000'000);
  EXPECT_EQ((*lines)[1].period_start_us, At("2026-02-28T09:00:00Z"));
  // Only months that have begun.
  EXPECT_EQ(MeterLeaseMonths("lease-1", start, end, monthly, At("2026-02-01T00:00:00Z"))->size(),
            1u);
  // Across a year end.
  EXPECT_EQ(LeaseMonthStart(At("2026-11-15T00:00:00Z"), 2), At("2027-01-15T00:00:00Z"));
}

}  // namespace
}  // namespace remotegpu::domain
