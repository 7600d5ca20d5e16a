#include "api/routes/route_helpers.h"

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

HttpResponse ServeList(const HttpRequest& request, const projections::ProjectionRunner& projection,
                       const queries::ListShape& shape,
                       const std::function<Result<std::string>(const queries::Paging&)>& list) {
  auto paging = ParsePaging(request, shape);
  if (!paging.ok()) return StatusResponse(request, paging.status());
  if (auto wait = AwaitMinPosition(request, projection)) return *wait;
  auto page = list(*paging);
  if (!page.ok()) return StatusResponse(request, page.status());
  return OkRawResponse(request, *page);
}

HttpResponse FoundResponse(const HttpRequest& request,
                           const Result<std::optional<std::string>>& found,
                           const std::string& what) {
  if (!found.ok()) return StatusResponse(request, found.status());
  if (!*found) return StatusResponse(request, Status::NotFound("no " + what));
  return OkRawResponse(request, **found);
}

std::optional<std::string> QueryIfGiven(const HttpRequest& request, const std::string& name) {
  std::string value = request.Query(name);
  if (value.empty()) return std::nullopt;
  return value;
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
