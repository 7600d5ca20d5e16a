#include "projections/queries/billing_queries.h"

#include "common/clock.h"
#include "projections/queries/sql_list.h"

namespace remotegpu::queries {
namespace {

// fen → "18.75" in SQL.
std::string YuanSql(const std::string& column) {
  return "to_char(" + column + " / 100.0, 'FM999999999999990.00')";
}

SqlList RecordsList(const RecordFilter& filter) {
  SqlList list{.from =
                   "(SELECT line_id, customer_id, resource_type, resource_id, billing_mode, "
                   "period_start, period_end, seconds, amount_fen, " +
                   YuanSql("amount_fen") +
                   " AS amount, currency, parts, price_source, recorded_at FROM "
                   "{s}.billing_records) records",
               .tiebreak = "line_id"};
  if (filter.period_from_us) {
    list.compares.push_back({"period_start", ">=", FormatRfc3339(*filter.period_from_us)});
  }
  if (filter.period_until_us) {
    list.compares.push_back({"period_start", "<", FormatRfc3339(*filter.period_until_us)});
  }
  list.EqualIfGiven("resource_type", filter.resource_type);
  list.EqualIfGiven("resource_id", filter.resource_id);
  list.EqualIfSet("customer_id", filter.customer_id);
  return list;
}

std::string InvoiceSql(const std::string& schema) {
  return "SELECT invoice_id, customer_id, month, period_start, period_end, total_fen, " +
         YuanSql("total_fen") +
         " AS total, currency, status, groups, drafted_at, issued_at, paid_at, payment_method, "
         "payment_reference FROM " +
         schema + ".invoices";
}

// One row of `sql` (with $1 = `key`) as JSON, or nullopt.
Result<std::optional<nlohmann::json>> OneRow(ReadStore& reads, const std::string& sql,
                                             const std::string& key) {
  std::optional<nlohmann::json> out;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const auto rows = tx.exec_params("SELECT row_to_json(r)::text FROM (" + sql + ") r", key);
    if (!rows.empty()) out = nlohmann::json::parse(rows[0][0].c_str());
  });
  if (!read.ok()) return read;
  return out;
}

}  // namespace

Result<std::string> ListRecords(ReadStore& reads, const RecordFilter& filter,
                                const Paging& paging) {
  return ListPage(reads, RecordsList(filter), kRecordList, paging);
}

Result<int64_t> CountRecords(ReadStore& reads, const RecordFilter& filter) {
  return CountOf(reads, RecordsList(filter));
}

Status ExportRecords(ReadStore& reads, const RecordFilter& filter,
                     const std::function<bool(const RecordRows&)>& page) {
  constexpr int kPage = 5000;
  const SqlList list = RecordsList(filter);
  std::string columns;
  for (const auto& column : kRecordExportColumns) {
    columns += (columns.empty() ? "" : ", ") + column;
  }
  return reads.Read([&](pqxx::nontransaction& tx) {
    const std::string from = FromOf(reads.schema(), list.from);
    const std::string where = WhereOf(tx, list);
    std::string after;  // The keyset condition past the last row given.
    for (;;) {
      const auto rows = tx.exec("SELECT " + columns + " FROM " + from + where + after +
                                " ORDER BY period_start, line_id LIMIT " + std::to_string(kPage));
      RecordRows out;
      out.reserve(rows.size());
      for (const auto& row : rows) {
        auto& fields = out.emplace_back();
        for (const auto& field : row) fields.emplace_back(field.is_null() ? "" : field.c_str());
      }
      if (!page(out) || static_cast<int>(rows.size()) < kPage) break;
      const auto& last = rows[rows.size() - 1];
      after = " AND (period_start, line_id) > (" + tx.quote(last["period_start"].c_str()) +
              "::timestamptz, " + tx.quote(last["line_id"].c_str()) + ")";
    }
  });
}

Result<std::string> ListInvoices(ReadStore& reads, const InvoiceFilter& filter,
                                 const Paging& paging) {
  SqlList list{.from = "(" + InvoiceSql("{s}") + ") invoices", .tiebreak = "invoice_id"};
  list.EqualIfGiven("month", filter.month);
  list.EqualIfGiven("status", filter.status);
  list.EqualIfSet("customer_id", filter.customer_id);
  return ListPage(reads, list, kInvoiceList, paging);
}

Result<std::optional<nlohmann::json>> InvoiceById(ReadStore& reads, const std::string& invoice_id) {
  return OneRow(reads, InvoiceSql(reads.schema()) + " WHERE invoice_id = $1", invoice_id);
}

Result<std::optional<nlohmann::json>> PaymentByOrder(ReadStore& reads,
                                                     const std::string& order_id) {
  return OneRow(reads,
                "SELECT order_id, customer_id, status, paid_at, amount_fen, " +
                    YuanSql("amount_fen") +
                    " AS amount, method AS payment_method, reference FROM " + reads.schema() +
                    ".payments WHERE order_id = $1",
                order_id);
}

Result<std::string> ListAccounts(ReadStore& reads, const AccountFilter& filter,
                                 const Paging& paging) {
  SqlList list{
      .from = "(SELECT *, " + YuanSql("balance_fen") + " AS balance FROM {s}.accounts) accounts",
      .tiebreak = "customer_id"};
  list.EqualIfGiven("customer_id", filter.customer_id);
  if (filter.low_balance_only) list.conditions = " AND low_balance";
  return ListPage(reads, list, kAccountList, paging);
}

Result<AccountTotals> AccountOf(ReadStore& reads, const std::string& customer_id) {
  AccountTotals account;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const std::string s = reads.schema() + ".";
    const auto row = tx.exec_params(
        "SELECT recharged_fen, consumed_fen, balance_fen, credit_limit_fen, "
        "low_balance_threshold_fen, stop_when_exhausted, low_balance, exhausted FROM " +
            s + "accounts WHERE customer_id = $1",
        customer_id);
    if (!row.empty()) {
      account.recharged_fen = row[0][0].as<int64_t>();
      account.consumed_fen = row[0][1].as<int64_t>();
      account.balance_fen = row[0][2].as<int64_t>();
      account.credit_limit_fen = row[0][3].as<int64_t>();
      account.low_balance_threshold_fen = row[0][4].as<int64_t>();
      account.stop_when_exhausted = row[0][5].as<bool>();
      account.low_balance = row[0][6].as<bool>();
      account.exhausted = row[0][7].as<bool>();
    }
    account.consumed_this_month_fen =
        tx.exec_params1("SELECT coalesce(sum(amount_fen), 0) FROM " + s +
                            "billing_records WHERE customer_id = $1 AND period_start >= "
                            "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
                        customer_id)[0]
            .as<int64_t>();
  });
  if (!read.ok()) return read;
  return account;
}

}  // namespace remotegpu::queries
