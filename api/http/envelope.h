// The response envelope of seed 02 §4.5.3: {code, message, data, traceId}.
// `code` is a number either way: 0 on success, on an error seed 02's code,
// the HTTP status (400, 401, 403, 404, 409, 422, 429, 500, 503, and the
// few the protocol adds: 405, 412, 413, 415, 431, 501). An error also
// carries `reason`, a stable word a program can branch on where one status
// covers several causes ("VERSION_CONFLICT" or "NO_CAPACITY" for a 409,
// "QUOTA_EXCEEDED" for a 403). `message` is a sentence a person can act on.
// Lists are {list, total, page, pageSize}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/http/http_types.h"
#include "api/http/router.h"
#include "common/status.h"
#include "projections/queries/paging.h"

namespace remotegpu::api {

HttpResponse OkResponse(const HttpRequest& request, nlohmann::json data, int status = 200);
// {code: status, reason, message, data, traceId}; `data` (null unless
// given) carries what a program needs beside the reason.
HttpResponse ErrorResponse(const HttpRequest& request, int status, const std::string& reason,
                           const std::string& message, nlohmann::json data = nullptr);
// Maps an expected failure to its HTTP status and reason: InvalidArgument 400,
// NotFound 404, AlreadyExists / VersionConflict / FailedPrecondition /
// ResourceExhausted 409, Unauthenticated 401, PermissionDenied 403 FORBIDDEN,
// QuotaExceeded 403 QUOTA_EXCEEDED, OutOfRange 412 PRECONDITION_FAILED (a
// position the log has not reached), Unavailable 503, anything else 500.
HttpResponse StatusResponse(const HttpRequest& request, const Status& status);

// A command the domain refused: like StatusResponse, except that
// InvalidArgument (a well-formed request that breaks a domain rule) is 422
// UNPROCESSABLE rather than 400, which is kept for malformed requests
// (syntax, types, unknown or missing fields).
HttpResponse RefusedResponse(const HttpRequest& request, const Status& status);

// How deep a request's JSON may nest: objects and arrays inside one another.
// No route's body needs more than a few levels; past this a recursive copy
// or walk of the parsed document could exhaust a worker's stack.
inline constexpr int kMaxJsonDepth = 32;

// Middleware, the one rule for every route's body before any handler sees
// it: a body whose Content-Type is not JSON gets 415; a JSON body that is
// not UTF-8, nests deeper than kMaxJsonDepth or holds a NUL character
// (\u0000, which no field needs and PostgreSQL's text cannot store) gets
// 400. The size is bounded by the server's body limit (413) before this runs.
std::optional<HttpResponse> CheckJsonBodies(HttpRequest& request, const RouteOptions&);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing past U+10FFFF).
bool IsUtf8(std::string_view text);

// Why `text` is unfit to parse, without parsing it: arrays and objects
// nested deeper than `max_depth` (brackets inside strings do not count), or
// a \u0000 escape in a string. nullopt when neither. One pass, no
// allocation unless it answers.
std::optional<std::string> UnsafeJson(std::string_view text, int max_depth);

using queries::Paging;
// Reads page, pageSize, sortBy and order; InvalidArgument naming the field
// when one is malformed. `sortable` lists the accepted sortBy values.
Result<Paging> ParsePaging(const HttpRequest& request, const std::vector<std::string>& sortable,
                           const std::string& default_sort);
// The same for a list query's shape.
inline Result<Paging> ParsePaging(const HttpRequest& request, const queries::ListShape& shape) {
  return ParsePaging(request, shape.sortable, shape.default_sort);
}

// The body as a JSON object, or InvalidArgument saying why not.
Result<nlohmann::json> ParseJsonObject(const HttpRequest& request);

}  // namespace remotegpu::api
