#include "api/routes/environment_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "projections/queries/environment_queries.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

Result<domain::SchedulingStrategy> ParseStrategy(const std::string& text) {
  if (text.empty()) return domain::SCHEDULING_STRATEGY_UNSPECIFIED;
  for (auto s : {domain::FIRST_FIT, domain::BEST_FIT, domain::LEAST_LOADED, domain::ROUND_ROBIN,
                 domain::RANDOM}) {
    if (text == domain::Name(s)) return s;
  }
  return Status::InvalidArgument(
      "strategy must be first-fit, best-fit, least-loaded, round-robin or random");
}

// The create-environment form.
Status ReadSpec(const json& body, std::string* env_id, domain::EnvironmentSpec* spec) {
  JsonFields f(body);
  RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"env_id",
                                      "name",
                                      "owner",
                                      "image",
                                      "cpu_cores",
                                      "memory_mb",
                                      "gpu_count",
                                      "gpu_model",
                                      "min_gpu_memory_mb",
                                      "region",
                                      "os",
                                      "host_id",
                                      "prefer_nvlink",
                                      "strategy",
                                      "env",
                                      "ports",
                                      "storage_gb",
                                      "workspace_id",
                                      "command",
                                      "product_spec_id"}));
  std::string text;
  int64_t number = 0;
  // With a product spec, the resources are the spec's (filled in by the route).
  RGPU_RETURN_IF_ERROR(f.String("product_spec_id", &text));
  spec->set_product_spec_id(text);
  const bool from_spec = !text.empty();
  if (from_spec) {
    for (const char* name :
         {"cpu_cores", "memory_mb", "gpu_count", "gpu_model", "min_gpu_memory_mb", "storage_gb"}) {
      if (body.contains(name)) {
        return Status::InvalidArgument(std::string(name) +
                                       " comes from the product spec; leave it out");
      }
    }
  }
  RGPU_RETURN_IF_ERROR(f.String("env_id", env_id));
  RGPU_RETURN_IF_ERROR(f.String("name", &text, true));
  spec->set_name(text);
  std::string owner;  // Optional: a customer's user creates for its own customer.
  RGPU_RETURN_IF_ERROR(f.String("owner", &owner));
  spec->set_owner(owner);
  RGPU_RETURN_IF_ERROR(f.String("image", &text, true));
  spec->set_image(text);
  RGPU_RETURN_IF_ERROR(f.Integer("cpu_cores", &number, 1, 1024, !from_spec));
  spec->set_cpu_cores(static_cast<uint32_t>(number));
  RGPU_RETURN_IF_ERROR(f.Integer("memory_mb", &number, 1, int64_t{1} << 30, !from_spec));
  spec->set_memory_mb(static_cast<uint64_t>(number));
  number = 0;
  RGPU_RETURN_IF_ERROR(f.Integer("gpu_count", &number, 0, 64));
  spec->set_gpu_count(static_cast<uint32_t>(number));
  number = 0;
  RGPU_RETURN_IF_ERROR(f.Integer("storage_gb", &number, 0, int64_t{1} << 20));
  spec->set_storage_gb(static_cast<uint64_t>(number));
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("workspace_id", &text));
  spec->set_workspace_id(text);
  auto* c = spec->mutable_constraints();
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("gpu_model", &text));
  c->set_gpu_model(text);
  number = 0;
  RGPU_RETURN_IF_ERROR(f.Integer("min_gpu_memory_mb", &number, 0, int64_t{1} << 24));
  c->set_min_gpu_memory_mb(static_cast<uint64_t>(number));
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("region", &text));
  c->set_region(text);
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("os", &text));
  c->set_os(text);
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("host_id", &text));
  c->set_host_id(text);
  bool nvlink = false;
  RGPU_RETURN_IF_ERROR(f.Boolean("prefer_nvlink", &nvlink));
  c->set_prefer_nvlink(nvlink);
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("strategy", &text));
  auto strategy = ParseStrategy(text);
  if (!strategy.ok()) return strategy.status();
  spec->set_strategy(*strategy);
  json command;
  RGPU_RETURN_IF_ERROR(f.Array("command", &command));
  if (command.is_array()) {
    if (command.size() > 256) return Status::InvalidArgument("command has more than 256 words");
    for (const auto& word : command) {
      if (!word.is_string()) return Status::InvalidArgument("command must hold strings only");
      spec->add_command(word.get<std::string>());
    }
  }
  json env;
  RGPU_RETURN_IF_ERROR(f.Object("env", &env));
  if (env.is_object()) {
    for (const auto& [key, value] : env.items()) {
      if (!value.is_string()) return Status::InvalidArgument("env." + key + " must be a string");
      auto* var = spec->add_env();
      var->set_name(key);
      var->set_value(value.get<std::string>());
    }
  }
  json ports;
  RGPU_RETURN_IF_ERROR(f.Object("ports", &ports));
  if (ports.is_object()) {
    JsonFields p(ports, "ports.");
    RGPU_RETURN_IF_ERROR(p.OnlyAllowed({"ssh", "rdp", "jupyter", "custom"}));
    const std::pair<const char*, domain::PortService> services[] = {{"ssh", domain::SSH},
                                                                    {"rdp", domain::RDP},
                                                                    {"jupyter", domain::JUPYTER},
                                                                    {"custom", domain::CUSTOM}};
    for (const auto& [name, service] : services) {
      int64_t count = 0;
      RGPU_RETURN_IF_ERROR(p.Integer(name, &count, 0, 16));
      if (count == 0) continue;
      auto* request = spec->add_ports();
      request->set_service(service);
      request->set_count(static_cast<uint32_t>(count));
    }
  }
  return Status::Ok();
}

HttpResponse Moved(const HttpRequest& request, const Result<commands::CommandResult>& done) {
  if (!done.ok()) return RefusedResponse(request, done.status());
  return OkResponse(request,
                    {{"env_id", request.params.at("id")}, {"position", done->last_position}});
}

// Whether the caller's role in `workspace_id` allows using environments
// there: nullopt when it does (or there is no workspace, or an admin asks),
// else the answer: 404 for a workspace the caller is not in, 403 for a role
// that only reads (viewer).
std::optional<HttpResponse> MayNotUseWorkspace(EnvironmentApi& api, const HttpRequest& request,
                                               const std::string& workspace_id) {
  if (workspace_id.empty() || request.identity.admin) return std::nullopt;
  const domain::WorkspaceRole role = api.access->RoleIn(workspace_id, request.identity.user_id);
  if (role == domain::WORKSPACE_ROLE_UNSPECIFIED) {
    return StatusResponse(request, Status::NotFound("no workspace " + workspace_id));
  }
  if (!domain::Allows(role, domain::WorkspaceAction::kUse)) {
    return StatusResponse(
        request, Status::PermissionDenied(std::string("a workspace ") + domain::Name(role) +
                                          " may not create or operate environments"));
  }
  return std::nullopt;
}

// The answer a caller gets instead of acting on the environment: 404 for an
// environment that is not there or not theirs (another tenant's is not
// revealed to exist), 403 when its workspace role only reads.
std::optional<HttpResponse> MayNotUse(EnvironmentApi& api, const HttpRequest& request) {
  const std::string& id = request.params.at("id");
  if (request.identity.admin) return std::nullopt;
  auto spec = api.environments->SpecOf(id);
  if (spec.ok() && MayAccess(request, spec->owner())) {
    return MayNotUseWorkspace(api, request, spec->workspace_id());
  }
  if (!spec.ok() && spec.status().code() != StatusCode::kNotFound) {
    return StatusResponse(request, spec.status());
  }
  return StatusResponse(request, Status::NotFound("no environment " + id));
}

}  // namespace

void AddEnvironmentRoutes(Router& router, EnvironmentApi& api) {
  router.Add(
      "POST", "/api/environments", "Create an environment and place it",
      [&api](const HttpRequest& request) {
        auto body = ParseJsonObject(request);
        if (!body.ok()) return StatusResponse(request, body.status());
        std::string env_id;
        domain::EnvironmentSpec spec;
        Status read = ReadSpec(*body, &env_id, &spec);
        if (!read.ok()) return StatusResponse(request, read);
        // A customer's user creates for its own customer; an admin names the owner.
        if (!request.identity.admin) {
          if (spec.owner().empty()) spec.set_owner(request.identity.customer_id);
          if (spec.owner() != request.identity.customer_id) {
            return StatusResponse(request,
                                  Status::PermissionDenied("owner must be your own customer, " +
                                                           request.identity.customer_id));
          }
        } else if (spec.owner().empty()) {
          return StatusResponse(request, Status::InvalidArgument("owner is required"));
        }
        if (!spec.workspace_id().empty()) {
          if (auto refused = MayNotUseWorkspace(api, request, spec.workspace_id())) {
            return *refused;
          }
          const auto workspace = api.access->Workspace(spec.workspace_id());
          if (!workspace) {
            return StatusResponse(request, Status::NotFound("no workspace " + spec.workspace_id()));
          }
          if (workspace->info.customer_id() != spec.owner()) {
            return ErrorResponse(request, 422, "UNPROCESSABLE",
                                 spec.workspace_id() + " is not a workspace of " + spec.owner());
          }
        }
        if (!spec.product_spec_id().empty()) {
          // Customers order listed specs only; another is "not found" to them.
          auto product = api.specs->Get(spec.product_spec_id());
          if (!product.ok() || (!request.identity.admin && !product->state.spec.listed())) {
            return StatusResponse(request,
                                  Status::NotFound("no product spec " + spec.product_spec_id()));
          }
          domain::ApplyProductSpec(product->state.spec, &spec);
        }
        if (env_id.empty()) env_id = "env-" + api.ids->NewId().ToString();
        auto placed = api.environments->Create(env_id, spec, MetaFor(request));
        if (!placed.ok()) return RefusedResponse(request, placed.status());
        return OkResponse(request,
                          {{"env_id", env_id},
                           {"status", "scheduled"},
                           {"placement", PlacementJson(placed->placement)},
                           {"strategy", domain::Name(placed->strategy)},
                           {"position", placed->env.last_position}},
                          201);
      },
      {.access = Access::kUser});

  router.Add("GET", "/api/environments",
             "List environments; filters owner, status, host_id, workspace_id",
             [&api](const HttpRequest& request) {
               queries::EnvironmentFilter filter{.owner = QueryIfGiven(request, "owner"),
                                                 .status = request.Query("status"),
                                                 .host_id = request.Query("host_id"),
                                                 .workspace_id = request.Query("workspace_id")};
               // A customer's user lists its own customer's only.
               if (!request.identity.admin) filter.owner = request.identity.customer_id;
               return ServeList(request, *api.projection, queries::kEnvironmentList,
                                [&](const queries::Paging& paging) {
                                  return queries::ListEnvironments(*api.reads, filter, paging);
                                });
             },
             {.access = Access::kUser,
              .cache = api.cache,
              .query = {{"owner", "a customer id (admins)"},
                        {"status", "environment status"},
                        {"host_id", "host id"},
                        {"workspace_id", "workspace id"}},
              .paged = &queries::kEnvironmentList});

  router.Add("GET", "/api/environments/:id", "Environment detail",
             [&api](const HttpRequest& request) {
               if (auto wait = AwaitMinPosition(request, *api.projection)) return *wait;
               std::optional<std::string> owner;  // A customer's user sees its own only.
               if (!request.identity.admin) owner = request.identity.customer_id;
               const std::string& id = request.params.at("id");
               return FoundResponse(request, queries::EnvironmentDetail(*api.reads, id, owner),
                                    "environment " + id);
             },
             {.access = Access::kUser, .cache = api.cache});

  router.Add(
      "GET", "/api/scheduler/history",
      "Scheduling history: every placement and failure; filters env_id, result",
      [&api](const HttpRequest& request) {
        const queries::SchedulingFilter filter{request.Query("env_id"), request.Query("result")};
        return ServeList(request, *api.projection, queries::kSchedulingHistory,
                         [&](const queries::Paging& paging) {
                           return queries::ListSchedulingHistory(*api.reads, filter, paging);
                         });
      },
      {.cache = api.cache,
       .query = {{"env_id", "environment id"}, {"result", "placed or failed"}},
       .paged = &queries::kSchedulingHistory});

  router.Add("POST", "/api/environments/:id/start", "Place a stopped or failed environment again",
             [&api](const HttpRequest& request) {
               if (auto refused = MayNotUse(api, request)) return *refused;
               auto placed = api.environments->Start(request.params.at("id"), MetaFor(request));
               if (!placed.ok()) return RefusedResponse(request, placed.status());
               return OkResponse(request, {{"env_id", request.params.at("id")},
                                           {"placement", PlacementJson(placed->placement)},
                                           {"position", placed->env.last_position}});
             },
             {.access = Access::kUser});

  // A stop completes at once on the server: stopping, then stopped, which
  // gives the GPUs and ports back; the host's agent then ends the workload
  // (it is no longer among the host's desired environments).
  router.Add("POST", "/api/environments/:id/stop",
             "Stop an environment, releasing its GPUs and ports",
             [&api](const HttpRequest& request) {
               if (auto refused = MayNotUse(api, request)) return *refused;
               return Moved(request, api.environments->Release(request.params.at("id"), "",
                                                               "stop requested", MetaFor(request)));
             },
             {.access = Access::kUser});

  // What a host agent reports about the runtime (issue: host agent): the
  // container or process started, runs, failed or stopped.
  router.Add(
      "POST", "/internal/environments/:id/status",
      "Runtime report from a host agent: starting, running, failed or stopped",
      [&api](const HttpRequest& request) {
        // An agent reports only on environments placed on its host.
        if (const std::string& host = request.identity.host_id; !host.empty()) {
          auto placed = api.environments->PlacedOn(request.params.at("id"));
          if (!placed.ok() || *placed != host) {
            return StatusResponse(
                request,
                Status::NotFound("no environment " + request.params.at("id") + " on " + host));
          }
        }
        auto body = ParseJsonObject(request);
        if (!body.ok()) return StatusResponse(request, body.status());
        JsonFields f(*body);
        std::string status, reason;
        Status read = f.OnlyAllowed({"status", "reason"});
        if (read.ok()) read = f.String("status", &status, true);
        if (read.ok()) read = f.String("reason", &reason);
        if (!read.ok()) return StatusResponse(request, read);
        const std::pair<const char*, domain::EnvironmentStatus> reports[] = {
            {"starting", domain::STARTING},
            {"running", domain::RUNNING},
            {"failed", domain::FAILED}};
        if (status == "stopped") {
          // Ended on its own: stopping, then stopped, giving the placement back.
          return Moved(request,
                       api.environments->Release(request.params.at("id"), request.identity.host_id,
                                                 reason.empty() ? "reported stopped" : reason,
                                                 MetaFor(request)));
        }
        for (const auto& [name, to] : reports) {
          if (status != name) continue;
          return Moved(request,
                       api.environments->ChangeStatus(
                           request.params.at("id"), to,
                           reason.empty() ? "reported " + status : reason, MetaFor(request)));
        }
        return StatusResponse(request, Status::InvalidArgument(
                                           "status must be starting, running, failed or stopped"));
      },
      {.access = Access::kAgent});

  // A restart completes at once on the server (restarting, then running);
  // the environment's restart count grows, and the host's agent restarts the
  // workload when it sees the new generation.
  router.Add("POST", "/api/environments/:id/restart", "Restart a running environment in place",
             [&api](const HttpRequest& request) {
               if (auto refused = MayNotUse(api, request)) return *refused;
               const std::string& id = request.params.at("id");
               auto restarting = api.environments->ChangeStatus(
                   id, domain::RESTARTING, "restart requested", MetaFor(request));
               if (!restarting.ok()) return RefusedResponse(request, restarting.status());
               return Moved(request, api.environments->ChangeStatus(id, domain::RUNNING,
                                                                    "restarted", MetaFor(request)));
             },
             {.access = Access::kUser});

  router.Add("GET", "/api/environments/:id/access",
             "How to reach an environment: SSH host, port, user; the password only to its owner "
             "or an admin",
             [&api](const HttpRequest& request) {
               if (auto refused = MayNotUse(api, request)) return *refused;
               auto access = api.environments->AccessOf(
                   request.params.at("id"),
                   [&](const std::string& owner) { return MayAccess(request, owner); });
               if (!access.ok()) return RefusedResponse(request, access.status());
               json data = {{"env_id", request.params.at("id")},
                            {"status", domain::Name(access->status)},
                            {"ssh_host", access->info.ssh_host()},
                            {"ssh_port", access->info.ssh_port()},
                            {"username", access->info.ssh_user()},
                            {"password", access->password ? json(*access->password) : json()}};
               if (access->info.ssh_port() != 0) {
                 data["ssh_command"] = "ssh -p " + std::to_string(access->info.ssh_port()) + " " +
                                       access->info.ssh_user() + "@" + access->info.ssh_host();
               }
               return OkResponse(request, data);
             },
             {.access = Access::kUser});

  router.Add("DELETE", "/api/environments/:id", "Delete an environment, releasing everything",
             [&api](const HttpRequest& request) {
               if (auto refused = MayNotUse(api, request)) return *refused;
               return Moved(request,
                            api.environments->ChangeStatus(request.params.at("id"), domain::DELETED,
                                                           "deleted", MetaFor(request)));
             },
             {.access = Access::kUser});
}

}  // namespace remotegpu::api
