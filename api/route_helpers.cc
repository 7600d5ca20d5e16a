#include "api/route_helpers.h"

#include "api/read_store.h"

namespace remotegpu::api {
commands::CommandMeta MetaFor(const HttpRequest& request) {
  commands::CommandMeta meta;
  meta.actor = {eventstore::ActorKind::kUser, "anonymous", "anonymous"};
  const std::string request_id = request.Header("x-request-id");
  meta.correlation_id = request_id.empty() ? request.trace_id : request_id;
  meta.trace_id = request.trace_id;
  return meta;
}

Status WaitForMinPosition(const HttpRequest& request,
                          const projections::ProjectionRunner& projection) {
  const std::string header = request.Header("x-min-position");
  if (header.empty()) return Status::Ok();
  if (header.find_first_not_of("0123456789") != std::string::npos || header.size() > 19) {
    return Status::InvalidArgument("X-Min-Position must be a log position (a number)");
  }
  return ReadStore::WaitFor(projection, std::stoull(header));
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

HttpResponse OkRawResponse(const HttpRequest& request, const std::string& data_json) {
  std::string body = "{\"code\":0,\"message\":\"ok\",\"data\":";
  body += data_json;
  body += ",\"traceId\":" + nlohmann::json(request.trace_id).dump() + "}";
  return {200, "application/json", std::move(body), {}};
}

}  // namespace remotegpu::api
