#include "api/routes/billing_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "common/csv.h"
#include "projections/queries/billing_queries.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

// Whose data a request reads: a customer's user, its own customer's; an
// admin, the ?customer_id named (nullopt: every customer's).
std::optional<std::string> ScopeOf(const HttpRequest& request) {
  if (request.identity.admin) return QueryIfGiven(request, "customer_id");
  return request.identity.customer_id;
}

// "2026-11-05" → its midnight, UTC.
Result<int64_t> ParseDate(const std::string& name, const std::string& text) {
  auto at = ParseRfc3339(text + "T00:00:00Z");
  if (text.size() != 10 || !at.ok()) {
    return Status::InvalidArgument(name + " must be a date, YYYY-MM-DD");
  }
  return *at;
}

constexpr int64_t kDayUs = 86'400'000'000;
constexpr size_t kMaxCsvRows = 1'000'000;

// The records filter of a request: dates (inclusive, on the period's
// start), resource type and id, the customer scope.
Result<queries::RecordFilter> RecordsFilter(const HttpRequest& request) {
  queries::RecordFilter filter{.resource_type = request.Query("resource_type"),
                               .resource_id = request.Query("resource_id"),
                               .customer_id = ScopeOf(request)};
  if (const std::string from = request.Query("start_date"); !from.empty()) {
    auto at = ParseDate("start_date", from);
    if (!at.ok()) return at.status();
    filter.period_from_us = *at;
  }
  if (const std::string to = request.Query("end_date"); !to.empty()) {
    auto at = ParseDate("end_date", to);
    if (!at.ok()) return at.status();
    filter.period_until_us = *at + kDayUs;
  }
  if (!filter.resource_type.empty() && filter.resource_type != "environment" &&
      filter.resource_type != "lease") {
    return Status::InvalidArgument("resource_type must be environment or lease");
  }
  return filter;
}

// Every matching record as CSV, oldest first, streamed: rows are read a
// page at a time (keyset on period_start, line_id) and each page is written
// before the next is read, so memory holds one page whatever the export's
// size. More matches than kMaxCsvRows are refused up front (400), never cut.
HttpResponse RecordsCsv(BillingApi& api, const HttpRequest& request,
                        const queries::RecordFilter& filter) {
  if (auto wait = AwaitMinPosition(request, *api.projection)) return *wait;
  auto matches = queries::CountRecords(*api.reads, filter);
  if (!matches.ok()) return StatusResponse(request, matches.status());
  if (*matches > static_cast<int64_t>(kMaxCsvRows)) {
    return StatusResponse(request,
                          Status::InvalidArgument("more than " + std::to_string(kMaxCsvRows) +
                                                  " lines match; narrow start_date and end_date"));
  }
  HttpResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers["Content-Disposition"] = "attachment; filename=\"billing-records.csv\"";
  response.stream = [reads = api.reads, filter](const HttpResponse::Emit& emit) {
    std::string header;
    for (const auto& column : queries::kRecordExportColumns) {
      header += (header.empty() ? "" : ",") + column;
    }
    if (!emit(header + "\n")) return Status::Ok();
    return queries::ExportRecords(*reads, filter, [&](const queries::RecordRows& rows) {
      std::string chunk;
      for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) {
          if (i > 0) chunk += ',';
          chunk += CsvField(row[i]);
        }
        chunk += '\n';
      }
      return emit(chunk);  // false: the client is gone, stop reading.
    });
  };
  return response;
}

HttpResponse InvoiceCsv(const json& invoice) {
  HttpResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers["Content-Disposition"] =
      "attachment; filename=\"" + invoice["invoice_id"].get<std::string>() + ".csv\"";
  response.body = "invoice_id,month,resource_type,resource_id,lines,seconds,amount_fen,amount\n";
  for (const auto& group : invoice["groups"]) {
    const int64_t fen = group["amount_fen"].get<int64_t>();
    response.body += CsvField(invoice["invoice_id"]) + "," + CsvField(invoice["month"]) + "," +
                     CsvField(group["resource_type"]) + "," + CsvField(group["resource_id"]) + "," +
                     std::to_string(group["lines"].get<int64_t>()) + "," +
                     std::to_string(group["seconds"].get<int64_t>()) + "," + std::to_string(fen) +
                     "," + domain::FormatYuan(fen) + "\n";
  }
  const int64_t total = invoice["total_fen"].get<int64_t>();
  response.body += CsvField(invoice["invoice_id"]) + "," + CsvField(invoice["month"]) +
                   ",total,,,," + std::to_string(total) + "," + domain::FormatYuan(total) + "\n";
  return response;
}

HttpResponse Done(const HttpRequest& request, const Result<commands::CommandResult>& done,
                  json data, int status = 200) {
  if (!done.ok()) return RefusedResponse(request, done.status());
  data["position"] = done->last_position;
  return OkResponse(request, data, status);
}

HttpResponse InvoiceCommand(BillingApi& api, const HttpRequest& request,
                            const domain::InvoiceCommand& command) {
  const std::string& id = request.params.at("id");
  return Done(request, api.billing->Invoice(id, command, MetaFor(request)), {{"invoice_id", id}});
}

json RatesJson(const domain::RateCard& card) {
  json gpus = json::object();
  for (const auto& gpu : card.gpu_rates())
    gpus[gpu.gpu_model()] = domain::FormatYuan(gpu.fen_per_hour());
  return {{"cpu_core_hour", domain::FormatYuan(card.cpu_core_hour_fen())},
          {"memory_gb_hour", domain::FormatYuan(card.memory_gb_hour_fen())},
          {"gpu_hour", domain::FormatYuan(card.gpu_hour_fen())},
          {"gpu_hour_by_model", gpus},
          {"storage_gb_month", domain::FormatYuan(card.storage_gb_month_fen())},
          {"machine_month", domain::FormatYuan(card.machine_month_fen())}};
}

}  // namespace

void AddBillingRoutes(Router& router, BillingApi& api) {
  router.Add("GET", "/api/billing/account",
             "The caller's customer's account: balance, credit limit, recharged, consumed, this "
             "month's consumption (admins: ?customer_id)",
             [&api](const HttpRequest& request) {
               const std::string customer = ScopeOf(request).value_or("");
               if (customer.empty()) {
                 return StatusResponse(request, Status::InvalidArgument("customer_id is required"));
               }
               if (request.identity.admin && !api.identity->CustomerExists(customer)) {
                 return StatusResponse(request,
                                       Status::NotFound("customer " + customer + " not found"));
               }
               if (auto wait = AwaitMinPosition(request, *api.projection)) return *wait;
               auto totals = queries::AccountOf(*api.reads, customer);
               if (!totals.ok()) return StatusResponse(request, totals.status());
               json account = {{"customer_id", customer},
                               {"currency", domain::kCurrency},
                               {"stop_when_exhausted", totals->stop_when_exhausted},
                               {"low_balance", totals->low_balance},
                               {"exhausted", totals->exhausted}};
               const std::pair<const char*, int64_t> amounts[] = {
                   {"recharged", totals->recharged_fen},
                   {"consumed", totals->consumed_fen},
                   {"balance", totals->balance_fen},
                   {"credit_limit", totals->credit_limit_fen},
                   {"low_balance_threshold", totals->low_balance_threshold_fen},
                   {"consumed_this_month", totals->consumed_this_month_fen}};
               for (const auto& [name, fen] : amounts) {  // Both fen and yuan text.
                 account[std::string(name) + "_fen"] = fen;
                 account[name] = domain::FormatYuan(fen);
               }
               return OkResponse(request, account);
             },
             {.access = Access::kUser});

  router.Add("GET", "/api/billing/records",
             "Bill lines: filters start_date, end_date (YYYY-MM-DD), resource_type "
             "(environment, lease), resource_id; paged; Accept text/csv for every match as CSV",
             [&api](const HttpRequest& request) {
               auto filter = RecordsFilter(request);
               if (!filter.ok()) return StatusResponse(request, filter.status());
               if (request.Header("accept").find("text/csv") != std::string::npos) {
                 return RecordsCsv(api, request, *filter);
               }
               return ServeList(request, *api.projection, queries::kRecordList,
                                [&](const queries::Paging& paging) {
                                  return queries::ListRecords(*api.reads, *filter, paging);
                                });
             },
             {.access = Access::kUser,
              .query = {{"start_date", "YYYY-MM-DD, inclusive"},
                        {"end_date", "YYYY-MM-DD, inclusive"},
                        {"resource_type", "environment or lease"},
                        {"resource_id", "resource id"},
                        {"customer_id", "customer id (admins)"}},
              .paged = &queries::kRecordList});

  router.Add(
      "GET", "/api/billing/invoices", "Monthly invoices; filters month, status",
      [&api](const HttpRequest& request) {
        const std::string status = request.Query("status");
        if (!status.empty() && status != "draft" && status != "issued" && status != "paid") {
          return StatusResponse(request,
                                Status::InvalidArgument("status must be draft, issued or paid"));
        }
        const queries::InvoiceFilter filter{request.Query("month"), status, ScopeOf(request)};
        return ServeList(request, *api.projection, queries::kInvoiceList,
                         [&](const queries::Paging& paging) {
                           return queries::ListInvoices(*api.reads, filter, paging);
                         });
      },
      {.access = Access::kUser,
       .query = {{"month", "YYYY-MM"},
                 {"status", "draft, issued or paid"},
                 {"customer_id", "customer id (admins)"}},
       .paged = &queries::kInvoiceList});

  router.Add("GET", "/api/billing/invoices/:id",
             "One invoice with its lines grouped by resource; Accept text/csv for CSV",
             [&api](const HttpRequest& request) {
               if (auto wait = AwaitMinPosition(request, *api.projection)) return *wait;
               const std::string& id = request.params.at("id");
               auto invoice = queries::InvoiceById(*api.reads, id);
               if (!invoice.ok()) return StatusResponse(request, invoice.status());
               if (!*invoice || !MayAccess(request, (**invoice)["customer_id"])) {
                 return StatusResponse(request, Status::NotFound("invoice " + id + " not found"));
               }
               if (request.Header("accept").find("text/csv") != std::string::npos) {
                 return InvoiceCsv(**invoice);
               }
               return OkResponse(request, **invoice);
             },
             {.access = Access::kUser});

  router.Add(
      "POST", "/api/billing/recharge",
      "Record a recharge paid outside (admins): customer_id, amount (yuan text), payment_method "
      "(alipay, wechat, bank_card, transfer, manual), reference, order_id",
      [&api](const HttpRequest& request) {
        std::string customer, method, reference, order_id;
        int64_t fen = 0;
        auto refused = ReadBody(request, [&](JsonFields& f) {
          RGPU_RETURN_IF_ERROR(
              f.OnlyAllowed({"customer_id", "amount", "payment_method", "reference", "order_id"}));
          RGPU_RETURN_IF_ERROR(f.String("customer_id", &customer, true));
          RGPU_RETURN_IF_ERROR(f.Yuan("amount", &fen, true));
          RGPU_RETURN_IF_ERROR(f.String("payment_method", &method, true));
          RGPU_RETURN_IF_ERROR(f.String("reference", &reference));
          RGPU_RETURN_IF_ERROR(f.String("order_id", &order_id));
          if (method != "alipay" && method != "wechat" && method != "bank_card" &&
              method != "transfer" && method != "manual") {
            return Status::InvalidArgument(
                "payment_method must be alipay, wechat, bank_card, transfer or manual");
          }
          if (reference.size() > 200) return Status::InvalidArgument("reference too long");
          if (!order_id.empty()) {
            RGPU_RETURN_IF_ERROR(eventstore::ValidateIdText(order_id, "order_id"));
          }
          return Status::Ok();
        });
        if (refused) return *refused;
        if (!api.identity->CustomerExists(customer)) {
          return StatusResponse(request, Status::NotFound("customer " + customer + " not found"));
        }
        if (order_id.empty()) order_id = "order-" + api.ids->NewId().ToString();
        domain::AccountCommand command;
        auto* recharge = command.mutable_recharge();
        recharge->set_order_id(order_id);
        recharge->set_amount_fen(fen);
        recharge->set_method(method);
        recharge->set_reference(reference);
        return Done(request, api.billing->Account(customer, command, MetaFor(request)),
                    {{"order_id", order_id},
                     {"customer_id", customer},
                     {"status", "paid"},
                     {"amount", domain::FormatYuan(fen)},
                     {"amount_fen", fen}},
                    201);
      });

  router.Add("GET", "/api/billing/payments/:order_id", "A recharge's status",
             [&api](const HttpRequest& request) {
               if (auto wait = AwaitMinPosition(request, *api.projection)) return *wait;
               const std::string& id = request.params.at("order_id");
               auto payment = queries::PaymentByOrder(*api.reads, id);
               if (!payment.ok()) return StatusResponse(request, payment.status());
               if (!*payment || !MayAccess(request, (**payment)["customer_id"])) {
                 return StatusResponse(request, Status::NotFound("payment " + id + " not found"));
               }
               return OkResponse(request, **payment);
             },
             {.access = Access::kUser});

  router.Add("GET", "/api/billing/rates", "The rate card in force and any change to come",
             [&api](const HttpRequest& request) {
               auto rates = api.billing->Rates();
               if (!rates.ok()) return StatusResponse(request, rates.status());
               json history = json::array();
               for (const auto& [effective, card] : rates->state.cards) {
                 json entry = RatesJson(card);
                 entry["effective_at"] = FormatRfc3339(effective);
                 history.push_back(entry);
               }
               return OkResponse(request, {{"currency", domain::kCurrency}, {"rates", history}});
             },
             {.access = Access::kUser});

  router.Add(
      "PUT", "/api/admin/billing/rates",
      "Set the rate card from effective_at (RFC 3339; default now): cpu_core_hour, "
      "memory_gb_hour, gpu_hour, gpu_hour_by_model {model: price}, storage_gb_month, "
      "machine_month (yuan text)",
      [&api](const HttpRequest& request) {
        domain::SetRates command;
        auto refused = ReadBody(request, [&](JsonFields& f) {
          RGPU_RETURN_IF_ERROR(
              f.OnlyAllowed({"cpu_core_hour", "memory_gb_hour", "gpu_hour", "gpu_hour_by_model",
                             "storage_gb_month", "machine_month", "effective_at"}));
          domain::RateCard* card = command.mutable_rates();
          int64_t fen = 0;
          for (auto [name, setter] :
               std::initializer_list<std::pair<const char*, void (domain::RateCard::*)(int64_t)>>{
                   {"cpu_core_hour", &domain::RateCard::set_cpu_core_hour_fen},
                   {"memory_gb_hour", &domain::RateCard::set_memory_gb_hour_fen},
                   {"gpu_hour", &domain::RateCard::set_gpu_hour_fen},
                   {"storage_gb_month", &domain::RateCard::set_storage_gb_month_fen},
                   {"machine_month", &domain::RateCard::set_machine_month_fen}}) {
            fen = 0;
            RGPU_RETURN_IF_ERROR(f.Yuan(name, &fen));
            (card->*setter)(fen);
          }
          json models = json::object();
          RGPU_RETURN_IF_ERROR(f.Object("gpu_hour_by_model", &models));
          const JsonFields by_model(models, "gpu_hour_by_model.");
          for (const auto& [model, price] : models.items()) {
            auto* rate = card->add_gpu_rates();
            rate->set_gpu_model(model);
            fen = 0;
            RGPU_RETURN_IF_ERROR(by_model.Yuan(model, &fen, true));
            rate->set_fen_per_hour(fen);
          }
          std::string effective;
          RGPU_RETURN_IF_ERROR(f.String("effective_at", &effective));
          if (!effective.empty()) {
            auto at = ParseRfc3339(effective);
            if (!at.ok()) return Status::InvalidArgument("effective_at must be an RFC 3339 time");
            command.set_effective_at_us(*at);
          }
          return Status::Ok();
        });
        if (refused) return *refused;
        return Done(request, api.billing->SetRates(command, MetaFor(request)),
                    {{"rates", RatesJson(command.rates())}});
      });

  router.Add("GET", "/api/admin/billing/accounts",
             "Every customer's account: balances, limits, warnings",
             [&api](const HttpRequest& request) {
               const queries::AccountFilter filter{request.Query("customer_id"),
                                                   request.Query("low_balance") == "true"};
               return ServeList(request, *api.projection, queries::kAccountList,
                                [&](const queries::Paging& paging) {
                                  return queries::ListAccounts(*api.reads, filter, paging);
                                });
             },
             {.access = Access::kAdmin,
              .query = {{"customer_id", "customer id"},
                        {"low_balance", "true: only accounts below their threshold"}},
              .paged = &queries::kAccountList});

  router.Add(
      "PUT", "/api/admin/billing/accounts/:customer_id",
      "An account's credit_limit and low_balance_threshold (yuan text) and stop_when_exhausted",
      [&api](const HttpRequest& request) {
        const std::string& customer = request.params.at("customer_id");
        domain::AccountCommand command;
        auto refused = ReadBody(request, [&](JsonFields& f) {
          RGPU_RETURN_IF_ERROR(
              f.OnlyAllowed({"credit_limit", "low_balance_threshold", "stop_when_exhausted"}));
          int64_t credit = 0, threshold = 0;
          bool stop = false;
          RGPU_RETURN_IF_ERROR(f.Yuan("credit_limit", &credit, true));
          RGPU_RETURN_IF_ERROR(f.Yuan("low_balance_threshold", &threshold, true));
          RGPU_RETURN_IF_ERROR(f.Boolean("stop_when_exhausted", &stop));
          auto* settings = command.mutable_change_settings();
          settings->set_credit_limit_fen(credit);
          settings->set_low_balance_threshold_fen(threshold);
          settings->set_stop_when_exhausted(stop);
          return Status::Ok();
        });
        if (refused) return *refused;
        if (!api.identity->CustomerExists(customer)) {
          return StatusResponse(request, Status::NotFound("customer " + customer + " not found"));
        }
        return Done(request, api.billing->Account(customer, command, MetaFor(request)),
                    {{"customer_id", customer}});
      });

  router.Add("POST", "/api/admin/billing/invoices/:id/issue", "Issue a draft invoice",
             [&api](const HttpRequest& request) {
               if (!request.body.empty()) {  // No body, or an empty object.
                 auto refused = ReadBody(request, [](JsonFields& f) { return f.OnlyAllowed({}); });
                 if (refused) return *refused;
               }
               domain::InvoiceCommand command;
               command.mutable_issue();
               return InvoiceCommand(api, request, command);
             });

  router.Add("POST", "/api/admin/billing/invoices/:id/pay",
             "Mark an issued invoice paid: payment_method, reference",
             [&api](const HttpRequest& request) {
               domain::InvoiceCommand command;
               auto refused = ReadBody(request, [&](JsonFields& f) {
                 RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"payment_method", "reference"}));
                 std::string method, reference;
                 RGPU_RETURN_IF_ERROR(f.String("payment_method", &method, true));
                 RGPU_RETURN_IF_ERROR(f.String("reference", &reference));
                 command.mutable_pay()->set_method(method);
                 command.mutable_pay()->set_reference(reference);
                 return Status::Ok();
               });
               if (refused) return *refused;
               return InvoiceCommand(api, request, command);
             });
}

}  // namespace remotegpu::api
