// The response envelope of seed 02 §4.5.3: {code, message, data, traceId}.
// `code` is 0 on success and a stable machine-readable string on errors
// ("INVALID_ARGUMENT", "NOT_FOUND", …); `message` is a sentence a person can
// act on. Lists are {list, total, page, pageSize}.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_types.h"
#include "api/router.h"
#include "common/status.h"

namespace remotegpu::api {

HttpResponse OkResponse(const HttpRequest& request, nlohmann::json data, int status = 200);
HttpResponse ErrorResponse(const HttpRequest& request, int status, const std::string& code,
                           const std::string& message);
// Maps an expected failure to its HTTP status and code: InvalidArgument 400,
// NotFound 404, AlreadyExists / VersionConflict / FailedPrecondition /
// ResourceExhausted 409, Unauthenticated 401, PermissionDenied 403 FORBIDDEN,
// QuotaExceeded 403 QUOTA_EXCEEDED, Unavailable 503, anything else 500.
HttpResponse StatusResponse(const HttpRequest& request, const Status& status);

// A command the domain refused: like StatusResponse, except that
// InvalidArgument (a well-formed request that breaks a domain rule) is 422
// UNPROCESSABLE rather than 400, which is kept for malformed requests
// (syntax, types, unknown or missing fields).
HttpResponse RefusedResponse(const HttpRequest& request, const Status& status);

// Middleware: a request with a body whose Content-Type is not JSON gets 415.
std::optional<HttpResponse> RejectNonJsonBodies(HttpRequest& request, const RouteOptions&);

struct Paging {
  int page = 1;
  int page_size = 20;
  std::string sort_by;
  bool descending = false;
};
// Reads page, pageSize, sortBy and order; InvalidArgument naming the field
// when one is malformed. `sortable` lists the accepted sortBy values.
Result<Paging> ParsePaging(const HttpRequest& request, const std::vector<std::string>& sortable,
                           const std::string& default_sort);

// The body as a JSON object, or InvalidArgument saying why not.
Result<nlohmann::json> ParseJsonObject(const HttpRequest& request);

}  // namespace remotegpu::api
