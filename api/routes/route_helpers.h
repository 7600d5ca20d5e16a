// What every route over the command side and the read models shares.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/http_types.h"
#include "api/http/json_fields.h"
#include "commands/aggregate.h"
#include "projections/projection_runner.h"
#include "projections/queries/paging.h"

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

// Parses paging against `shape`, honours X-Min-Position against
// `projection`, and answers the page `list` reads (JSON text) in the
// envelope, or the error.
HttpResponse ServeList(const HttpRequest& request, const projections::ProjectionRunner& projection,
                       const queries::ListShape& shape,
                       const std::function<Result<std::string>(const queries::Paging&)>& list);

// What a detail query found, in the envelope: its JSON text, a 404 saying
// `what` was not found, or the error.
HttpResponse FoundResponse(const HttpRequest& request,
                           const Result<std::optional<std::string>>& found,
                           const std::string& what);

// The value of query parameter `name`, or nullopt when absent or empty.
std::optional<std::string> QueryIfGiven(const HttpRequest& request, const std::string& name);

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

// The envelope around `data_json`, JSON text already rendered (by a query),
// without parsing it again.
HttpResponse OkRawResponse(const HttpRequest& request, const std::string& data_json);

}  // namespace remotegpu::api
