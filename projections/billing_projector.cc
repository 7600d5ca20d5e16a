#include "projections/billing_projector.h"

#include <map>

#include <nlohmann/json.hpp>

#include "domain/billing.h"
#include "domain/stream_id.h"
#include "projections/sql_rows.h"
#include "projections/stream_folder.h"

namespace remotegpu::projections {
namespace {

std::string PartsJson(const domain::BillLineRecorded& line) {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& part : line.parts()) {
    parts.push_back({{"from_us", part.from_us()},
                     {"to_us", part.to_us()},
                     {"seconds", part.seconds()},
                     {"fen_per_unit", part.fen_per_unit()}});
  }
  return parts.dump();
}

std::string GroupsJson(const domain::InvoiceDrafted& invoice) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : invoice.groups()) {
    groups.push_back({{"resource_type", group.resource_type()},
                      {"resource_id", group.resource_id()},
                      {"lines", group.lines()},
                      {"seconds", group.seconds()},
                      {"amount_fen", group.amount_fen()}});
  }
  return groups.dump();
}

// Adds to an account's row, creating it at zero first.
void UpsertAccount(pqxx::work& tx, const std::string& schema, const std::string& customer_id,
                   const std::string& set, int64_t position) {
  tx.exec0("INSERT INTO " + schema + ".accounts (customer_id, position) VALUES (" +
           tx.quote(customer_id) + ", " + std::to_string(position) +
           ") ON CONFLICT (customer_id) DO NOTHING");
  // The newest event's position, whatever the batches' boundaries were.
  tx.exec0("UPDATE " + schema + ".accounts SET " + set + ", position = GREATEST(position, " +
           std::to_string(position) + ") WHERE customer_id = " + tx.quote(customer_id));
}

}  // namespace

void BillingProjector::Apply(pqxx::work& tx, const std::string& schema,
                             const std::vector<eventstore::RecordedEvent>& batch) {
  SqlRows lines(tx);
  std::map<std::string, std::pair<int64_t, int64_t>> consumed;  // Customer → (fen, position).
  for (const auto& recorded : batch) {
    const std::string& id = recorded.stream_id;
    const auto position = static_cast<int64_t>(recorded.global_position);
    if (domain::IsKind(id, domain::StreamKind::kBill)) {
      const auto event = ParseEvent<domain::BillEvent>(recorded);
      if (!event.has_line()) continue;
      const domain::BillLineRecorded& line = event.line();
      lines.Begin()
          .Text(line.resource_id() + "@" + std::to_string(line.period_start_us()))
          .Text(line.customer_id())
          .Text(line.resource_type())
          .Text(line.resource_id())
          .Text(line.billing_mode())
          .Time(line.period_start_us())
          .Time(line.period_end_us())
          .Int(line.seconds())
          .Int(line.amount_fen())
          .Text(line.currency())
          .Json(PartsJson(line))
          .Text(line.price_source())
          .Int(position)
          .Time(recorded.recorded_at_us)
          .End();
      auto& [fen, last] = consumed[line.customer_id()];
      fen += line.amount_fen();
      last = position;
    } else if (domain::IsKind(id, domain::StreamKind::kAccount)) {
      const std::string customer_id = id.substr(8);
      const auto event = ParseEvent<domain::AccountEvent>(recorded);
      switch (event.event_case()) {
        case domain::AccountEvent::kRecharged: {
          const auto& r = event.recharged();
          SqlRows payment(tx);
          payment.Begin()
              .Text(r.order_id())
              .Text(customer_id)
              .Int(r.amount_fen())
              .Text(r.method())
              .Text(r.reference())
              .Text("paid")
              .Time(r.paid_at_us())
              .Text(recorded.data.actor.id)
              .Int(position)
              .End();
          payment.Insert(schema + ".payments",
                         "order_id, customer_id, amount_fen, method, reference, status, paid_at, "
                         "recorded_by, position");
          UpsertAccount(tx, schema, customer_id,
                        "recharged_fen = recharged_fen + " + std::to_string(r.amount_fen()),
                        position);
          break;
        }
        case domain::AccountEvent::kSettingsChanged: {
          const auto& s = event.settings_changed();
          UpsertAccount(
              tx, schema, customer_id,
              "credit_limit_fen = " + std::to_string(s.credit_limit_fen()) +
                  ", low_balance_threshold_fen = " + std::to_string(s.low_balance_threshold_fen()) +
                  ", stop_when_exhausted = " + (s.stop_when_exhausted() ? "true" : "false"),
              position);
          break;
        }
        case domain::AccountEvent::kLowBalanceWarned:
          UpsertAccount(tx, schema, customer_id, "low_balance = true", position);
          break;
        case domain::AccountEvent::kLowBalanceCleared:
          UpsertAccount(tx, schema, customer_id, "low_balance = false", position);
          break;
        case domain::AccountEvent::kExhausted:
          UpsertAccount(tx, schema, customer_id, "exhausted = true", position);
          break;
        case domain::AccountEvent::kRestored:
          UpsertAccount(tx, schema, customer_id, "exhausted = false", position);
          break;
        case domain::AccountEvent::EVENT_NOT_SET:
          break;
      }
    } else if (domain::IsKind(id, domain::StreamKind::kInvoice)) {
      const auto event = ParseEvent<domain::InvoiceEvent>(recorded);
      if (event.has_drafted()) {
        const auto& d = event.drafted();
        SqlRows invoice(tx);
        invoice.Begin()
            .Text(id)
            .Text(d.customer_id())
            .Text(d.month())
            .Time(d.period_start_us())
            .Time(d.period_end_us())
            .Int(d.total_fen())
            .Text(d.currency())
            .Text("draft")
            .Json(GroupsJson(d))
            .Time(recorded.data.occurred_at_us)
            .Int(position)
            .End();
        invoice.Insert(schema + ".invoices",
                       "invoice_id, customer_id, month, period_start, period_end, total_fen, "
                       "currency, status, groups, drafted_at, position");
      } else if (event.has_issued()) {
        tx.exec0("UPDATE " + schema + ".invoices SET status = 'issued', issued_at = " +
                 "to_timestamp(" + std::to_string(event.issued().issued_at_us()) +
                 " / 1000000.0), position = " + std::to_string(position) +
                 " WHERE invoice_id = " + tx.quote(id));
      } else if (event.has_paid()) {
        tx.exec0("UPDATE " + schema + ".invoices SET status = 'paid', paid_at = " +
                 "to_timestamp(" + std::to_string(event.paid().paid_at_us()) +
                 " / 1000000.0), payment_method = " + tx.quote(event.paid().method()) +
                 ", payment_reference = " + tx.quote(event.paid().reference()) + ", position = " +
                 std::to_string(position) + " WHERE invoice_id = " + tx.quote(id));
      }
    }
  }
  lines.Insert(schema + ".billing_records",
               "line_id, customer_id, resource_type, resource_id, billing_mode, period_start, "
               "period_end, seconds, amount_fen, currency, parts, price_source, position, "
               "recorded_at",
               "ON CONFLICT (line_id) DO NOTHING");
  for (const auto& [customer_id, sum] : consumed) {
    UpsertAccount(tx, schema, customer_id,
                  "consumed_fen = consumed_fen + " + std::to_string(sum.first), sum.second);
  }
}

}  // namespace remotegpu::projections
