#include "domain/metering.h"

#include <algorithm>

#include "domain/lease.h"

namespace remotegpu::domain {
namespace {

constexpr int64_t kSecondUs = 1'000'000;

int64_t FloorTo(int64_t us, int64_t unit) { return us - ((us % unit) + unit) % unit; }

}  // namespace

Result<PriceSchedule> PriceSchedule::Of(std::vector<PricePoint> points) {
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].fen < 0) return Status::InvalidArgument("a price cannot be negative");
    if (i > 0 && points[i].effective_at_us <= points[i - 1].effective_at_us) {
      return Status::InvalidArgument("price changes must be in time order, one at a time");
    }
  }
  PriceSchedule schedule;
  schedule.points_ = std::move(points);
  return schedule;
}

std::optional<int64_t> PriceSchedule::At(int64_t at_us) const {
  auto after = std::upper_bound(
      points_.begin(), points_.end(), at_us,
      [](int64_t at, const PricePoint& point) { return at < point.effective_at_us; });
  if (after == points_.begin()) return std::nullopt;
  return std::prev(after)->fen;
}

std::vector<int64_t> PriceSchedule::ChangesWithin(int64_t from_us, int64_t to_us) const {
  std::vector<int64_t> out;
  for (const auto& point : points_) {
    if (point.effective_at_us > from_us && point.effective_at_us < to_us) {
      out.push_back(point.effective_at_us);
    }
  }
  return out;
}

Result<std::optional<BillLineDraft>> MeterHour(const std::string& resource,
                                               const std::vector<RunSpan>& spans,
                                               const PriceSchedule& hourly_prices,
                                               int64_t hour_start_us, FenSeconds carry_in) {
  const int64_t hour_end_us = hour_start_us + kHourUs;
  // The spans inside the hour, cut at whole seconds (a started second is
  // not billed until it is complete), in time order.
  std::vector<RunSpan> inside;
  for (const auto& span : spans) {
    const int64_t from = FloorTo(std::max(span.from_us, hour_start_us) + kSecondUs - 1, kSecondUs);
    const int64_t to = FloorTo(std::min(span.to_us, hour_end_us), kSecondUs);
    if (to > from) inside.push_back({from, to});
  }
  std::sort(inside.begin(), inside.end(),
            [](const RunSpan& a, const RunSpan& b) { return a.from_us < b.from_us; });
  BillLineDraft line{resource, hour_start_us, hour_end_us, 0, 0, {}};
  FenSeconds amount;
  int64_t covered_until = hour_start_us;  // Overlapping spans count once.
  for (const auto& span : inside) {
    int64_t from = std::max(span.from_us, covered_until);
    if (span.to_us <= from) continue;
    covered_until = span.to_us;
    // Split at every price change inside the span.
    std::vector<int64_t> cuts = hourly_prices.ChangesWithin(from, span.to_us);
    cuts.push_back(span.to_us);
    for (int64_t cut : cuts) {
      const auto price = hourly_prices.At(from);
      if (!price) {
        return Status::FailedPrecondition(resource + " ran with no price in force at " +
                                          std::to_string(from) + " µs");
      }
      const int64_t seconds = (cut - from) / kSecondUs;
      if (seconds > 0) {
        if (!line.parts.empty() && line.parts.back().fen_per_unit == *price &&
            line.parts.back().to_us == from) {
          line.parts.back().to_us = cut;  // One part per run of one price.
          line.parts.back().seconds += seconds;
        } else {
          line.parts.push_back({from, cut, seconds, *price});
        }
        line.seconds += seconds;
        amount += Charge(*price, seconds);
      }
      from = cut;
    }
  }
  if (line.seconds == 0) return std::optional<BillLineDraft>();
  const FenSeconds owed = carry_in + amount;
  line.amount_fen = RoundFen(owed);
  line.carry_out = {owed.fen_seconds - FenSeconds::OfFen(line.amount_fen).fen_seconds};
  return std::optional<BillLineDraft>(std::move(line));
}

std::vector<int64_t> DueHours(int64_t billed_until_us, int64_t first_us, int64_t now_us) {
  std::vector<int64_t> hours;
  const int64_t from = billed_until_us > 0 ? billed_until_us : FloorTo(first_us, kHourUs);
  for (int64_t hour = from; hour + kHourUs <= now_us; hour += kHourUs) hours.push_back(hour);
  return hours;
}

int64_t LeaseMonthStart(int64_t start_us, int k) {
  return AddMonths(start_us, static_cast<uint32_t>(k));
}

Result<std::vector<BillLineDraft>> MeterLeaseMonths(const std::string& resource, int64_t start_us,
                                                    int64_t end_us,
                                                    const PriceSchedule& monthly_prices,
                                                    int64_t now_us) {
  std::vector<BillLineDraft> lines;
  for (int k = 0;; ++k) {
    const int64_t month_start = LeaseMonthStart(start_us, k);
    if (month_start >= end_us || month_start > now_us) break;
    const int64_t month_end = LeaseMonthStart(start_us, k + 1);
    const auto price = monthly_prices.At(month_start);
    if (!price) {
      return Status::FailedPrecondition(resource + " has no monthly price in force");
    }
    const int64_t seconds = (month_end - month_start) / kSecondUs;
    lines.push_back({resource,
                     month_start,
                     month_end,
                     seconds,
                     *price,
                     {{month_start, month_end, seconds, *price}}});
  }
  return lines;
}

}  // namespace remotegpu::domain
