#include "api/routes/lease_routes.h"

#include <algorithm>

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "projections/queries/lease_queries.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

HttpResponse Done(const HttpRequest& request, const Result<commands::CommandResult>& done) {
  if (!done.ok()) return RefusedResponse(request, done.status());
  return OkResponse(request,
                    {{"lease_id", request.params.at("id")}, {"position", done->last_position}});
}

// Tabs of seed 02's allocation page: current, history, expiring (within 7
// days); only `customer`'s leases when set.
HttpResponse ServeLeases(LeaseApi& api, const HttpRequest& request,
                         std::optional<std::string> customer) {
  queries::LeaseFilter filter;
  const std::string tab = request.Query("tab", "current");
  if (tab == "current") {
    filter.tab = queries::LeaseTab::kCurrent;
  } else if (tab == "history") {
    filter.tab = queries::LeaseTab::kHistory;
  } else if (tab == "expiring") {
    filter.tab = queries::LeaseTab::kExpiring;
  } else {
    return StatusResponse(request,
                          Status::InvalidArgument("tab must be current, history or expiring"));
  }
  filter.customer_id = customer ? std::move(customer) : QueryIfGiven(request, "customer_id");
  return ServeList(request, *api.projection, queries::kLeaseList,
                   [&](const queries::Paging& paging) {
                     return queries::ListLeases(*api.reads, filter, paging);
                   });
}

// Each machine with the lease that holds it, if any; only those leased to
// `customer` when set.
HttpResponse ServeMachines(LeaseApi& api, const HttpRequest& request,
                           std::optional<std::string> customer) {
  queries::MachineFilter filter{.search = request.Query("search"),
                                .gpu_model = request.Query("gpu_model"),
                                .region = request.Query("region"),
                                .allocated_to = std::move(customer)};
  static const std::pair<const char*, queries::MachineStatus> kStatuses[] = {
      {"all", queries::MachineStatus::kAll},
      {"online", queries::MachineStatus::kOnline},
      {"offline", queries::MachineStatus::kOffline},
      {"allocated", queries::MachineStatus::kAllocated},
      {"unallocated", queries::MachineStatus::kUnallocated}};
  const std::string status = request.Query("status", "all");
  const auto* named = std::find_if(std::begin(kStatuses), std::end(kStatuses),
                                   [&](const auto& s) { return status == s.first; });
  if (named == std::end(kStatuses)) {
    return StatusResponse(
        request,
        Status::InvalidArgument("status must be all, online, offline, allocated or unallocated"));
  }
  filter.status = named->second;
  if (filter.search.size() > 128) {
    return StatusResponse(request, Status::InvalidArgument("search is at most 128 characters"));
  }
  // Hosts and leases come from two projections: both must have
  // reached X-Min-Position.
  if (auto wait = AwaitMinPosition(request, *api.cmdb_projection)) return *wait;
  return ServeList(request, *api.projection, queries::kMachineList,
                   [&](const queries::Paging& paging) {
                     return queries::ListMachines(*api.reads, filter, paging);
                   });
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
             [&api](const HttpRequest& request) { return ServeLeases(api, request, std::nullopt); },
             {.access = Access::kAdmin,
              .query = {{"tab", "current, history or expiring"}, {"customer_id", "customer id"}},
              .paged = &queries::kLeaseList});

  router.Add(
      "GET", "/api/leases", "The caller's customer's leases; tab current, history or expiring",
      [&api](const HttpRequest& request) {
        // An admin's ?customer_id is a filter; a customer's user sees its own only.
        if (request.identity.admin) return ServeLeases(api, request, std::nullopt);
        return ServeLeases(api, request, request.identity.customer_id);
      },
      {.access = Access::kUser,
       .query = {{"tab", "current, history or expiring"}, {"customer_id", "customer id (admins)"}},
       .paged = &queries::kLeaseList});

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

  router.Add(
      "GET", "/api/admin/machines",
      "Machines for admins; filters gpu_model, region, status (online, offline, allocated, "
      "unallocated), search (name)",
      [&api](const HttpRequest& request) { return ServeMachines(api, request, std::nullopt); },
      {.access = Access::kAdmin,
       .query = {{"status", "all, online, offline, allocated or unallocated"},
                 {"search", "part of the name"},
                 {"gpu_model", "GPU model"},
                 {"region", "region"}},
       .paged = &queries::kMachineList});

  router.Add("GET", "/api/machines",
             "The machines leased to the caller's customer; filters gpu_model, region, status "
             "(online, offline), search (name)",
             [&api](const HttpRequest& request) {
               if (request.identity.admin) return ServeMachines(api, request, std::nullopt);
               return ServeMachines(api, request, request.identity.customer_id);
             },
             {.access = Access::kUser,
              .query = {{"status", "all, online, offline, allocated or unallocated"},
                        {"search", "part of the name"},
                        {"gpu_model", "GPU model"},
                        {"region", "region"}},
              .paged = &queries::kMachineList});

  router.Add("GET", "/api/admin/dashboard/stats",
             "Counts by status, GPU totals, allocation rate, expiring leases",
             [&api](const HttpRequest& request) {
               auto stats = queries::AdminDashboardStats(*api.reads);
               if (!stats.ok()) return StatusResponse(request, stats.status());
               return OkResponse(request, *stats);
             });
}

}  // namespace remotegpu::api
