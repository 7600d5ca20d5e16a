#include "api/routes/spec_routes.h"

#include "api/routes/route_helpers.h"
#include "domain/money.h"

namespace remotegpu::api {
namespace {

using json = nlohmann::json;

// The spec's fields of a create or edit form.
Status ReadProductSpec(const JsonFields& f, domain::ProductSpec* spec) {
  std::string text;
  RGPU_RETURN_IF_ERROR(f.String("name", &text, true));
  spec->set_name(text);
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("gpu_model", &text));
  spec->set_gpu_model(text);
  text.clear();
  RGPU_RETURN_IF_ERROR(f.String("remark", &text));
  spec->set_remark(text);
  const std::pair<const char*, void (domain::ProductSpec::*)(uint32_t)> numbers[] = {
      {"gpu_count", &domain::ProductSpec::set_gpu_count},
      {"gpu_memory_gb", &domain::ProductSpec::set_gpu_memory_gb},
      {"cpu_cores", &domain::ProductSpec::set_cpu_cores},
      {"memory_gb", &domain::ProductSpec::set_memory_gb},
      {"system_disk_gb", &domain::ProductSpec::set_system_disk_gb},
      {"data_disk_gb", &domain::ProductSpec::set_data_disk_gb}};
  for (const auto& [name, set] : numbers) {
    int64_t number = 0;
    const bool required = std::string(name) == "cpu_cores" || std::string(name) == "memory_gb";
    RGPU_RETURN_IF_ERROR(f.Integer(name, &number, 0, 1'000'000, required));
    (spec->*set)(static_cast<uint32_t>(number));
  }
  bool flag = false;
  RGPU_RETURN_IF_ERROR(f.Boolean("gpu_memory_slicing", &flag));
  spec->set_gpu_memory_slicing(flag);
  flag = true;  // Listed unless said otherwise (seed 04: 默认上架).
  RGPU_RETURN_IF_ERROR(f.Boolean("listed", &flag));
  spec->set_listed(flag);
  return Status::Ok();
}

// The spec form's fields, and `more`.
std::set<std::string> SpecFieldsAnd(std::initializer_list<const char*> more) {
  std::set<std::string> fields = {
      "name",      "gpu_model", "gpu_count",      "gpu_memory_gb", "gpu_memory_slicing",
      "cpu_cores", "memory_gb", "system_disk_gb", "data_disk_gb",  "listed",
      "remark"};
  fields.insert(more.begin(), more.end());
  return fields;
}

// Customers see listed specs only; another spec is "not found" to them.
bool MaySee(const HttpRequest& request, const domain::SpecState& state) {
  return request.identity.admin || state.spec.listed();
}

}  // namespace

json SpecJson(const std::string& spec_id, const domain::SpecState& state, uint64_t version,
              int64_t now_us) {
  const domain::ProductSpec& s = state.spec;
  json prices = json::array();
  for (const auto& point : state.prices) {
    prices.push_back({{"effective_at", FormatRfc3339(point.effective_at_us)},
                      {"price_per_hour", domain::FormatYuan(point.fen)}});
  }
  return {{"spec_id", spec_id},
          {"name", s.name()},
          {"gpu_model", s.gpu_model()},
          {"gpu_count", s.gpu_count()},
          {"gpu_memory_gb", s.gpu_memory_gb()},
          {"gpu_memory_slicing", s.gpu_memory_slicing()},
          {"cpu_cores", s.cpu_cores()},
          {"memory_gb", s.memory_gb()},
          {"system_disk_gb", s.system_disk_gb()},
          {"data_disk_gb", s.data_disk_gb()},
          {"listed", s.listed()},
          {"remark", s.remark()},
          {"price_per_hour", domain::FormatYuan(domain::PriceAt(state, now_us))},
          {"currency", domain::kCurrency},
          {"prices", prices},
          {"version", version}};
}

void AddSpecRoutes(Router& router, SpecApi& api) {
  router.Add(
      "POST", "/api/specs",
      "Create a product spec (admin): name, gpu_model, gpu_count (0: CPU only), gpu_memory_gb, "
      "gpu_memory_slicing, cpu_cores, memory_gb, system_disk_gb, data_disk_gb, listed, remark, "
      "price_per_hour (yuan as text, \"12.50\"); spec_id optional",
      [&api](const HttpRequest& request) {
        std::string spec_id;
        domain::ProductSpec spec;
        int64_t fen = 0;
        if (auto refused = ReadBody(request, [&](JsonFields& f) {
              RGPU_RETURN_IF_ERROR(f.OnlyAllowed(SpecFieldsAnd({"spec_id", "price_per_hour"})));
              RGPU_RETURN_IF_ERROR(f.String("spec_id", &spec_id));
              RGPU_RETURN_IF_ERROR(f.Yuan("price_per_hour", &fen, true));
              return ReadProductSpec(f, &spec);
            })) {
          return *refused;
        }
        if (spec_id.empty()) spec_id = "spec-" + api.ids->NewId().ToString();
        auto created = api.specs->Create(spec_id, spec, fen, MetaFor(request));
        if (!created.ok()) return RefusedResponse(request, created.status());
        auto loaded = api.specs->Get(spec_id);
        if (!loaded.ok()) return RefusedResponse(request, loaded.status());
        return OkResponse(request,
                          SpecJson(spec_id, loaded->state, loaded->version, api.clock->NowMicros()),
                          201);
      });

  router.Add("GET", "/api/specs",
             "Product specs: customers see the listed ones; admins all (?listed=true to filter)",
             [&api](const HttpRequest& request) {
               const bool listed_only =
                   !request.identity.admin || request.Query("listed") == "true";
               json list = json::array();
               const int64_t now = api.clock->NowMicros();
               for (const auto& [id, loaded] : api.specs->List(listed_only)) {
                 list.push_back(SpecJson(id, loaded.state, loaded.version, now));
               }
               return OkResponse(request, {{"list", list}, {"total", list.size()}});
             },
             {.access = Access::kUser, .query = {{"listed", "true: listed specs only (admins)"}}});

  router.Add("GET", "/api/specs/:id", "A product spec with its price history",
             [&api](const HttpRequest& request) {
               const std::string& id = request.params.at("id");
               auto loaded = api.specs->Get(id);
               if (!loaded.ok() || !MaySee(request, loaded->state)) {
                 return StatusResponse(request, Status::NotFound("no product spec " + id));
               }
               return OkResponse(
                   request, SpecJson(id, loaded->state, loaded->version, api.clock->NowMicros()));
             },
             {.access = Access::kUser});

  router.Add("PUT", "/api/specs/:id",
             "Edit a product spec (admin): the whole spec again; prices change through "
             "POST /api/specs/:id/price",
             [&api](const HttpRequest& request) {
               domain::ProductSpec spec;
               if (auto refused = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed(SpecFieldsAnd({})));
                     return ReadProductSpec(f, &spec);
                   })) {
                 return *refused;
               }
               const std::string& id = request.params.at("id");
               auto updated = api.specs->Update(id, spec, MetaFor(request));
               if (!updated.ok()) return RefusedResponse(request, updated.status());
               return OkResponse(request, {{"spec_id", id},
                                           {"changed", updated->events > 0},
                                           {"position", updated->last_position}});
             });

  router.Add("POST", "/api/specs/:id/price",
             "Change a spec's hourly price (admin) from effective_at (RFC 3339; default now), "
             "never in the past: {price_per_hour, effective_at}",
             [&api](const HttpRequest& request) {
               int64_t fen = 0;
               int64_t effective_at = 0;
               if (auto refused = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"price_per_hour", "effective_at"}));
                     RGPU_RETURN_IF_ERROR(f.Yuan("price_per_hour", &fen, true));
                     std::string at;
                     RGPU_RETURN_IF_ERROR(f.String("effective_at", &at));
                     if (at.empty()) return Status::Ok();
                     auto parsed = ParseRfc3339(at);
                     if (!parsed.ok()) {
                       return Status::InvalidArgument("effective_at: " + parsed.status().message());
                     }
                     effective_at = *parsed;
                     return Status::Ok();
                   })) {
                 return *refused;
               }
               const std::string& id = request.params.at("id");
               auto changed = api.specs->ChangePrice(id, fen, effective_at, MetaFor(request));
               if (!changed.ok()) return RefusedResponse(request, changed.status());
               return OkResponse(request, {{"spec_id", id},
                                           {"price_per_hour", domain::FormatYuan(fen)},
                                           {"position", changed->last_position}});
             });
}

}  // namespace remotegpu::api
