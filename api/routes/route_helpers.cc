#include "api/routes/route_helpers.h"

#include "api/app/read_store.h"
#include "common/progress.h"
#include "domain/environment.h"
#include "domain/host.h"

namespace remotegpu::api {
commands::CommandMeta MetaFor(const HttpRequest& request) {
  commands::CommandMeta meta;
  const Identity& who = request.identity;
  if (!who.authenticated) {
    meta.actor = {eventstore::ActorKind::kUser, "anonymous", "anonymous"};
  } else if (!who.api_key_id.empty()) {
    meta.actor = {
        who.host_id.empty() ? eventstore::ActorKind::kApiKey : eventstore::ActorKind::kAgent,
        who.api_key_id, who.username};
  } else {
    meta.actor = {eventstore::ActorKind::kUser, who.user_id, who.username};
  }
  // The request's id as the server checked it (the client's X-Request-Id
  // when usable): nothing from a header enters the log unchecked.
  meta.correlation_id = request.trace_id;
  meta.trace_id = request.trace_id;
  return meta;
}

bool MayAccess(const HttpRequest& request, const std::string& owner) {
  return request.identity.admin ||
         (!request.identity.customer_id.empty() && request.identity.customer_id == owner);
}

std::optional<HttpResponse> AwaitMinPosition(const HttpRequest& request,
                                             const projections::ProjectionRunner& projection) {
  const std::string header = request.Header("x-min-position");
  if (header.empty()) return std::nullopt;
  if (header.find_first_not_of("0123456789") != std::string::npos || header.size() > 19) {
    return StatusResponse(
        request, Status::InvalidArgument("X-Min-Position must be a log position (a number)"));
  }
  const uint64_t wanted = std::stoull(header);
  ProgressSignal& progress = projection.progress();
  const uint64_t reached = progress.reached();
  if (reached >= wanted) return std::nullopt;
  // A position the log itself has not reached cannot be waited for: it may
  // never come.
  if (const uint64_t head = progress.head(); wanted > head) {
    return StatusResponse(
        request, Status::OutOfRange("X-Min-Position " + std::to_string(wanted) +
                                    " is beyond the log's head, position " + std::to_string(head) +
                                    "; send a position a command returned"));
  }
  if (!request.resumed || std::chrono::steady_clock::now() < request.park_deadline) {
    HttpResponse parked;
    parked.park = HttpResponse::Park{&progress, wanted, kMinPositionWait};
    return parked;
  }
  return StatusResponse(  // 503 + Retry-After.
      request, Status::Unavailable("the " + projection.name() +
                                   " read model has reached position " + std::to_string(reached) +
                                   ", not " + std::to_string(wanted) + " yet; retry shortly"));
}

std::string ListPage(pqxx::nontransaction& tx, const std::string& table, const std::string& where,
                     const Paging& paging, const std::string& tiebreak) {
  const std::string page_sql =
      "SELECT * FROM " + table + where + " ORDER BY " + paging.sort_by +
      (paging.descending ? " DESC, " : " ASC, ") + tiebreak + " LIMIT " +
      std::to_string(paging.page_size) + " OFFSET " +
      std::to_string(static_cast<int64_t>(paging.page - 1) * paging.page_size);
  auto row = tx.exec1("SELECT (SELECT count(*) FROM " + table + where +
                      "), coalesce((SELECT json_agg(p) FROM (" + page_sql + ") p), '[]'::json)");
  return std::string("{\"list\":") + row[1].c_str() + ",\"total\":" + row[0].c_str() +
         ",\"page\":" + std::to_string(paging.page) +
         ",\"pageSize\":" + std::to_string(paging.page_size) + "}";
}

std::vector<std::pair<std::string, std::string>> EqualsFromQuery(
    const HttpRequest& request, const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> equals;
  for (const auto& [param, column] : params) {
    std::string value = request.Query(param);
    if (!value.empty()) equals.emplace_back(column, std::move(value));
  }
  return equals;
}

std::string WhereOf(pqxx::nontransaction& tx, const ListQuery& query) {
  std::string where = " WHERE true" + query.conditions;
  for (const auto& [column, value] : query.equals) {
    where += " AND " + column + " = " + tx.quote(value);
  }
  for (const auto& [column, op, value] : query.compares) {
    where += " AND " + column + " " + op + " " + tx.quote(value);
  }
  return where;
}

std::string FromOf(const std::string& schema, const ListQuery& query) {
  if (query.from.empty()) return schema + "." + query.table;
  std::string from;
  for (size_t i = 0; i < query.from.size(); ++i) {
    if (query.from.compare(i, 3, "{s}") == 0) {
      from += schema;
      i += 2;
    } else {
      from += query.from[i];
    }
  }
  return from;
}

HttpResponse ServeList(const HttpRequest& request, ReadStore& reads,
                       const projections::ProjectionRunner& projection, const ListQuery& query) {
  auto paging = ParsePaging(request, query.sortable, query.default_sort);
  if (!paging.ok()) return StatusResponse(request, paging.status());
  if (auto wait = AwaitMinPosition(request, projection)) return *wait;
  std::string page;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    page = ListPage(tx, FromOf(reads.schema(), query), WhereOf(tx, query), *paging, query.tiebreak);
  });
  if (!read.ok()) return StatusResponse(request, read);
  return OkRawResponse(request, page);
}

nlohmann::json PlacementJson(const domain::Placement& placement) {
  using nlohmann::json;
  json ports = json::array();
  for (const auto& port : placement.ports()) {
    ports.push_back({{"service", domain::Name(port.service())}, {"port", port.port()}});
  }
  return {
      {"host_id", placement.host_id()}, {"gpu_indexes", placement.gpu_indexes()}, {"ports", ports}};
}

HttpResponse OkRawResponse(const HttpRequest& request, const std::string& data_json) {
  std::string body = "{\"code\":0,\"message\":\"ok\",\"data\":";
  body += data_json;
  body += ",\"traceId\":" + nlohmann::json(request.trace_id).dump() + "}";
  return {200, "application/json", std::move(body), {}};
}

}  // namespace remotegpu::api
