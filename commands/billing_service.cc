#include "commands/billing_service.h"

#include <spdlog/spdlog.h>

#include "domain/stream_id.h"

namespace remotegpu::commands {

Result<CommandResult> BillingService::SetRates(const domain::SetRates& command,
                                               const CommandMeta& meta) {
  return ExecuteOne(store_, rates_, clock_, domain::kRatesStream, command, meta);
}

Result<CommandResult> BillingService::Account(const std::string& customer_id,
                                              const domain::AccountCommand& command,
                                              const CommandMeta& meta) {
  if (customer_id.empty()) return Status::InvalidArgument("an account needs its customer");
  if (!command.has_recharge()) {
    return ExecuteOne(store_, accounts_, clock_, AccountStreamOf(customer_id), command, meta);
  }
  // An order id is unique across every account: claimed with the recharge.
  const std::string& order_id = command.recharge().order_id();
  RGPU_RETURN_IF_ERROR(eventstore::ValidateIdText(order_id, "order_id"));
  domain::OrderClaimed claimed;
  claimed.set_customer_id(customer_id);
  Claim claim{PaymentStreamOf(order_id),
              EventDataOf(claimed, "OrderClaimed", meta, clock_.NowMicros()),
              "order " + order_id + " is already recorded"};
  return ExecuteOne<AccountTraits>(store_, accounts_, clock_, AccountStreamOf(customer_id), command,
                                   meta, nullptr, {claim});
}

Status BillingService::ClaimRecordedOrders(const CommandMeta& meta) {
  constexpr char kCheckpoint[] = "order-claims";
  auto from = store_.LoadCheckpoint(kCheckpoint);
  if (!from.ok()) return from.status();
  const uint64_t last = store_.LastPosition();
  uint64_t position = from->value_or(0) + 1;
  size_t claimed = 0;
  while (position <= last) {
    auto batch = store_.ReadAll(position, 4096);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (const auto& recorded : *batch) {
      position = recorded.global_position + 1;
      if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kAccount) ||
          recorded.data.type != "AccountRecharged") {
        continue;
      }
      auto event = ParseRecorded<domain::AccountEvent>(recorded);
      if (!event.ok()) return event.status();
      const std::string& order_id = event->recharged().order_id();
      if (!eventstore::ValidateIdText(order_id, "order_id").ok()) {
        spdlog::warn("order id of recharge at position {} cannot be claimed (not an id): {}",
                     recorded.global_position, order_id);
        continue;
      }
      domain::OrderClaimed claim;
      claim.set_customer_id(recorded.stream_id.substr(sizeof("account-") - 1));
      auto appended =
          store_.Append({{PaymentStreamOf(order_id),
                          eventstore::ExpectedVersion::NoStream(),
                          {EventDataOf(claim, "OrderClaimed", meta, clock_.NowMicros())}}});
      if (appended.ok()) {
        ++claimed;
      } else if (appended.status().code() != StatusCode::kVersionConflict) {
        return appended.status();
      }  // A conflict: claimed already (by the recharge itself or a first one).
    }
  }
  if (claimed > 0) spdlog::info("claimed the order ids of {} earlier recharge(s)", claimed);
  return store_.SaveCheckpoint(kCheckpoint, last);
}

Result<CommandResult> BillingService::Invoice(const std::string& invoice_id,
                                              const domain::InvoiceCommand& command,
                                              const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(invoice_id, "invoice"));
  return ExecuteOne(store_, invoices_, clock_, invoice_id, command, meta);
}

}  // namespace remotegpu::commands
