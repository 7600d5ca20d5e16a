#include "api/routes/scheduler_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "projections/queries/cmdb_queries.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

// The body of a place or release request: env_id, and host_id when
// `host_field`; nothing else.
Status ReadTarget(const HttpRequest& request, bool host_field, std::string* env_id,
                  std::string* host_id) {
  auto body = ParseJsonObject(request);
  if (!body.ok()) return body.status();
  JsonFields f(*body);
  RGPU_RETURN_IF_ERROR(host_field ? f.OnlyAllowed({"env_id", "host_id"})
                                  : f.OnlyAllowed({"env_id"}));
  RGPU_RETURN_IF_ERROR(f.String("env_id", env_id, true));
  if (host_field) RGPU_RETURN_IF_ERROR(f.String("host_id", host_id, true));
  return Status::Ok();
}

HttpResponse Placed(const HttpRequest& request, const std::string& env_id,
                    const Result<commands::PlacementResult>& placed) {
  if (!placed.ok()) return RefusedResponse(request, placed.status());
  json data = PlacementJson(placed->placement);
  data["status"] = "success";
  data["env_id"] = env_id;
  data["strategy"] = domain::Name(placed->strategy);
  data["position"] = placed->env.last_position;
  return OkResponse(request, data);
}

HttpResponse Released(const HttpRequest& request, const std::string& env_id,
                      const Result<commands::CommandResult>& released) {
  if (!released.ok()) return RefusedResponse(request, released.status());
  return OkResponse(
      request, {{"status", "success"}, {"env_id", env_id}, {"position", released->last_position}});
}

json PolicyJson(const commands::SchedulerIndex::PolicyView& view) {
  json config = json::parse(view.policy.config_json(), nullptr, /*allow_exceptions=*/false);
  return {{"id", view.id},
          {"name", view.id},
          {"strategy", domain::Name(view.policy.strategy())},
          {"enabled", view.policy.enabled()},
          {"priority", view.policy.priority()},
          {"config", config.is_discarded() ? json::object() : config},
          {"effective", view.effective},
          {"version", view.version}};
}

}  // namespace

void AddSchedulerRoutes(Router& router, SchedulerApi& api) {
  router.Add("POST", "/internal/scheduler/schedule",
             "Place an existing environment that holds nothing: {env_id}",
             [&api](const HttpRequest& request) {
               std::string env_id, unused;
               Status read = ReadTarget(request, false, &env_id, &unused);
               if (!read.ok()) return StatusResponse(request, read);
               return Placed(request, env_id, api.environments->Start(env_id, MetaFor(request)));
             });

  router.Add("POST", "/internal/scheduler/release",
             "Give back an environment's GPUs, CPU, memory and ports: {env_id, host_id}",
             [&api](const HttpRequest& request) {
               std::string env_id, host_id;
               Status read = ReadTarget(request, true, &env_id, &host_id);
               if (!read.ok()) return StatusResponse(request, read);
               return Released(request, env_id,
                               api.environments->Release(env_id, host_id, "released by scheduler",
                                                         MetaFor(request)));
             });

  router.Add("POST", "/api/cmdb/servers/:id/allocate",
             "Place an existing environment that holds nothing on this server: {env_id}",
             [&api](const HttpRequest& request) {
               std::string env_id, unused;
               Status read = ReadTarget(request, false, &env_id, &unused);
               if (!read.ok()) return StatusResponse(request, read);
               return Placed(
                   request, env_id,
                   api.environments->Start(env_id, MetaFor(request), request.params.at("id")));
             });

  router.Add("POST", "/api/cmdb/servers/:id/release",
             "Give back what an environment holds on this server: {env_id}",
             [&api](const HttpRequest& request) {
               std::string env_id, unused;
               Status read = ReadTarget(request, false, &env_id, &unused);
               if (!read.ok()) return StatusResponse(request, read);
               return Released(
                   request, env_id,
                   api.environments->Release(env_id, request.params.at("id"),
                                             "released on the server", MetaFor(request)));
             });

  router.Add("GET", "/api/scheduler/ports/usage",
             "Port pools by service: total, used, available; filter host_id",
             [&api](const HttpRequest& request) {
               if (auto wait = AwaitMinPosition(request, *api.cmdb_projection)) return *wait;
               auto usage = queries::PortUsage(*api.reads, request.Query("host_id"));
               if (!usage.ok()) return StatusResponse(request, usage.status());
               return OkRawResponse(request, *usage);
             },
             {.cache = api.cmdb_cache, .query = {{"host_id", "one host only"}}});

  router.Add(
      "GET", "/api/scheduler/policies",
      "Scheduling policies; the enabled one with the highest priority is the default strategy",
      [&api](const HttpRequest& request) {
        json list = json::array();
        for (const auto& view : api.index->Policies()) list.push_back(PolicyJson(view));
        return OkResponse(
            request,
            {{"list", list}, {"total", list.size()}, {"page", 1}, {"pageSize", list.size()}});
      },
      {.never_blocks = true});

  router.Add("PUT", "/api/scheduler/policies/:id",
             "Update a policy: {enabled, priority, config, reason}",
             [&api](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               JsonFields f(*body);
               domain::UpdatePolicy update;
               bool enabled = false;
               int64_t priority = 0;
               json config;
               std::string reason;
               Status read = f.OnlyAllowed({"enabled", "priority", "config", "reason"});
               if (read.ok() && body->contains("enabled")) {
                 read = f.Boolean("enabled", &enabled);
                 update.set_enabled(enabled);
               }
               if (read.ok() && body->contains("priority")) {
                 read = f.Integer("priority", &priority, 0, domain::kPolicyMaxPriority);
                 update.set_priority(static_cast<int32_t>(priority));
               }
               if (read.ok() && body->contains("config")) {
                 read = f.Object("config", &config);
                 update.set_config_json(config.dump());
               }
               if (read.ok()) read = f.String("reason", &reason);
               if (!read.ok()) return StatusResponse(request, read);
               update.set_reason(reason);
               auto done = api.policies->Update(request.params.at("id"), update, MetaFor(request));
               if (!done.ok()) return RefusedResponse(request, done.status());
               for (const auto& view : api.index->Policies()) {
                 if (view.id != request.params.at("id")) continue;
                 json data = PolicyJson(view);
                 data["position"] = done->last_position;
                 return OkResponse(request, data);
               }
               return ErrorResponse(request, 500, "INTERNAL", "the updated policy vanished");
             });
}

}  // namespace remotegpu::api
