// Metering (issue 9): usage and prices in, bill lines out. Pure.
//
// Environments are billed per clock hour (UTC): the line of a period
// [h, h + 1 h) holds every whole second the environment ran inside it — a
// stop and a start inside one hour are two parts of one line — each part at
// the price in force then. Prices change only from their effective time,
// never backwards, so a change inside an hour splits the line into parts;
// the amount is the exact sum of the parts plus the carry of the
// resource's previous line, rounded once (domain/money.h); the line passes
// on what rounding added or took. So 10:15–11:45 at ¥12.50/h bills 9.38 and
// 9.37: ¥18.75, as the 90 minutes cost.
//
// Leases are billed per lease month: month k runs from the start plus k
// calendar months (the day clamped to the month's end: Jan 31 → Feb 28),
// one line per month at the monthly price in force when the month begins.
//
// Lines are keyed by (resource, period start): whoever records them records
// each key once, so a crash, a restart or a replay never bills a period
// twice, and a period is billed only once it is complete.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/money.h"

namespace remotegpu::domain {

inline constexpr int64_t kHourUs = 3'600'000'000;

struct PricePoint {
  int64_t effective_at_us = 0;
  int64_t fen = 0;  // Per hour (environments) or per month (leases).
};

// Prices of one thing over time. InvalidArgument when a point is negative
// or not later than the one before.
class PriceSchedule {
 public:
  static Result<PriceSchedule> Of(std::vector<PricePoint> points);
  // The price in force at `at_us`; nullopt before the first point.
  std::optional<int64_t> At(int64_t at_us) const;
  // Effective times strictly inside (from, to).
  std::vector<int64_t> ChangesWithin(int64_t from_us, int64_t to_us) const;

 private:
  std::vector<PricePoint> points_;
};

// A time the resource ran: [from, to). `to` is the metering time for
// something still running.
struct RunSpan {
  int64_t from_us = 0;
  int64_t to_us = 0;
};

struct LinePart {
  int64_t from_us = 0;
  int64_t to_us = 0;
  int64_t seconds = 0;
  int64_t fen_per_unit = 0;
};

struct BillLineDraft {
  std::string resource;
  int64_t period_start_us = 0;
  int64_t period_end_us = 0;
  int64_t seconds = 0;  // Billed (lease months: the month's length).
  int64_t amount_fen = 0;
  std::vector<LinePart> parts;  // In time order.
  // Exact amount not billed yet (positive) or billed ahead (negative), in
  // fen-seconds per hour; the next line of the resource starts from it.
  FenSeconds carry_out;
};

// The hour line of `resource` for the hour starting at `hour_start_us`
// (an hour boundary), starting from `carry_in` (the carry_out of its
// previous line; zero for the first): nullopt when it did not run a whole
// second in it. FailedPrecondition when it ran at a time with no price.
Result<std::optional<BillLineDraft>> MeterHour(const std::string& resource,
                                               const std::vector<RunSpan>& spans,
                                               const PriceSchedule& hourly_prices,
                                               int64_t hour_start_us, FenSeconds carry_in = {});

// The complete hours after `billed_until_us` (the end of the last hour
// billed; 0: none yet, start from `first_us`) up to `now_us`: their starts.
std::vector<int64_t> DueHours(int64_t billed_until_us, int64_t first_us, int64_t now_us);

// The start of lease month `k` (0-based) of a lease that began at `start_us`.
int64_t LeaseMonthStart(int64_t start_us, int k);

// The lines of lease months that have begun by `now_us` and begin before
// the lease's end, at the monthly price in force when each begins.
Result<std::vector<BillLineDraft>> MeterLeaseMonths(const std::string& resource, int64_t start_us,
                                                    int64_t end_us,
                                                    const PriceSchedule& monthly_prices,
                                                    int64_t now_us);

}  // namespace remotegpu::domain
