#include "api/routes/audit_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "commands/rollback.h"
#include "domain/stream_id.h"
#include "projections/queries/audit_export.h"
#include "projections/queries/event_json.h"
#include "projections/queries/rollback_json.h"
#include "projections/queries/stream_state.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

constexpr uint64_t kDefaultExportLimit = 10'000;
constexpr uint64_t kMaxExportLimit = 100'000;

Result<queries::AuditFilter> FilterOf(const HttpRequest& request) {
  return queries::ParseAuditFilter(request.Query("from"), request.Query("to"),
                                   request.Query("type"), request.Query("stream_prefix"),
                                   request.Query("actor"));
}

// The export formats, streamed into the body.
HttpResponse Export(const HttpRequest& request, eventstore::EventStore& store,
                    const queries::AuditFilter& filter, queries::AuditFormat format) {
  uint64_t limit = kDefaultExportLimit;
  if (const std::string text = request.Query("limit"); !text.empty()) {
    if (text.find_first_not_of("0123456789") != std::string::npos || text.size() > 7 ||
        std::stoull(text) == 0 || std::stoull(text) > kMaxExportLimit) {
      return StatusResponse(request, Status::InvalidArgument("limit must be 1 to " +
                                                             std::to_string(kMaxExportLimit)));
    }
    limit = std::stoull(text);
  }
  HttpResponse response;
  response.content_type =
      format == queries::AuditFormat::kCsv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  queries::AuditWriter writer(format, [&](std::string_view text) { response.body.append(text); });
  const uint64_t last = store.LastPosition();
  auto next = queries::ExportEvents(store, filter, writer, limit);
  if (!next.ok()) return StatusResponse(request, next.status());
  Status finished = writer.Finish(store, last);
  if (!finished.ok()) return StatusResponse(request, finished);
  if (*next != 0) response.headers["X-Next-Position"] = std::to_string(*next);
  return response;
}

}  // namespace

void AddAuditRoutes(Router& router, AuditApi& api) {
  router.Add(
      "GET", "/api/audit/events",
      "Audit trail: filters from, to (position or RFC 3339 time), type, stream_prefix, actor; "
      "Accept text/csv or application/x-ndjson for the export format",
      [&api](const HttpRequest& request) {
        auto filter = FilterOf(request);
        if (!filter.ok()) return StatusResponse(request, filter.status());
        const std::string accept = request.Header("accept");
        if (accept.find("text/csv") != std::string::npos) {
          return Export(request, *api.store, *filter, queries::AuditFormat::kCsv);
        }
        if (accept.find("application/x-ndjson") != std::string::npos) {
          return Export(request, *api.store, *filter, queries::AuditFormat::kJsonLines);
        }
        auto paging = ParsePaging(request, {"position"}, "position");
        if (!paging.ok()) return StatusResponse(request, paging.status());
        // Newest first unless order=asc; the total counts every match.
        const uint64_t skip = static_cast<uint64_t>(paging->page - 1) * paging->page_size;
        const bool ascending = request.Query("order") == "asc";
        std::vector<eventstore::RecordedEvent> matches;  // Ascending: only the page; else all ids.
        uint64_t total = 0;
        std::vector<uint64_t> positions;
        uint64_t position = filter->from_position;
        while (position <= filter->to_position) {
          auto batch = api.store->ReadAll(position, 4096);
          if (!batch.ok()) return StatusResponse(request, batch.status());
          if (batch->empty()) break;
          for (auto& event : *batch) {
            position = event.global_position + 1;
            if (!filter->Matches(event)) continue;
            ++total;
            if (ascending) {
              if (total > skip && matches.size() < static_cast<size_t>(paging->page_size)) {
                matches.push_back(std::move(event));
              }
            } else {
              positions.push_back(event.global_position);
            }
          }
        }
        json list = json::array();
        if (ascending) {
          for (const auto& event : matches) list.push_back(queries::EventJson(event));
        } else {
          for (uint64_t i = skip;
               i < positions.size() && list.size() < static_cast<size_t>(paging->page_size); ++i) {
            auto one = api.store->ReadAll(positions[positions.size() - 1 - i], 1);
            if (!one.ok()) return StatusResponse(request, one.status());
            if (!one->empty()) list.push_back(queries::EventJson((*one)[0]));
          }
        }
        return OkResponse(request, {{"list", list},
                                    {"total", total},
                                    {"page", paging->page},
                                    {"pageSize", paging->page_size}});
      },
      {.access = Access::kAdmin,
       .query = {{"from", "log position or RFC 3339 time"},
                 {"to", "log position or RFC 3339 time"},
                 {"type", "event type"},
                 {"stream_prefix", "stream id prefix"},
                 {"actor", "actor id"},
                 {"limit", "rows in an export"},
                 {"page", "the page, from 1"},
                 {"pageSize", "rows per page, at most 500"},
                 {"order", "asc or desc (default desc)"}}});

  router.Add("GET", "/api/cmdb/assets/:id/state",
             "A host's state as of ?at= (log position, vN or RFC 3339 time; default now)",
             [&api](const HttpRequest& request) {
               queries::Moment moment;
               if (const std::string at = request.Query("at"); !at.empty()) {
                 auto parsed = queries::ParseMoment(at);
                 if (!parsed.ok()) return StatusResponse(request, parsed.status());
                 moment = *parsed;
               }
               const std::string& id = request.params.at("id");
               if (!domain::IsKind(id, domain::StreamKind::kHost)) {
                 return StatusResponse(request, Status::NotFound("no asset " + id));
               }
               auto state = queries::StateAt(*api.store, id, moment);
               if (!state.ok()) return StatusResponse(request, state.status());
               return OkResponse(request, queries::StateJson("asset_id", id, *state));
             },
             {.access = Access::kAdmin,
              .query = {{"at", "log position, vN or RFC 3339 time (default now)"}}});

  router.Add("POST", "/api/cmdb/assets/:id/rollback",
             "Bring a host's spec, asset data and status back to a version (admin): "
             "{to_version, reason, dry_run}",
             [&api](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               JsonFields f(*body);
               int64_t to_version = 0;
               std::string reason;
               bool dry_run = false;
               Status read = f.OnlyAllowed({"to_version", "reason", "dry_run"});
               if (read.ok())
                 read = f.Integer("to_version", &to_version, 1, int64_t{1} << 62, true);
               if (read.ok()) read = f.String("reason", &reason, true);
               if (read.ok()) read = f.Boolean("dry_run", &dry_run);
               if (!read.ok()) return StatusResponse(request, read);
               if (!request.identity.admin) {
                 return StatusResponse(
                     request, Status::PermissionDenied("only an admin may roll assets back"));
               }
               const std::string& id = request.params.at("id");
               if (!domain::IsKind(id, domain::StreamKind::kHost)) {
                 return StatusResponse(request, Status::NotFound("no asset " + id));
               }
               auto plan = commands::PlanHostRollback(*api.store, *api.clock, id,
                                                      static_cast<uint64_t>(to_version), reason);
               if (!plan.ok()) return RefusedResponse(request, plan.status());
               json data = queries::RollbackPlanJson("asset_id", *plan, dry_run);
               if (!dry_run) {
                 auto done =
                     commands::ApplyHostRollback(*api.store, *api.hosts, *plan, MetaFor(request));
                 if (!done.ok()) return RefusedResponse(request, done.status());
                 data["version"] = done->version;
                 data["position"] = done->last_position;
               }
               return OkResponse(request, data);
             });
}

}  // namespace remotegpu::api
