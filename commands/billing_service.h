// Commerce commands (domain/billing.h): the rate card, accounts (recharges
// recorded by admins, settings, balance checks) and invoices (draft, issue,
// pay). Each runs against its stream with optimistic concurrency.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <string>

#include "commands/execute.h"

namespace remotegpu::commands {

// "account-<customer id>"; "invoice-<customer id>-<YYYY-MM>".
inline std::string AccountStreamOf(const std::string& customer_id) {
  return "account-" + customer_id;
}
// "payment-<order id>": the claim that makes an order id unique (OrderClaimed).
inline std::string PaymentStreamOf(const std::string& order_id) { return "payment-" + order_id; }
inline std::string InvoiceStreamOf(const std::string& customer_id, const std::string& month) {
  return "invoice-" + customer_id + "-" + month;
}

class BillingService {
 public:
  BillingService(eventstore::EventStore& store, const Clock& clock)
      : store_(store), clock_(clock), rates_(store), accounts_(store), invoices_(store) {}

  // InvalidArgument for a negative rate; FailedPrecondition for a time past
  // or not after the last change.
  Result<CommandResult> SetRates(const domain::SetRates& command, const CommandMeta& meta);
  Result<Loaded<RatesTraits>> Rates() { return rates_.Load(domain::kRatesStream); }

  // InvalidArgument (a malformed customer or order id, a rule the decider
  // refuses), AlreadyExists (the order id is recorded already, on this
  // account or any other: nothing is written).
  Result<CommandResult> Account(const std::string& customer_id,
                                const domain::AccountCommand& command, const CommandMeta& meta);
  Result<Loaded<AccountTraits>> AccountOf(const std::string& customer_id) {
    return accounts_.Load(AccountStreamOf(customer_id));
  }

  // Claims the order id of every recharge recorded before order ids were
  // claimed (OrderClaimed in "payment-<order id>"), so that no recharge can
  // reuse one; once, from the checkpoint "order-claims" on. Order ids that
  // do not fit the id grammar cannot be claimed and are logged. Call at
  // start, before commands are taken.
  Status ClaimRecordedOrders(const CommandMeta& meta);

  // `invoice_id` is the stream id. NotFound, AlreadyExists, FailedPrecondition.
  Result<CommandResult> Invoice(const std::string& invoice_id,
                                const domain::InvoiceCommand& command, const CommandMeta& meta);
  Result<Loaded<InvoiceTraits>> InvoiceOf(const std::string& invoice_id) {
    return invoices_.Load(invoice_id);
  }

 private:
  eventstore::EventStore& store_;
  const Clock& clock_;
  AggregateCache<RatesTraits> rates_;
  AggregateCache<AccountTraits> accounts_;
  AggregateCache<InvoiceTraits> invoices_;
};

}  // namespace remotegpu::commands
