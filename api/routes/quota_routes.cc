#include "api/routes/quota_routes.h"

#include "api/routes/route_helpers.h"
#include "domain/quota.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

json AmountsJson(const domain::QuotaAmounts& amounts) {
  return {{"cpu_cores", amounts.cpu_cores()},
          {"memory_mb", amounts.memory_mb()},
          {"gpu_count", amounts.gpu_count()},
          {"storage_gb", amounts.storage_gb()},
          {"environments", amounts.environments()}};
}

json OverridesJson(const domain::QuotaOverrides& o) {
  json out = json::object();
  if (o.has_cpu_cores()) out["cpu_cores"] = o.cpu_cores();
  if (o.has_memory_mb()) out["memory_mb"] = o.memory_mb();
  if (o.has_gpu_count()) out["gpu_count"] = o.gpu_count();
  if (o.has_storage_gb()) out["storage_gb"] = o.storage_gb();
  if (o.has_environments()) out["environments"] = o.environments();
  return out;
}

// {customer_id, limited, level, limits, overrides} and, `with_usage`,
// {used, available, environments: [{env_id, …amounts}]}.
json QuotaJson(const std::string& customer_id, const commands::QuotaView& view, bool with_usage) {
  json out = {{"customer_id", customer_id}, {"limited", view.set}};
  if (!view.set) return out;
  out["level"] = domain::Name(view.level);
  out["limits"] = AmountsJson(view.limits);
  out["overrides"] = OverridesJson(view.overrides);
  if (!with_usage) return out;
  out["used"] = AmountsJson(view.used);
  auto left = [](uint64_t limit, uint64_t used) { return limit > used ? limit - used : 0; };
  domain::QuotaAmounts available;
  available.set_cpu_cores(left(view.limits.cpu_cores(), view.used.cpu_cores()));
  available.set_memory_mb(left(view.limits.memory_mb(), view.used.memory_mb()));
  available.set_gpu_count(left(view.limits.gpu_count(), view.used.gpu_count()));
  available.set_storage_gb(left(view.limits.storage_gb(), view.used.storage_gb()));
  available.set_environments(left(view.limits.environments(), view.used.environments()));
  out["available"] = AmountsJson(available);
  json environments = json::array();
  for (const auto& [env_id, amounts] : view.reserved) {
    json entry = AmountsJson(amounts);
    entry.erase("environments");
    entry["env_id"] = env_id;
    environments.push_back(std::move(entry));
  }
  out["environments"] = std::move(environments);
  return out;
}

// The caller's own customer's quota; a platform admin has none (404).
HttpResponse MyQuota(QuotaApi& api, const HttpRequest& request, bool with_usage) {
  const std::string& customer_id = request.identity.customer_id;
  if (customer_id.empty()) {
    return StatusResponse(
        request,
        Status::NotFound("platform admins have no quota; see /api/admin/customers/:id/quota"));
  }
  auto view = api.quotas->Get(customer_id);
  if (!view.ok()) return StatusResponse(request, view.status());
  return OkResponse(request, QuotaJson(customer_id, *view, with_usage));
}

// {level, overrides: {cpu_cores, memory_mb, gpu_count, storage_gb, environments}}.
Status ReadQuotaForm(JsonFields& f, domain::QuotaLevel* level, domain::QuotaOverrides* overrides) {
  RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"level", "overrides"}));
  std::string name;
  RGPU_RETURN_IF_ERROR(f.String("level", &name, true));
  auto parsed = domain::ParseQuotaLevel(name);
  if (!parsed.ok()) return parsed.status();
  *level = *parsed;
  json object;
  RGPU_RETURN_IF_ERROR(f.Object("overrides", &object));
  if (object.is_null()) return Status::Ok();
  JsonFields o(object, "overrides.");
  RGPU_RETURN_IF_ERROR(
      o.OnlyAllowed({"cpu_cores", "memory_mb", "gpu_count", "storage_gb", "environments"}));
  // Each override present sets its field; absent ones keep the level's limit.
  using O = domain::QuotaOverrides;
  const struct {
    const char* name;
    int64_t max;
    void (*set)(O&, int64_t);
  } fields[] = {
      {"cpu_cores", 1'000'000, [](O& o, int64_t n) { o.set_cpu_cores(static_cast<uint32_t>(n)); }},
      {"memory_mb", int64_t{1} << 40,
       [](O& o, int64_t n) { o.set_memory_mb(static_cast<uint64_t>(n)); }},
      {"gpu_count", 1'000'000, [](O& o, int64_t n) { o.set_gpu_count(static_cast<uint32_t>(n)); }},
      {"storage_gb", int64_t{1} << 40,
       [](O& o, int64_t n) { o.set_storage_gb(static_cast<uint64_t>(n)); }},
      {"environments", 1'000'000,
       [](O& o, int64_t n) { o.set_environments(static_cast<uint32_t>(n)); }},
  };
  for (const auto& field : fields) {
    if (!o.Has(field.name)) continue;
    int64_t n = 0;
    RGPU_RETURN_IF_ERROR(o.Integer(field.name, &n, 0, field.max));
    field.set(*overrides, n);
  }
  return Status::Ok();
}

}  // namespace

void AddQuotaRoutes(Router& router, QuotaApi& api) {
  router.Add("GET", "/api/users/me/quota",
             "The caller's customer's quota: level, limits and admin overrides",
             [&api](const HttpRequest& request) { return MyQuota(api, request, false); },
             {.access = Access::kUser});

  router.Add("GET", "/api/users/me/quota/usage",
             "The caller's customer's quota with what its environments use and what is left",
             [&api](const HttpRequest& request) { return MyQuota(api, request, true); },
             {.access = Access::kUser});

  router.Add("GET", "/api/admin/customers/:id/quota", "A customer's quota and usage",
             [&api](const HttpRequest& request) {
               const std::string& id = request.params.at("id");
               if (!api.index->CustomerExists(id)) {
                 return StatusResponse(request, Status::NotFound("no customer " + id));
               }
               auto view = api.quotas->Get(id);
               if (!view.ok()) return StatusResponse(request, view.status());
               return OkResponse(request, QuotaJson(id, *view, true));
             });

  router.Add("PUT", "/api/admin/customers/:id/quota",
             "Set a customer's quota: {level (free|basic|pro|enterprise), overrides: {cpu_cores, "
             "memory_mb, gpu_count, storage_gb, environments}}; existing environments stay",
             [&api](const HttpRequest& request) {
               const std::string& id = request.params.at("id");
               domain::QuotaLevel level = domain::QUOTA_LEVEL_UNSPECIFIED;
               domain::QuotaOverrides overrides;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     return ReadQuotaForm(f, &level, &overrides);
                   })) {
                 return *bad;
               }
               if (!api.index->CustomerExists(id)) {
                 return StatusResponse(request, Status::NotFound("no customer " + id));
               }
               auto set = api.quotas->Set(id, level, overrides, MetaFor(request));
               if (!set.ok()) return StatusResponse(request, set.status());
               auto view = api.quotas->Get(id);
               if (!view.ok()) return StatusResponse(request, view.status());
               json data = QuotaJson(id, *view, true);
               data["position"] = set->last_position;
               return OkResponse(request, data);
             });
}

}  // namespace remotegpu::api
