// Commerce deciders (domain/proto/billing.proto): the rate card, customer
// accounts and monthly invoices, and the pure pieces the metering process
// and the invoice process compose. Pure.
//
// Rates (stream "rates-default")
//   set           every rate 0 or more, a GPU model named once; from its
//                 effective time (now when unset), never in the past nor at
//                 or before the last change's
//
// Accounts (stream "account-<customer id>"; exists once anything happened)
//   recharge      an order id, an amount above zero, a method; the same
//                 order twice: AlreadyExists
//   settings      credit limit and warning threshold 0 or more
//   check balance (the balance watcher) LowBalanceWarned when the balance
//                 falls below the threshold (once, until it recovers:
//                 LowBalanceCleared); BalanceExhausted when the account stops
//                 pay-as-you-go work and the balance is below minus the
//                 credit limit (once, until BalanceRestored)
//
// Invoices (stream "invoice-<customer id>-<YYYY-MM>")
//   draft → issued → paid; a draft is written once, from the month's lines.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/metering.h"
#include "domain/proto/billing.pb.h"
#include "domain/proto/environment.pb.h"

namespace remotegpu::domain {

inline constexpr const char* kRatesStream = "rates-default";
// Hours in the month of a GB-month storage rate.
inline constexpr int64_t kHoursPerStorageMonth = 720;

// ---- Rates ----

struct RatesState {
  std::vector<std::pair<int64_t, RateCard>> cards;  // By effective time.
  // The card in force at `at_us`; nullptr before the first.
  const RateCard* At(int64_t at_us) const;
};
void Apply(RatesState& state, const RatesEvent& event);
Result<std::vector<RatesEvent>> Decide(const RatesState& state, const SetRates& command,
                                       const DecideContext& context);

// An environment with explicit resources, per hour under `card`: CPU cores ×
// core-hour + memory (whole GiB, MiB rounded up) × GB-hour + GPUs × the
// model's GPU-hour (the constraint's model; the default rate otherwise) +
// storage GB × GB-month / 720 hours, that last term rounded half up to the
// fen (the one rounding before metering; documented in the README).
int64_t HourlyPriceOf(const RateCard& card, const EnvironmentSpec& spec);

// ---- Accounts ----

struct AccountState {
  bool exists = false;
  int64_t recharged_fen = 0;
  std::map<std::string, AccountRecharged> orders;  // By order id.
  int64_t credit_limit_fen = 0;
  int64_t low_balance_threshold_fen = 0;
  bool stop_when_exhausted = false;
  bool warned = false;
  bool exhausted = false;
};
void Apply(AccountState& state, const AccountEvent& event);
Result<std::vector<AccountEvent>> Decide(const AccountState& state, const AccountCommand& command,
                                         const DecideContext& context);

// ---- Invoices ----

enum class InvoiceStatus { kNone, kDraft, kIssued, kPaid };
const char* Name(InvoiceStatus status);

struct InvoiceState {
  InvoiceStatus status = InvoiceStatus::kNone;
  InvoiceDrafted invoice;
  int64_t issued_at_us = 0;
  InvoicePaid payment;
};
void Apply(InvoiceState& state, const InvoiceEvent& event);
Result<std::vector<InvoiceEvent>> Decide(const InvoiceState& state, const InvoiceCommand& command,
                                         const DecideContext& context);

// "2026-11" for a time in November 2026 (UTC); the month's bounds.
std::string MonthOf(int64_t at_us);
struct MonthBounds {
  int64_t start_us = 0;
  int64_t end_us = 0;
};
// InvalidArgument for text that is not "YYYY-MM".
Result<MonthBounds> BoundsOf(const std::string& month);

// A month's lines summed per resource, by resource id.
using InvoiceGroups = std::map<std::string, InvoiceGroup>;
void AddLine(InvoiceGroups& groups, const BillLineRecorded& line);

// The draft of `customer_id`'s invoice for `month` ("YYYY-MM") from its
// lines of that month (period start inside it): one group per resource, in
// resource id order, and their total.
InvoiceDrafted DraftOf(const std::string& customer_id, const std::string& month,
                       const InvoiceGroups& groups);

}  // namespace remotegpu::domain
