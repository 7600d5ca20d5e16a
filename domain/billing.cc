#include "domain/billing.h"

#include <chrono>
#include <cstdio>
#include <set>

namespace remotegpu::domain {
namespace {

Status CheckRates(const RateCard& card) {
  for (int64_t rate : {card.cpu_core_hour_fen(), card.memory_gb_hour_fen(), card.gpu_hour_fen(),
                       card.storage_gb_month_fen(), card.machine_month_fen()}) {
    if (rate < 0) return Status::InvalidArgument("rates may not be negative");
  }
  std::set<std::string> models;
  for (const auto& gpu : card.gpu_rates()) {
    if (gpu.gpu_model().empty()) return Status::InvalidArgument("a GPU rate needs its model");
    if (gpu.fen_per_hour() < 0) return Status::InvalidArgument("rates may not be negative");
    if (!models.insert(gpu.gpu_model()).second) {
      return Status::InvalidArgument("GPU model " + gpu.gpu_model() + " is priced twice");
    }
  }
  return Status::Ok();
}

}  // namespace

// ---- Rates ----

const RateCard* RatesState::At(int64_t at_us) const {
  const RateCard* in_force = nullptr;
  for (const auto& [effective, card] : cards) {
    if (effective > at_us) break;
    in_force = &card;
  }
  return in_force;
}

void Apply(RatesState& state, const RatesEvent& event) {
  if (event.has_set()) state.cards.emplace_back(event.set().effective_at_us(), event.set().rates());
}

Result<std::vector<RatesEvent>> Decide(const RatesState& state, const SetRates& command,
                                       const DecideContext& context) {
  RGPU_RETURN_IF_ERROR(CheckRates(command.rates()));
  const int64_t effective =
      command.effective_at_us() == 0 ? context.now_us : command.effective_at_us();
  if (effective < context.now_us) {
    return Status::FailedPrecondition("rates cannot take effect in the past");
  }
  if (!state.cards.empty() && effective <= state.cards.back().first) {
    return Status::FailedPrecondition("rates must take effect after the last change");
  }
  std::vector<RatesEvent> events(1);
  *events[0].mutable_set()->mutable_rates() = command.rates();
  events[0].mutable_set()->set_effective_at_us(effective);
  return events;
}

int64_t HourlyPriceOf(const RateCard& card, const EnvironmentSpec& spec) {
  int64_t gpu_rate = card.gpu_hour_fen();
  for (const auto& gpu : card.gpu_rates()) {
    if (gpu.gpu_model() == spec.constraints().gpu_model()) gpu_rate = gpu.fen_per_hour();
  }
  const int64_t memory_gb = static_cast<int64_t>((spec.memory_mb() + 1023) / 1024);
  const int64_t storage_month_fen =
      static_cast<int64_t>(spec.storage_gb()) * card.storage_gb_month_fen();
  return static_cast<int64_t>(spec.cpu_cores()) * card.cpu_core_hour_fen() +
         memory_gb * card.memory_gb_hour_fen() + static_cast<int64_t>(spec.gpu_count()) * gpu_rate +
         (storage_month_fen + kHoursPerStorageMonth / 2) / kHoursPerStorageMonth;
}

// ---- Accounts ----

void Apply(AccountState& state, const AccountEvent& event) {
  state.exists = true;
  switch (event.event_case()) {
    case AccountEvent::kRecharged:
      state.recharged_fen += event.recharged().amount_fen();
      state.orders[event.recharged().order_id()] = event.recharged();
      break;
    case AccountEvent::kSettingsChanged:
      state.credit_limit_fen = event.settings_changed().credit_limit_fen();
      state.low_balance_threshold_fen = event.settings_changed().low_balance_threshold_fen();
      state.stop_when_exhausted = event.settings_changed().stop_when_exhausted();
      break;
    case AccountEvent::kLowBalanceWarned:
      state.warned = true;
      break;
    case AccountEvent::kLowBalanceCleared:
      state.warned = false;
      break;
    case AccountEvent::kExhausted:
      state.exhausted = true;
      break;
    case AccountEvent::kRestored:
      state.exhausted = false;
      break;
    case AccountEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<AccountEvent>> Decide(const AccountState& state, const AccountCommand& command,
                                         const DecideContext& context) {
  std::vector<AccountEvent> events;
  switch (command.command_case()) {
    case AccountCommand::kRecharge: {
      const Recharge& recharge = command.recharge();
      if (recharge.order_id().empty())
        return Status::InvalidArgument("a recharge needs an order id");
      if (recharge.amount_fen() <= 0) {
        return Status::InvalidArgument("a recharge must be more than zero");
      }
      if (recharge.method().empty()) return Status::InvalidArgument("a recharge needs a method");
      if (state.orders.contains(recharge.order_id())) {
        return Status::AlreadyExists("order " + recharge.order_id() + " is already recorded");
      }
      auto* recharged = events.emplace_back().mutable_recharged();
      recharged->set_order_id(recharge.order_id());
      recharged->set_amount_fen(recharge.amount_fen());
      recharged->set_method(recharge.method());
      recharged->set_reference(recharge.reference());
      recharged->set_paid_at_us(context.now_us);
      return events;
    }
    case AccountCommand::kChangeSettings: {
      const auto& settings = command.change_settings();
      if (settings.credit_limit_fen() < 0 || settings.low_balance_threshold_fen() < 0) {
        return Status::InvalidArgument("credit limit and threshold may not be negative");
      }
      if (state.credit_limit_fen == settings.credit_limit_fen() &&
          state.low_balance_threshold_fen == settings.low_balance_threshold_fen() &&
          state.stop_when_exhausted == settings.stop_when_exhausted() && state.exists) {
        return events;
      }
      auto* changed = events.emplace_back().mutable_settings_changed();
      changed->set_credit_limit_fen(settings.credit_limit_fen());
      changed->set_low_balance_threshold_fen(settings.low_balance_threshold_fen());
      changed->set_stop_when_exhausted(settings.stop_when_exhausted());
      return events;
    }
    case AccountCommand::kCheckBalance: {
      const int64_t balance = command.check_balance().balance_fen();
      const bool low = balance < state.low_balance_threshold_fen;
      if (low && !state.warned) {
        auto* warned = events.emplace_back().mutable_low_balance_warned();
        warned->set_balance_fen(balance);
        warned->set_threshold_fen(state.low_balance_threshold_fen);
      } else if (!low && state.warned) {
        events.emplace_back().mutable_low_balance_cleared()->set_balance_fen(balance);
      }
      const bool below_credit = balance < -state.credit_limit_fen;
      if (state.stop_when_exhausted && below_credit && !state.exhausted) {
        auto* exhausted = events.emplace_back().mutable_exhausted();
        exhausted->set_balance_fen(balance);
        exhausted->set_credit_limit_fen(state.credit_limit_fen);
        exhausted->set_reason("balance " + FormatYuan(balance) + " is below the credit limit -" +
                              FormatYuan(state.credit_limit_fen) +
                              "; pay-as-you-go environments are stopped");
      } else if (state.exhausted && !below_credit) {
        events.emplace_back().mutable_restored()->set_balance_fen(balance);
      }
      return events;
    }
    case AccountCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty account command");
}

// ---- Invoices ----

const char* Name(InvoiceStatus status) {
  switch (status) {
    case InvoiceStatus::kNone:
      return "none";
    case InvoiceStatus::kDraft:
      return "draft";
    case InvoiceStatus::kIssued:
      return "issued";
    case InvoiceStatus::kPaid:
      return "paid";
  }
  return "none";
}

void Apply(InvoiceState& state, const InvoiceEvent& event) {
  switch (event.event_case()) {
    case InvoiceEvent::kDrafted:
      state.status = InvoiceStatus::kDraft;
      state.invoice = event.drafted();
      break;
    case InvoiceEvent::kIssued:
      state.status = InvoiceStatus::kIssued;
      state.issued_at_us = event.issued().issued_at_us();
      break;
    case InvoiceEvent::kPaid:
      state.status = InvoiceStatus::kPaid;
      state.payment = event.paid();
      break;
    case InvoiceEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<InvoiceEvent>> Decide(const InvoiceState& state, const InvoiceCommand& command,
                                         const DecideContext& context) {
  std::vector<InvoiceEvent> events;
  switch (command.command_case()) {
    case InvoiceCommand::kDraft:
      if (state.status != InvoiceStatus::kNone) {
        return Status::AlreadyExists(context.stream_id + " is already drafted");
      }
      *events.emplace_back().mutable_drafted() = command.draft().invoice();
      return events;
    case InvoiceCommand::kIssue:
      if (state.status != InvoiceStatus::kDraft) {
        return state.status == InvoiceStatus::kNone
                   ? Status::NotFound(context.stream_id + " does not exist")
                   : Status::FailedPrecondition(std::string("invoice is ") + Name(state.status) +
                                                ", not draft");
      }
      events.emplace_back().mutable_issued()->set_issued_at_us(context.now_us);
      return events;
    case InvoiceCommand::kPay: {
      if (state.status != InvoiceStatus::kIssued) {
        return state.status == InvoiceStatus::kNone
                   ? Status::NotFound(context.stream_id + " does not exist")
                   : Status::FailedPrecondition(std::string("invoice is ") + Name(state.status) +
                                                ", not issued");
      }
      if (command.pay().method().empty())
        return Status::InvalidArgument("a payment needs a method");
      auto* paid = events.emplace_back().mutable_paid();
      paid->set_method(command.pay().method());
      paid->set_reference(command.pay().reference());
      paid->set_paid_at_us(context.now_us);
      return events;
    }
    case InvoiceCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty invoice command");
}

std::string MonthOf(int64_t at_us) {
  using namespace std::chrono;
  const year_month_day date(floor<days>(sys_time<microseconds>(microseconds(at_us))));
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()));
  return text;
}

Result<MonthBounds> BoundsOf(const std::string& month) {
  int year = 0;
  unsigned number = 0;
  char tail = 0;
  if (month.size() != 7 || month[4] != '-' ||
      std::sscanf(month.c_str(), "%4d-%2u%c", &year, &number, &tail) != 2 || number < 1 ||
      number > 12 || year < 1970) {
    return Status::InvalidArgument("month must be YYYY-MM, not '" + month + "'");
  }
  using namespace std::chrono;
  const year_month first{std::chrono::year(year), std::chrono::month(number)};
  const auto start = sys_days(first / 1);
  const auto end = sys_days((first + months(1)) / 1);
  return MonthBounds{duration_cast<microseconds>(start.time_since_epoch()).count(),
                     duration_cast<microseconds>(end.time_since_epoch()).count()};
}

void AddLine(InvoiceGroups& groups, const BillLineRecorded& line) {
  InvoiceGroup& group = groups[line.resource_id()];
  group.set_resource_type(line.resource_type());
  group.set_resource_id(line.resource_id());
  group.set_lines(group.lines() + 1);
  group.set_seconds(group.seconds() + line.seconds());
  group.set_amount_fen(group.amount_fen() + line.amount_fen());
}

InvoiceDrafted DraftOf(const std::string& customer_id, const std::string& month,
                       const InvoiceGroups& groups) {
  InvoiceDrafted draft;
  draft.set_customer_id(customer_id);
  draft.set_month(month);
  auto bounds = BoundsOf(month);
  if (bounds.ok()) {
    draft.set_period_start_us(bounds->start_us);
    draft.set_period_end_us(bounds->end_us);
  }
  draft.set_currency(kCurrency);
  for (const auto& [id, group] : groups) {
    *draft.add_groups() = group;
    draft.set_total_fen(draft.total_fen() + group.amount_fen());
  }
  return draft;
}

}  // namespace remotegpu::domain
