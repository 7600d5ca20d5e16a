#include "api/routes/monitoring_routes.h"

#include "api/routes/route_helpers.h"

namespace remotegpu::api {
namespace {

constexpr int64_t kHourUs = 3'600'000'000;
constexpr int64_t kDayUs = 24 * kHourUs;
constexpr int64_t kRawRetentionUs = 7 * kDayUs;

Result<projections::MetricsQuery> ReadRange(const HttpRequest& request, int64_t now_us) {
  projections::MetricsQuery query;
  query.to_us = now_us;
  query.from_us = now_us - kHourUs;
  for (auto [name, out] : {std::pair{"from", &query.from_us}, std::pair{"to", &query.to_us}}) {
    const std::string text = request.Query(name);
    if (text.empty()) continue;
    auto at = ParseRfc3339(text);
    if (!at.ok()) {
      return Status::InvalidArgument(std::string(name) + "='" + text +
                                     "' is not an RFC 3339 time: " + at.status().message());
    }
    *out = *at;
  }
  if (query.from_us >= query.to_us) return Status::InvalidArgument("from must be before to");
  const std::string resolution =
      request.Query("resolution").empty() ? "auto" : request.Query("resolution");
  if (resolution == "raw") {
    query.hourly = false;
  } else if (resolution == "hourly") {
    query.hourly = true;
  } else if (resolution == "auto") {
    query.hourly = query.to_us - query.from_us > kDayUs || query.from_us < now_us - kRawRetentionUs;
  } else {
    return Status::InvalidArgument("resolution must be raw, hourly or auto");
  }
  if (const std::string limit = request.Query("limit"); !limit.empty()) {
    if (limit.size() > 5 || limit.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(limit) < 1 || std::stoi(limit) > 10'000) {
      return Status::InvalidArgument("limit must be 1 to 10000");
    }
    query.limit = std::stoi(limit);
  }
  return query;
}

template <typename Series>
HttpResponse Serve(const HttpRequest& request, MonitoringApi& api, const char* key_name,
                   Series series) {
  auto query = ReadRange(request, api.clock->NowMicros());
  if (!query.ok()) return StatusResponse(request, query.status());
  const std::string& key = request.params.at("id");
  auto samples = series(key, *query);
  if (!samples.ok()) return RefusedResponse(request, samples.status());
  return OkResponse(request, {{key_name, key},
                              {"from", FormatRfc3339(query->from_us)},
                              {"to", FormatRfc3339(query->to_us)},
                              {"resolution", query->hourly ? "hourly" : "raw"},
                              {"count", samples->size()},
                              {"samples", *samples}});
}

}  // namespace

void AddMonitoringRoutes(Router& router, MonitoringApi& api) {
  router.Add("GET", "/api/monitoring/hosts/:id/metrics",
             "A host's metrics over ?from=&to= (RFC 3339), ?resolution=raw|hourly|auto, ?limit=",
             [&api](const HttpRequest& request) {
               return Serve(request, api, "host_id", [&](const auto& id, const auto& query) {
                 return api.metrics->HostSeries(id, query);
               });
             },
             {.access = Access::kAdmin,
              .query = {{"from", "RFC 3339 time (default an hour ago)"},
                        {"to", "RFC 3339 time (default now)"},
                        {"resolution", "raw, hourly or auto"},
                        {"limit", "1 to 10000 points"}}});
  router.Add("GET", "/api/monitoring/gpus/:id/metrics",
             "A GPU's metrics by UUID over ?from=&to= (RFC 3339), ?resolution=raw|hourly|auto, "
             "?limit=",
             [&api](const HttpRequest& request) {
               return Serve(request, api, "uuid", [&](const auto& id, const auto& query) {
                 return api.metrics->GpuSeries(id, query);
               });
             },
             {.access = Access::kAdmin,
              .query = {{"from", "RFC 3339 time (default an hour ago)"},
                        {"to", "RFC 3339 time (default now)"},
                        {"resolution", "raw, hourly or auto"},
                        {"limit", "1 to 10000 points"}}});
}

}  // namespace remotegpu::api
