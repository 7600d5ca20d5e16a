// Queries over the billing read model: bill lines, invoices, payments and
// accounts, each with its SQL. Money is in fen, with the yuan text beside it
// rendered by PostgreSQL ("18.75").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "projections/queries/paging.h"
#include "projections/queries/read_store.h"

namespace remotegpu::queries {

// Empty strings and nullopt mean "any"; a customer set (a scope) always
// applies.
struct RecordFilter {
  std::optional<int64_t> period_from_us;   // period_start >= this
  std::optional<int64_t> period_until_us;  // period_start < this
  std::string resource_type, resource_id;
  std::optional<std::string> customer_id;
};
inline const ListShape kRecordList{{"period_start", "amount_fen", "recorded_at", "resource_id"},
                                   "period_start"};
Result<std::string> ListRecords(ReadStore& reads, const RecordFilter& filter, const Paging& paging);
Result<int64_t> CountRecords(ReadStore& reads, const RecordFilter& filter);

// The columns ExportRecords gives, in order.
inline const std::vector<std::string> kRecordExportColumns = {
    "line_id",      "customer_id",  "resource_type", "resource_id", "billing_mode",
    "period_start", "period_end",   "seconds",       "amount_fen",  "amount",
    "currency",     "price_source", "recorded_at"};
// Every matching line, oldest first, handed to `page` a page at a time
// (keyset on period_start, line_id; one page in memory whatever the
// export's size). A null column is "". Stops early when `page` answers false.
using RecordRows = std::vector<std::vector<std::string>>;
Status ExportRecords(ReadStore& reads, const RecordFilter& filter,
                     const std::function<bool(const RecordRows&)>& page);

struct InvoiceFilter {
  std::string month, status;
  std::optional<std::string> customer_id;
};
inline const ListShape kInvoiceList{{"month", "total_fen"}, "month"};
Result<std::string> ListInvoices(ReadStore& reads, const InvoiceFilter& filter,
                                 const Paging& paging);
// {invoice_id, customer_id, month, period_start, period_end, total_fen,
// total, currency, status, groups, drafted_at, issued_at, paid_at,
// payment_method, payment_reference}; nullopt when there is none.
Result<std::optional<nlohmann::json>> InvoiceById(ReadStore& reads, const std::string& invoice_id);

// {order_id, customer_id, status, paid_at, amount_fen, amount,
// payment_method, reference}; nullopt when there is none.
Result<std::optional<nlohmann::json>> PaymentByOrder(ReadStore& reads, const std::string& order_id);

struct AccountFilter {
  std::string customer_id;
  bool low_balance_only = false;
};
inline const ListShape kAccountList{{"balance_fen", "customer_id"}, "customer_id"};
Result<std::string> ListAccounts(ReadStore& reads, const AccountFilter& filter,
                                 const Paging& paging);

// One customer's account; zeros and false for a customer with no account
// row yet.
struct AccountTotals {
  int64_t recharged_fen = 0, consumed_fen = 0, balance_fen = 0, credit_limit_fen = 0;
  int64_t low_balance_threshold_fen = 0;
  int64_t consumed_this_month_fen = 0;  // Lines starting this month (UTC).
  bool stop_when_exhausted = false, low_balance = false, exhausted = false;
};
Result<AccountTotals> AccountOf(ReadStore& reads, const std::string& customer_id);

}  // namespace remotegpu::queries
