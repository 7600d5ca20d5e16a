#include "commands/metering_process.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/sha256.h"

namespace remotegpu::commands {
namespace {

int64_t FloorHour(int64_t at_us) {
  return at_us - ((at_us % domain::kHourUs) + domain::kHourUs) % domain::kHourUs;
}

// The same (resource, period) always gets the same event id, so an append
// retried after an unclear failure is recognised by the store.
Uuid LineEventId(const std::string& resource_id, int64_t period_start_us) {
  const Sha256Digest digest =
      Sha256("bill-line|" + resource_id + "|", std::to_string(period_start_us));
  Uuid id;
  std::copy_n(digest.begin(), id.bytes.size(), id.bytes.begin());
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x80);  // Version 8: custom.
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant.
  return id;
}

domain::BillLineRecorded LineOf(const MeteredResource& resource, const std::string& resource_id,
                                const domain::BillLineDraft& draft, std::string price_source) {
  domain::BillLineRecorded line;
  line.set_customer_id(resource.customer_id);
  line.set_resource_type(resource.is_lease ? "lease" : "environment");
  line.set_resource_id(resource_id);
  line.set_billing_mode(resource.is_lease ? "monthly" : "pay_as_you_go");
  line.set_period_start_us(draft.period_start_us);
  line.set_period_end_us(draft.period_end_us);
  line.set_seconds(draft.seconds);
  line.set_amount_fen(draft.amount_fen);
  line.set_currency(domain::kCurrency);
  for (const auto& part : draft.parts) {
    auto* out = line.add_parts();
    out->set_from_us(part.from_us);
    out->set_to_us(part.to_us);
    out->set_seconds(part.seconds);
    out->set_fen_per_unit(part.fen_per_unit);
  }
  line.set_carry_fen_seconds(static_cast<int64_t>(draft.carry_out.fen_seconds));
  line.set_price_source(std::move(price_source));
  return line;
}

}  // namespace

// One resource's new lines, appended together.
struct MeteringProcess::Pending {
  std::string resource_id;
  uint64_t expected_version = 0;
  std::vector<domain::BillLineRecorded> lines;
  int64_t scanned_until_us = 0;  // Settled up to here once appended.
};

Result<MeteringReport> MeteringProcess::Tick(const CommandMeta& meta) {
  std::lock_guard lock(mu_);
  MeteringReport report;
  RGPU_RETURN_IF_ERROR(book_.CatchUp(store_));
  const int64_t until = clock_.NowMicros() - options_.settle_us;
  RGPU_RETURN_IF_ERROR(MeterResources(until, meta, report));
  // Another process recorded some lines first: read them, so balances count them.
  if (report.conflicts > 0) RGPU_RETURN_IF_ERROR(book_.CatchUp(store_));
  CheckBalances(meta, report);
  if (report.conflicts == 0 && report.failures == 0) DraftInvoices(until, meta, report);
  return report;
}

Status MeteringProcess::MeterResources(int64_t until_us, const CommandMeta& meta,
                                       MeteringReport& report) {
  std::vector<Pending> pending;
  std::vector<std::string> forget;
  // A resource that cannot be metered now is counted and tried next tick.
  auto failed = [&](const std::string& id, const Status& status) {
    ++report.failures;
    spdlog::warn("metering {}: {}", id, status.ToString());
  };
  for (auto& [id, resource] : book_.resources()) {
    if (resource.customer_id.empty()) continue;  // Created before it was billable, or a stray.
    BillCursor& cursor = resource.cursor;
    Pending next{id, cursor.version, {}, cursor.scanned_until_us};
    if (resource.is_lease) {
      if (!resource.lease.activated) continue;
      auto prices = book_.MonthlyPrices(resource.lease.machines);
      if (!prices.ok()) {
        failed(id, prices.status());
        continue;
      }
      auto months = domain::MeterLeaseMonths(id, resource.lease.start_us, resource.lease.end_us,
                                             *prices, until_us);
      if (!months.ok()) {
        failed(id, months.status());
        continue;
      }
      for (const auto& month : *months) {
        if (month.period_start_us < cursor.billed_until_us) continue;
        next.lines.push_back(LineOf(resource, id, month, domain::kRatesStream));
        next.scanned_until_us = month.period_end_us;
      }
      if (resource.gone && next.lines.empty()) forget.push_back(id);
    } else {
      auto& spans = resource.environment.spans;
      std::erase_if(spans, [&](const domain::RunSpan& span) {
        return span.to_us <= cursor.scanned_until_us;
      });
      if (spans.empty()) {
        if (resource.gone) forget.push_back(id);
        continue;
      }
      auto prices = book_.HourlyPrices(resource.environment);
      if (!prices.ok()) {
        failed(id, prices.status());
        continue;
      }
      const int64_t from = std::max(cursor.scanned_until_us, FloorHour(spans.front().from_us));
      domain::FenSeconds carry = cursor.carry;
      bool metered = true;
      for (int64_t hour : domain::DueHours(from, from, until_us)) {
        auto line = domain::MeterHour(id, spans, *prices, hour, carry);
        if (!line.ok()) {
          failed(id, line.status());
          metered = false;
          break;
        }
        next.scanned_until_us = hour + domain::kHourUs;
        if (!line->has_value()) continue;
        carry = (*line)->carry_out;
        next.lines.push_back(
            LineOf(resource, id, **line, book_.PriceSourceOf(resource.environment)));
      }
      if (!metered) continue;
    }
    if (next.lines.empty()) {
      cursor.scanned_until_us = std::max(cursor.scanned_until_us, next.scanned_until_us);
      continue;
    }
    pending.push_back(std::move(next));
    if (pending.size() >= options_.streams_per_append) {
      RGPU_RETURN_IF_ERROR(Record(pending, meta, report));
      pending.clear();
    }
  }
  if (!pending.empty()) RGPU_RETURN_IF_ERROR(Record(pending, meta, report));
  for (const auto& id : forget) book_.resources().erase(id);
  return Status::Ok();
}

Status MeteringProcess::Record(std::vector<Pending>& pending, const CommandMeta& meta,
                               MeteringReport& report) {
  const UnixMicros now = clock_.NowMicros();
  auto request_of = [&](const Pending& p) {
    eventstore::StreamAppend append{
        BillStreamOf(p.resource_id), eventstore::ExpectedVersion::Exact(p.expected_version), {}};
    for (const auto& line : p.lines) {
      domain::BillEvent event;
      *event.mutable_line() = line;
      eventstore::EventData data = EventDataOf(event, "BillLineRecorded", meta, now);
      data.event_id = LineEventId(p.resource_id, line.period_start_us());
      append.events.push_back(std::move(data));
    }
    return append;
  };
  auto noted = [&](const Pending& p) {
    uint64_t version = p.expected_version;
    for (const auto& line : p.lines) {
      book_.NoteLine(BillStreamOf(p.resource_id), ++version, line);
      report.amount_fen += line.amount_fen();
    }
    report.lines += p.lines.size();
    BillCursor& cursor = book_.resources()[p.resource_id].cursor;
    cursor.scanned_until_us = std::max(cursor.scanned_until_us, p.scanned_until_us);
  };

  std::vector<eventstore::StreamAppend> batch;
  batch.reserve(pending.size());
  for (const auto& p : pending) batch.push_back(request_of(p));
  auto appended = store_.Append(batch);
  if (appended.ok()) {
    for (const auto& p : pending) noted(p);
    return Status::Ok();
  }
  if (appended.status().code() != StatusCode::kVersionConflict) return appended.status();
  // Someone else recorded some of these: one resource at a time; those that
  // conflict are left to the other writer.
  for (size_t i = 0; i < pending.size(); ++i) {
    auto one = store_.Append({request_of(pending[i])});
    if (one.ok()) {
      noted(pending[i]);
    } else if (one.status().code() == StatusCode::kVersionConflict) {
      ++report.conflicts;  // Its lines are read back by the CatchUp after metering.
    } else {
      return one.status();
    }
  }
  return Status::Ok();
}

void MeteringProcess::CheckBalances(const CommandMeta& meta, MeteringReport& report) {
  for (auto& [customer_id, account] : book_.accounts()) {
    domain::AccountCommand check;
    check.mutable_check_balance()->set_balance_fen(account.balance_fen());
    // Decided on the book's state first, so a steady balance costs no command.
    auto events =
        domain::Decide(account.state, check, {AccountStreamOf(customer_id), clock_.NowMicros()});
    if (!events.ok() || events->empty()) continue;
    auto done = billing_.Account(customer_id, check, meta);
    if (!done.ok()) {
      spdlog::warn("balance check of {}: {}", customer_id, done.status().ToString());
      continue;
    }
    report.balance_events += done->events;
    const bool exhausted = std::any_of(events->begin(), events->end(),
                                       [](const auto& e) { return e.has_exhausted(); });
    if (!exhausted || !stop_) continue;
    const std::string reason = "balance of " + customer_id + " is below its credit limit";
    for (const auto& env_id : book_.RunningEnvironmentsOf(customer_id)) {
      Status stopped = stop_(env_id, reason);
      if (stopped.ok()) {
        ++report.stopped;
      } else {
        spdlog::warn("stopping {} for its balance: {}", env_id, stopped.ToString());
      }
    }
  }
}

void MeteringProcess::DraftInvoices(int64_t until_us, const CommandMeta& meta,
                                    MeteringReport& report) {
  for (const auto& [key, groups] : book_.open_months()) {
    const auto& [customer_id, month] = key;
    auto bounds = domain::BoundsOf(month);
    if (!bounds.ok() || bounds->end_us > until_us) continue;
    domain::InvoiceCommand draft;
    *draft.mutable_draft()->mutable_invoice() = domain::DraftOf(customer_id, month, groups);
    auto done = billing_.Invoice(InvoiceStreamOf(customer_id, month), draft, meta);
    if (done.ok()) {
      ++report.invoices;
    } else if (done.status().code() != StatusCode::kAlreadyExists) {
      spdlog::warn("drafting the invoice of {} for {}: {}", customer_id, month,
                   done.status().ToString());
    }
  }
}

}  // namespace remotegpu::commands
