// What every route over the command side and the read models shares.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "api/http/envelope.h"
#include "api/http/http_types.h"
#include "api/http/json_fields.h"
#include "api/app/read_store.h"
#include "commands/aggregate.h"
#include "projections/projection_runner.h"

namespace remotegpu::domain {
class Placement;
}

namespace remotegpu::api {

// The actor and ids a command from this request carries: the user (or API
// key) the authentication middleware established, or "anonymous" on a
// public route.
commands::CommandMeta MetaFor(const HttpRequest& request);

// Whether the caller may see and act on something of `owner` (a customer
// id): admins may; a customer's user only on its own customer's.
bool MayAccess(const HttpRequest& request, const std::string& owner);

// Honours X-Min-Position (read your writes): nullopt when there is none or
// `projection` has applied that position, so the handler goes on; else the
// answer: 400 for a malformed header, 412 for a position beyond the log's
// head (it may never come), a park (HttpResponse::park: the server waits
// without a thread and calls the handler again) the first time, and 503
// naming the position reached when the request comes back unfulfilled.
// How long a request waits for its X-Min-Position before the 503.
inline constexpr std::chrono::milliseconds kMinPositionWait{5000};
std::optional<HttpResponse> AwaitMinPosition(const HttpRequest& request,
                                             const projections::ProjectionRunner& projection);

// One page of `SELECT * FROM table WHERE where ORDER BY …` as the JSON text
// of {list, total, page, pageSize}, in one round trip with PostgreSQL
// rendering the rows (json_agg); `tiebreak` makes the order total.
std::string ListPage(pqxx::nontransaction& tx, const std::string& table, const std::string& where,
                     const Paging& paging, const std::string& tiebreak);

// A list route over one read-model table.
struct ListQuery {
  std::string table;  // Without the schema.
  std::vector<std::string> sortable;
  std::string default_sort;
  std::string tiebreak;  // Makes the order total.
  // Conditions the route already validated (trusted SQL), after " WHERE true".
  std::string conditions;
  // column = value conditions; values are quoted here.
  std::vector<std::pair<std::string, std::string>> equals;
  // column <operator> value conditions, values quoted here:
  // {"name", "ILIKE", "%gpu%"}, {"labels", "?", "team=vision"}.
  struct Compare {
    std::string column, op, value;
  };
  std::vector<Compare> compares;
  // Instead of `table`: a FROM expression, "{s}" standing for the schema
  // ("(SELECT … FROM {s}.hosts h JOIN …) machines").
  std::string from;
};

// The column = value pairs for those query parameters that are present:
// {{"status", "operational_status"}} turns ?status=x into {operational_status, x}.
std::vector<std::pair<std::string, std::string>> EqualsFromQuery(
    const HttpRequest& request, const std::vector<std::pair<std::string, std::string>>& params);

// " WHERE true AND …" for the query's conditions, values quoted.
std::string WhereOf(pqxx::nontransaction& tx, const ListQuery& query);
// What the query selects from, in `schema`.
std::string FromOf(const std::string& schema, const ListQuery& query);

// Parses paging, honours X-Min-Position against `projection`, and answers
// one page of the query in the envelope (or the error).
HttpResponse ServeList(const HttpRequest& request, ReadStore& reads,
                       const projections::ProjectionRunner& projection, const ListQuery& query);

// {host_id, gpu_indexes, ports: [{service, port}]}.
nlohmann::json PlacementJson(const domain::Placement& placement);

// Reads a JSON body's fields with `read` (Status(JsonFields&)), answering
// 400 for a body that is not a JSON object or a field `read` refuses.
template <typename Read>
std::optional<HttpResponse> ReadBody(const HttpRequest& request, Read read) {
  auto body = ParseJsonObject(request);
  if (!body.ok()) return StatusResponse(request, body.status());
  JsonFields f(*body);
  Status status = read(f);
  if (!status.ok()) return StatusResponse(request, status);
  return std::nullopt;
}

// The envelope around `data_json`, JSON text already rendered (by ListPage
// or by PostgreSQL), without parsing it again.
HttpResponse OkRawResponse(const HttpRequest& request, const std::string& data_json);

}  // namespace remotegpu::api
