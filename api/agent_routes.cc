#include "api/agent_routes.h"

#include <google/protobuf/util/json_util.h>

#include "api/route_helpers.h"

namespace remotegpu::api {
namespace {

// The 404 an agent gets for a host its token does not name.
std::optional<HttpResponse> NotItsHost(const HttpRequest& request) {
  const std::string& host_id = request.params.at("id");
  if (request.identity.host_id.empty() || request.identity.host_id == host_id) return std::nullopt;
  return ErrorResponse(request, 404, "NOT_FOUND", "no host " + host_id + " for this agent");
}

}  // namespace

void AddAgentRoutes(Router& router, AgentApi& api) {
  router.Add("GET", "/internal/agent/me", "The host an agent token speaks for: {host_id}",
             [](const HttpRequest& request) {
               if (request.identity.host_id.empty()) {
                 return ErrorResponse(request, 400, "INVALID_ARGUMENT", "not an agent token");
               }
               return OkResponse(request, {{"host_id", request.identity.host_id}});
             },
             {.access = Access::kAgent, .never_blocks = true});

  router.Add(
      "POST", "/internal/hosts/:id/facts",
      "An agent's report: the machine's facts and GPUs (AgentReport as JSON); changes become "
      "events",
      [&api](const HttpRequest& request) {
        if (auto refused = NotItsHost(request)) return *refused;
        domain::AgentReport report;
        auto parsed = google::protobuf::util::JsonStringToMessage(request.body, &report);
        if (!parsed.ok()) {
          return ErrorResponse(request, 400, "INVALID_ARGUMENT",
                               "not an agent report: " + std::string(parsed.message()));
        }
        auto applied =
            api.hosts->ApplyAgentReport(request.params.at("id"), report, MetaFor(request));
        if (!applied.ok()) return RefusedResponse(request, applied.status());
        return OkResponse(request, {{"host_id", request.params.at("id")},
                                    {"changed", applied->events > 0},
                                    {"position", applied->last_position}});
      },
      {.access = Access::kAgent});

  router.Add("POST", "/internal/hosts/:id/heartbeat",
             "An agent's heartbeat: the host is alive (online again if it was offline)",
             [&api](const HttpRequest& request) {
               if (auto refused = NotItsHost(request)) return *refused;
               auto beat = api.liveness->Heartbeat(request.params.at("id"), MetaFor(request));
               if (!beat.ok()) return RefusedResponse(request, beat.status());
               return OkResponse(request, {{"host_id", request.params.at("id")},
                                           {"position", beat->last_position}});
             },
             {.access = Access::kAgent});
}

}  // namespace remotegpu::api
