#include "commands/billing_book.h"

#include <algorithm>

#include "commands/aggregate.h"
#include "domain/lease.h"
#include "domain/stream_id.h"

namespace remotegpu::commands {
namespace {

bool Billed(domain::EnvironmentStatus status) {
  return status == domain::RUNNING || status == domain::RESTARTING;
}

// Only what pricing reads.
domain::EnvironmentSpec ResourcesOf(const domain::EnvironmentSpec& spec) {
  domain::EnvironmentSpec resources;
  resources.set_cpu_cores(spec.cpu_cores());
  resources.set_memory_mb(spec.memory_mb());
  resources.set_gpu_count(spec.gpu_count());
  resources.set_storage_gb(spec.storage_gb());
  resources.mutable_constraints()->set_gpu_model(spec.constraints().gpu_model());
  return resources;
}

}  // namespace

Status BillingBook::CatchUp(eventstore::EventStore& store) {
  while (true) {
    auto events = store.ReadAll(position_ + 1, 4096);
    if (!events.ok()) return events.status();
    if (events->empty()) return Status::Ok();
    for (const auto& event : *events) {
      RGPU_RETURN_IF_ERROR(Apply(event));
      position_ = event.global_position;
    }
  }
}

Status BillingBook::Apply(const eventstore::RecordedEvent& recorded) {
  const std::string& id = recorded.stream_id;
  if (domain::IsKind(id, domain::StreamKind::kEnvironment)) {
    auto event = ParseRecorded<domain::EnvironmentEvent>(recorded);
    if (!event.ok()) return event.status();
    ApplyEnvironment(recorded, *event);
  } else if (domain::IsKind(id, domain::StreamKind::kLease)) {
    auto event = ParseRecorded<domain::LeaseEvent>(recorded);
    if (!event.ok()) return event.status();
    ApplyLease(recorded, *event);
  } else if (domain::IsKind(id, domain::StreamKind::kBill)) {
    auto event = ParseRecorded<domain::BillEvent>(recorded);
    if (!event.ok()) return event.status();
    if (event->has_line()) ApplyLine(id.substr(5), recorded.stream_version, event->line());
  } else if (domain::IsKind(id, domain::StreamKind::kSpec)) {
    auto event = ParseRecorded<domain::SpecEvent>(recorded);
    if (!event.ok()) return event.status();
    Spec& spec = specs_[id];
    if (recorded.stream_version != spec.version + 1) return Status::Ok();
    domain::Apply(spec.state, *event);
    spec.version = recorded.stream_version;
  } else if (id == domain::kRatesStream) {
    auto event = ParseRecorded<domain::RatesEvent>(recorded);
    if (!event.ok()) return event.status();
    if (recorded.stream_version != rates_version_ + 1) return Status::Ok();
    domain::Apply(rates_, *event);
    rates_version_ = recorded.stream_version;
  } else if (domain::IsKind(id, domain::StreamKind::kAccount)) {
    auto event = ParseRecorded<domain::AccountEvent>(recorded);
    if (!event.ok()) return event.status();
    Account& account = accounts_[id.substr(8)];
    if (recorded.stream_version != account.version + 1) return Status::Ok();
    domain::Apply(account.state, *event);
    account.version = recorded.stream_version;
  } else if (domain::IsKind(id, domain::StreamKind::kInvoice)) {
    auto event = ParseRecorded<domain::InvoiceEvent>(recorded);
    if (!event.ok()) return event.status();
    uint64_t& version = invoice_versions_[id];
    if (recorded.stream_version != version + 1) return Status::Ok();
    version = recorded.stream_version;
    if (event->has_drafted()) {
      MonthKey key{event->drafted().customer_id(), event->drafted().month()};
      invoiced_.insert(key);
      open_months_.erase(key);
    }
  }
  return Status::Ok();
}

void BillingBook::ApplyEnvironment(const eventstore::RecordedEvent& recorded,
                                   const domain::EnvironmentEvent& event) {
  MeteredResource& resource = resources_[recorded.stream_id];
  if (recorded.stream_version != resource.version + 1) return;
  resource.version = recorded.stream_version;
  MeteredEnvironment& environment = resource.environment;
  if (event.has_created()) {
    resource.customer_id = event.created().spec().owner();
    environment.spec_id = event.created().spec().product_spec_id();
    environment.resources = ResourcesOf(event.created().spec());
  } else if (event.has_status_changed()) {
    const bool billed = Billed(event.status_changed().to());
    const int64_t at = recorded.data.occurred_at_us;
    if (billed && !environment.running) {
      environment.spans.push_back({at, kOpen});
    } else if (!billed && environment.running && !environment.spans.empty()) {
      environment.spans.back().to_us = std::max(at, environment.spans.back().from_us);
    }
    environment.running = billed;
    if (event.status_changed().to() == domain::DELETED) resource.gone = true;
  }
}

void BillingBook::ApplyLease(const eventstore::RecordedEvent& recorded,
                             const domain::LeaseEvent& event) {
  MeteredResource& resource = resources_[recorded.stream_id];
  if (recorded.stream_version != resource.version + 1) return;
  resource.version = recorded.stream_version;
  resource.is_lease = true;
  MeteredLease& lease = resource.lease;
  switch (event.event_case()) {
    case domain::LeaseEvent::kCreated:
      resource.customer_id = event.created().customer_id();
      lease.start_us = event.created().starts_at_us();
      lease.end_us = event.created().expires_at_us();
      lease.machines = static_cast<uint32_t>(event.created().host_ids_size());
      break;
    case domain::LeaseEvent::kActivated:
      lease.activated = true;
      break;
    case domain::LeaseEvent::kExtended:
      lease.end_us = event.extended().new_expires_at_us();
      break;
    case domain::LeaseEvent::kReclaimed:
      lease.end_us = std::min(lease.end_us, recorded.data.occurred_at_us);
      resource.gone = true;
      break;
    case domain::LeaseEvent::kExpired:
      resource.gone = true;
      break;
    default:
      break;
  }
}

void BillingBook::ApplyLine(const std::string& resource_id, uint64_t version,
                            const domain::BillLineRecorded& line) {
  MeteredResource& resource = resources_[resource_id];
  BillCursor& cursor = resource.cursor;
  if (version != cursor.version + 1) return;
  cursor.version = version;
  cursor.billed_until_us = line.period_end_us();
  cursor.scanned_until_us = std::max(cursor.scanned_until_us, line.period_end_us());
  cursor.carry = {line.carry_fen_seconds()};
  accounts_[line.customer_id()].consumed_fen += line.amount_fen();
  MonthKey key{line.customer_id(), domain::MonthOf(line.period_start_us())};
  if (invoiced_.contains(key)) return;
  domain::AddLine(open_months_[key], line);
}

void BillingBook::NoteLine(const std::string& bill_stream, uint64_t version,
                           const domain::BillLineRecorded& line) {
  ApplyLine(bill_stream.substr(5), version, line);
}

Result<domain::PriceSchedule> BillingBook::HourlyPrices(
    const MeteredEnvironment& environment) const {
  std::vector<domain::PricePoint> points{{0, 0}};
  if (!environment.spec_id.empty()) {
    auto spec = specs_.find(environment.spec_id);
    if (spec != specs_.end()) {
      for (const auto& point : spec->second.state.prices) {
        if (point.effective_at_us > points.back().effective_at_us) points.push_back(point);
      }
    }
  } else {
    for (const auto& [effective, card] : rates_.cards) {
      if (effective > points.back().effective_at_us) {
        points.push_back({effective, domain::HourlyPriceOf(card, environment.resources)});
      }
    }
  }
  return domain::PriceSchedule::Of(std::move(points));
}

Result<domain::PriceSchedule> BillingBook::MonthlyPrices(uint32_t machines) const {
  std::vector<domain::PricePoint> points{{0, 0}};
  for (const auto& [effective, card] : rates_.cards) {
    if (effective > 0) points.push_back({effective, card.machine_month_fen() * machines});
  }
  return domain::PriceSchedule::Of(std::move(points));
}

std::string BillingBook::PriceSourceOf(const MeteredEnvironment& environment) const {
  return environment.spec_id.empty() ? domain::kRatesStream : environment.spec_id;
}

std::vector<std::string> BillingBook::RunningEnvironmentsOf(const std::string& customer_id) const {
  std::vector<std::string> running;
  for (const auto& [id, resource] : resources_) {
    if (!resource.is_lease && resource.customer_id == customer_id && resource.environment.running) {
      running.push_back(id);
    }
  }
  std::sort(running.begin(), running.end());
  return running;
}

}  // namespace remotegpu::commands
