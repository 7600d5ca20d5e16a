#include "api/routes/stream_routes.h"

#include <set>
#include <string>
#include <vector>

#include "api/http/envelope.h"
#include "api/http/router.h"

namespace remotegpu::api {
namespace {

// Comma-separated items of a query parameter: at most `most`, each 1 to 128
// of [A-Za-z0-9_.:-] (an id or a prefix); InvalidArgument otherwise.
Result<std::vector<std::string>> CommaList(const HttpRequest& request, const std::string& name,
                                           size_t most) {
  std::vector<std::string> items;
  const std::string value = request.Query(name);
  size_t start = 0;
  while (!value.empty() && start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string item = value.substr(start, comma - start);
    if (!UsablePathParameter(item) || items.size() == most) {
      return Status::InvalidArgument(name + " must be up to " + std::to_string(most) +
                                     " comma-separated items of [A-Za-z0-9_.:-]");
    }
    items.push_back(std::move(item));
    start = comma + 1;
  }
  return items;
}

// The view a request for /ws/events asks for: ?prefix= and ?type= (at most
// 16 items each), scoped to the caller's customer unless an admin.
Result<EventFeed::View> ViewOf(const HttpRequest& request) {
  EventFeed::View view;
  if (!request.identity.admin) {
    if (request.identity.customer_id.empty()) {
      return Status::PermissionDenied("the event feed is for admins and customers' users");
    }
    view.customer_id = request.identity.customer_id;
  }
  auto prefixes = CommaList(request, "prefix", 16);
  if (!prefixes.ok()) return prefixes.status();
  auto types = CommaList(request, "type", 16);
  if (!types.ok()) return types.status();
  view.prefixes = std::move(*prefixes);
  view.types = std::move(*types);
  return view;
}

HttpResponse OpenEvents(StreamApi& api, const HttpRequest& request) {
  auto view = ViewOf(request);
  if (!view.ok()) return StatusResponse(request, view.status());
  // From now on: the position is fixed before the upgrade is answered, so
  // every event committed after the client sees the upgrade reaches it.
  uint64_t from = api.store->LastPosition() + 1;
  if (const std::string text = request.Query("from"); !text.empty()) {
    if (text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19 ||
        text == "0" || text.find_first_not_of('0') == std::string::npos) {
      return StatusResponse(request,
                            Status::InvalidArgument("from must be a log position (1 or more)"));
    }
    from = std::stoull(text);
    if (const uint64_t next = api.store->LastPosition() + 1; from > next) {
      return StatusResponse(
          request, Status::OutOfRange("from " + text + " is beyond the log's next position, " +
                                      std::to_string(next)));
    }
  }
  // Customers' callers are limited; admins (an operator's console, a
  // monitoring system) are not.
  const Identity& who = request.identity;
  std::string caller = who.admin ? "" : who.api_key_id.empty() ? who.user_id : who.api_key_id;
  if (!api.feed->MayOpen(caller)) {
    return ErrorResponse(request, 429, "RATE_LIMITED",
                         "at most " + std::to_string(EventFeed::kMaxPerCaller) +
                             " event streams per caller; close one first");
  }
  HttpResponse response;
  response.open = [feed = api.feed, view = std::move(*view), from,
                   caller = std::move(caller)](std::shared_ptr<StreamPeer> peer) {
    if (!feed->Subscribe(peer, view, from, caller).ok()) peer->Close();
  };
  return response;
}

HttpResponse OpenMonitoring(StreamApi& api, const HttpRequest& request) {
  auto listed = CommaList(request, "host_id", 64);
  if (!listed.ok()) return StatusResponse(request, listed.status());
  std::set<std::string> hosts(listed->begin(), listed->end());
  HttpResponse response;
  response.open = [metrics = api.metrics,
                   hosts = std::move(hosts)](std::shared_ptr<StreamPeer> peer) {
    metrics->Subscribe(std::move(peer), hosts);
  };
  return response;
}

// The messages of /ws/events (JSON Schema): first "subscribed", then
// batches of events in the audit export's shape (queries/event_json.h).
constexpr const char* kEventMessages = R"json({
  "oneOf": [
    {"type": "object", "required": ["type", "from"],
     "properties": {"type": {"const": "subscribed"},
                    "from": {"type": "integer", "description": "the first log position sent"}}},
    {"type": "object", "required": ["type", "events"],
     "properties": {"type": {"const": "events"},
                    "events": {"type": "array", "items": {
       "type": "object",
       "required": ["position", "stream_id", "stream_version", "event_id", "type",
                    "occurred_at", "recorded_at", "actor", "data", "prev_hash", "hash"],
       "properties": {
         "position": {"type": "integer"}, "stream_id": {"type": "string"},
         "stream_version": {"type": "integer"}, "event_id": {"type": "string"},
         "type": {"type": "string"}, "schema_version": {"type": "integer"},
         "occurred_at": {"type": "string", "format": "date-time"},
         "recorded_at": {"type": "string", "format": "date-time"},
         "actor": {"type": "object", "properties": {
           "kind": {"type": "string", "enum": ["user", "api_key", "agent", "system", "unspecified"]},
           "id": {"type": "string"}, "name": {"type": "string"}}},
         "correlation_id": {"type": "string"}, "causation_id": {"type": "string"},
         "trace_id": {"type": "string"},
         "data": {"description": "the domain event, protobuf field names; null for a kind this build does not know"},
         "prev_hash": {"type": "string"}, "hash": {"type": "string"}}}}}}
  ]})json";

// The messages of /ws/admin/monitoring: one per metrics batch an agent posts.
constexpr const char* kMetricsMessages = R"json({
  "type": "object", "required": ["type", "host_id", "samples"],
  "properties": {
    "type": {"const": "metrics"},
    "host_id": {"type": "string"},
    "samples": {"type": "array", "items": {"type": "object",
      "description": "a domain.HostSample in protobuf's JSON form, field names as in domain/proto/metrics.proto"}},
    "dropped": {"type": "integer", "description": "samples the agent's buffer let go"}}})json";

}  // namespace

void AddStreamRoutes(Router& router, StreamApi& api) {
  router.Add("GET", "/ws/events",
             "The caller's events live over a WebSocket (or text/event-stream): messages "
             "{type: events, events: [...]}; ?prefix=, ?type= (comma-separated), ?from= (a log "
             "position to resume from); the token may be sent as ?access_token=",
             [&api](const HttpRequest& request) { return OpenEvents(api, request); },
             {.access = Access::kUser,
              .never_blocks = true,
              .query = {{"prefix", "stream id prefixes, comma-separated (at most 16)"},
                        {"type", "event types, comma-separated (at most 16)"},
                        {"from", "the log position to start from (default: the next one)"},
                        {"access_token", "the access token, for clients that cannot set headers"}},
              .messages = kEventMessages});
  router.Add(
      "GET", "/ws/admin/monitoring",
      "Live host and GPU metrics as agents post them, over a WebSocket (or text/event-stream): "
      "messages {type: metrics, host_id, samples: [...]}; ?host_id= (comma-separated) to watch "
      "some hosts",
      [&api](const HttpRequest& request) { return OpenMonitoring(api, request); },
      {.access = Access::kAdmin,
       .never_blocks = true,
       .query = {{"host_id", "host ids to watch, comma-separated (at most 64; default: all)"},
                 {"access_token", "the access token, for clients that cannot set headers"}},
       .messages = kMetricsMessages});
}

}  // namespace remotegpu::api
