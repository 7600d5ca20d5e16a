#include "api/routes/lease_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

HttpResponse Done(const HttpRequest& request, const Result<commands::CommandResult>& done) {
  if (!done.ok()) return RefusedResponse(request, done.status());
  return OkResponse(request,
                    {{"lease_id", request.params.at("id")}, {"position", done->last_position}});
}

// Tabs of seed 02's allocation page: current, history, expiring (within 7
// days); only `customer_id`'s leases when it is not empty.
HttpResponse ServeLeases(LeaseApi& api, const HttpRequest& request,
                         const std::string& customer_id) {
  ListQuery query{"leases", {"expires_at", "starts_at", "lease_id"}, "expires_at", "lease_id"};
  const std::string tab = request.Query("tab", "current");
  if (tab == "current") {
    query.conditions = " AND status IN ('pending', 'active', 'expiring')";
  } else if (tab == "history") {
    query.conditions = " AND status IN ('expired', 'reclaimed')";
  } else if (tab == "expiring") {
    query.conditions =
        " AND status IN ('active', 'expiring') AND expires_at < now() + interval '7 days'";
  } else {
    return ErrorResponse(request, 400, "INVALID_ARGUMENT",
                         "tab must be current, history or expiring");
  }
  query.equals = EqualsFromQuery(request, {{"customer_id", "customer_id"}});
  if (!customer_id.empty()) {
    std::erase_if(query.equals, [](const auto& e) { return e.first == "customer_id"; });
    query.equals.emplace_back("customer_id", customer_id);
  }
  return ServeList(request, *api.reads, *api.projection, query);
}

// Each machine with the lease that holds it, if any; only those leased to
// `customer_id` when it is not empty.
HttpResponse ServeMachines(LeaseApi& api, const HttpRequest& request,
                           const std::string& customer_id) {
  ListQuery query{"", {"name", "registered_at", "gpus_free", "region"}, "name", "host_id"};
  query.from =
      "(SELECT h.host_id, h.name, h.region, h.room, h.rack, h.gpu_model, h.gpu_count, "
      "h.gpus_free, (SELECT max(g.memory_mb) FROM {s}.gpus g WHERE g.host_id = h.host_id) "
      "AS gpu_memory_mb, h.cpu_cores, h.memory_mb, h.disk_gb, h.ip_address, h.public_ip, "
      "h.ssh_port, h.os_version, h.online, h.operational_status, h.health_status, "
      "h.usage_status, h.labels, h.registered_at, l.lease_id, l.customer_id AS allocated_to, "
      "l.expires_at AS allocated_until, CASE WHEN l.lease_id IS NOT NULL THEN 'allocated' "
      "ELSE 'unallocated' END AS allocation_status FROM {s}.hosts h LEFT JOIN LATERAL "
      "(SELECT lease_id, customer_id, expires_at FROM {s}.leases l WHERE l.host_ids ? "
      "h.host_id AND l.status IN ('pending', 'active', 'expiring') ORDER BY l.expires_at "
      "DESC LIMIT 1) l ON true WHERE h.operational_status <> 'retired') machines";
  const std::string status = request.Query("status", "all");
  if (status == "online") {
    query.conditions = " AND online";
  } else if (status == "offline") {
    query.conditions = " AND NOT online";
  } else if (status == "allocated" || status == "unallocated") {
    query.equals.emplace_back("allocation_status", status);
  } else if (status != "all") {
    return ErrorResponse(request, 400, "INVALID_ARGUMENT",
                         "status must be all, online, offline, allocated or unallocated");
  }
  const std::string search = request.Query("search");
  if (search.size() > 128) {
    return ErrorResponse(request, 400, "INVALID_ARGUMENT", "search is at most 128 characters");
  }
  auto more = EqualsFromQuery(request, {{"gpu_model", "gpu_model"}, {"region", "region"}});
  query.equals.insert(query.equals.end(), more.begin(), more.end());
  if (!customer_id.empty()) query.equals.emplace_back("allocated_to", customer_id);
  if (!search.empty()) {
    // Matched literally: LIKE's wildcards in the text are escaped.
    std::string pattern = "%";
    for (char c : search) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += "%";
    query.compares.push_back({"name", "ILIKE", pattern});
  }
  // Hosts and leases come from two projections: both must have
  // reached X-Min-Position.
  if (auto wait = AwaitMinPosition(request, *api.cmdb_projection)) return *wait;
  return ServeList(request, *api.reads, *api.projection, query);
}

}  // namespace

void AddLeaseRoutes(Router& router, LeaseApi& api) {
  router.Add("POST", "/api/admin/allocations", "Lease whole machines to a customer",
             [&api](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               JsonFields f(*body);
               std::string lease_id, customer;
               std::vector<std::string> hosts;
               int64_t months = 0;
               Status read = f.OnlyAllowed({"lease_id", "customer_id", "host_ids", "months"});
               if (read.ok()) read = f.String("lease_id", &lease_id);
               if (read.ok()) read = f.String("customer_id", &customer, true);
               if (read.ok()) read = f.StringList("host_ids", &hosts);
               if (read.ok()) read = f.Integer("months", &months, 1, domain::kLeaseMaxMonths, true);
               if (!read.ok()) return StatusResponse(request, read);
               domain::CreateLease create;
               create.set_customer_id(customer);
               for (const auto& host : hosts) create.add_host_ids(host);
               create.set_months(static_cast<uint32_t>(months));
               if (lease_id.empty()) lease_id = "lease-" + api.ids->NewId().ToString();
               auto done = api.leases->Create(lease_id, create, MetaFor(request));
               if (!done.ok()) return RefusedResponse(request, done.status());
               return OkResponse(request,
                                 {{"lease_id", lease_id}, {"position", done->last_position}}, 201);
             });

  router.Add("GET", "/api/admin/allocations",
             "List leases; tab current, history or expiring; filter customer_id",
             [&api](const HttpRequest& request) { return ServeLeases(api, request, ""); });

  router.Add("GET", "/api/leases",
             "The caller's customer's leases; tab current, history or expiring",
             [&api](const HttpRequest& request) {
               return ServeLeases(api, request,
                                  request.identity.admin ? request.Query("customer_id")
                                                         : request.identity.customer_id);
             },
             {.access = Access::kUser});

  router.Add("POST", "/api/admin/allocations/:id/extend", "Extend a lease by months",
             [&api](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               JsonFields f(*body);
               int64_t months = 0;
               Status read = f.OnlyAllowed({"months"});
               if (read.ok()) read = f.Integer("months", &months, 1, domain::kLeaseMaxMonths, true);
               if (!read.ok()) return StatusResponse(request, read);
               return Done(request,
                           api.leases->Extend(request.params.at("id"),
                                              static_cast<uint32_t>(months), MetaFor(request)));
             });

  router.Add("POST", "/api/admin/allocations/:id/reclaim",
             "End a lease early, releasing its machines", [&api](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               JsonFields f(*body);
               std::string reason;
               Status read = f.OnlyAllowed({"reason"});
               if (read.ok()) read = f.String("reason", &reason, true);
               if (!read.ok()) return StatusResponse(request, read);
               return Done(request,
                           api.leases->Reclaim(request.params.at("id"), reason, MetaFor(request)));
             });

  router.Add("GET", "/api/admin/machines",
             "Machines for admins; filters gpu_model, region, status (online, offline, allocated, "
             "unallocated), search (name)",
             [&api](const HttpRequest& request) { return ServeMachines(api, request, ""); });

  router.Add("GET", "/api/machines",
             "The machines leased to the caller's customer; filters gpu_model, region, status "
             "(online, offline), search (name)",
             [&api](const HttpRequest& request) {
               if (request.identity.admin) return ServeMachines(api, request, "");
               return ServeMachines(api, request, request.identity.customer_id);
             },
             {.access = Access::kUser});

  router.Add("GET", "/api/admin/dashboard/stats",
             "Counts by status, GPU totals, allocation rate, expiring leases",
             [&api](const HttpRequest& request) {
               json stats;
               Status read = api.reads->Read([&](pqxx::nontransaction& tx) {
                 const std::string s = api.reads->schema() + ".";
                 auto counts = [&](const std::string& sql) {
                   json out = json::object();
                   for (const auto& row : tx.exec(sql)) out[row[0].c_str()] = row[1].as<int64_t>();
                   return out;
                 };
                 stats["hosts_by_status"] =
                     counts("SELECT operational_status, count(*) FROM " + s + "hosts GROUP BY 1");
                 stats["hosts_by_health"] =
                     counts("SELECT health_status, count(*) FROM " + s + "hosts GROUP BY 1");
                 stats["environments_by_status"] =
                     counts("SELECT status, count(*) FROM " + s + "environments GROUP BY 1");
                 auto gpus = tx.exec1(
                     "SELECT coalesce(sum(gpu_count), 0), coalesce(sum(gpu_count - "
                     "gpus_free), 0) FROM " +
                     s +
                     "hosts WHERE operational_status <> "
                     "'retired'");
                 const int64_t total = gpus[0].as<int64_t>(), allocated = gpus[1].as<int64_t>();
                 stats["gpus_total"] = total;
                 stats["gpus_allocated"] = allocated;
                 stats["gpu_allocation_rate"] =
                     total == 0 ? 0.0 : static_cast<double>(allocated) / total;
                 stats["leases_expiring_within_7_days"] =
                     tx.exec1("SELECT count(*) FROM " + s +
                              "leases WHERE status IN ('active', "
                              "'expiring') AND expires_at < now() + interval '7 days'")[0]
                         .as<int64_t>();
               });
               if (!read.ok()) return StatusResponse(request, read);
               return OkResponse(request, stats);
             });
}

}  // namespace remotegpu::api
