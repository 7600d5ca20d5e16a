#include "commands/billing_service.h"

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

Result<CommandResult> BillingService::Invoice(const std::string& invoice_id,
                                              const domain::InvoiceCommand& command,
                                              const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(invoice_id, "invoice"));
  return ExecuteOne(store_, invoices_, clock_, invoice_id, command, meta);
}

}  // namespace remotegpu::commands
