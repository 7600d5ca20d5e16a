// Money in fen and the one rounding rule.
#include "domain/money.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

TEST(Money, ParsesAndFormatsYuan) {
  EXPECT_EQ(*ParseYuan("12.50"), 1250);
  EXPECT_EQ(*ParseYuan("12.5"), 1250);
  EXPECT_EQ(*ParseYuan("12"), 1200);
  EXPECT_EQ(*ParseYuan("-3.07"), -307);
  EXPECT_EQ(*ParseYuan("0.01"), 1);
  for (const char* bad :
       {"", "1.234", "1e3", " 1", "1.", ".5", "abc", "1,5", "-", "1234567890123"}) {
    EXPECT_FALSE(ParseYuan(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatYuan(1875), "18.75");
  EXPECT_EQ(FormatYuan(5), "0.05");
  EXPECT_EQ(FormatYuan(-5), "-0.05");
  EXPECT_EQ(FormatYuan(0), "0.00");
}

TEST(Money, RoundsHalfAwayFromZeroOnce) {
  EXPECT_EQ(RoundFen(Charge(1250, 5400)), 1875);  // ¥12.50/h for 90 minutes: ¥18.75.
  EXPECT_EQ(RoundFen(Charge(1, 1800)), 1);        // Half a fen rounds up.
  EXPECT_EQ(RoundFen(Charge(1, 1799)), 0);
  EXPECT_EQ(RoundFen(Charge(-1, 1800)), -1);  // And away from zero below it.
  // Two parts of a third of a fen each: rounded once, 2/3 → 1; twice it would be 0.
  FenSeconds sum = Charge(1, 1200);
  sum += Charge(1, 1200);
  EXPECT_EQ(RoundFen(sum), 1);
  // No overflow at large figures: ¥1,000,000/h for a year.
  EXPECT_EQ(RoundFen(Charge(100'000'000, 365LL * 24 * 3600)), 876'000'000'000LL);
}

}  // namespace
}  // namespace remotegpu::domain
