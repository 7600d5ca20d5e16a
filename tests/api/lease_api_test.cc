// Lease (allocation) routes and the dashboard end to end over the real server.
#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class LeaseApiTest : public ApiTest {};

TEST_F(LeaseApiTest, LeaseMachinesListTabsExtendReclaimAndDashboard) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-lease-1")).status, 201);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-lease-2")).status, 201);
  Reply leased = Post("/api/admin/allocations", {{"lease_id", "lease-api-1"},
                                                 {"customer_id", "acme"},
                                                 {"host_ids", {"host-lease-1"}},
                                                 {"months", 3}});
  ASSERT_EQ(leased.status, 201) << leased.raw;
  const uint64_t position = leased.body["data"]["position"].get<uint64_t>();

  Reply current = Get("/api/admin/allocations?tab=current", position);
  ASSERT_EQ(current.status, 200) << current.raw;
  ASSERT_EQ(current.body["data"]["total"], 1);
  EXPECT_EQ(current.body["data"]["list"][0]["status"], "active");
  EXPECT_EQ(current.body["data"]["list"][0]["months"], 3);
  EXPECT_EQ(Get("/api/admin/allocations?tab=history", position).body["data"]["total"], 0);
  EXPECT_EQ(Get("/api/admin/allocations?tab=expiring", position).body["data"]["total"], 0);
  EXPECT_EQ(Get("/api/admin/allocations?tab=someday").status, 400);

  // A leased machine cannot be leased again; a lease needs machines.
  Reply again = Post("/api/admin/allocations",
                     {{"customer_id", "globex"}, {"host_ids", {"host-lease-1"}}, {"months", 1}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Post("/api/admin/allocations", {{"customer_id", "acme"}, {"months", 1}}).status, 422);

  Reply extended = Post("/api/admin/allocations/lease-api-1/extend", {{"months", 2}});
  ASSERT_EQ(extended.status, 200) << extended.raw;
  EXPECT_EQ(Get("/api/admin/allocations?tab=current", extended.body["data"]["position"])
                .body["data"]["list"][0]["months"],
            5);
  Reply reclaimed = Post("/api/admin/allocations/lease-api-1/reclaim", {{"reason", "ended"}});
  ASSERT_EQ(reclaimed.status, 200) << reclaimed.raw;
  const uint64_t after = reclaimed.body["data"]["position"].get<uint64_t>();
  EXPECT_EQ(Get("/api/admin/allocations?tab=history", after).body["data"]["total"], 1);
  EXPECT_EQ(Get("/api/cmdb/hosts/host-lease-1", LogPosition()).body["data"]["usage_status"],
            "idle");
  EXPECT_EQ(Post("/api/admin/allocations/lease-api-1/reclaim", {{"reason", "again"}}).status, 409);

  Reply stats = Get("/api/admin/dashboard/stats");
  ASSERT_EQ(stats.status, 200) << stats.raw;
  EXPECT_GE(stats.body["data"]["gpus_total"].get<int>(), 4);
  EXPECT_TRUE(stats.body["data"]["hosts_by_status"].contains("available"));
}

TEST_F(LeaseApiTest, MachineListShowsWhoHoldsEachMachineWithTheSeedsFilters) {
  nlohmann::json form = HostForm("host-mach-1");
  form["name"] = "bj-5090_a";
  form["region"] = "beijing";
  ASSERT_EQ(Post("/api/cmdb/hosts", form).status, 201);
  form = HostForm("host-mach-2");
  form["name"] = "bj-5090-b";
  form["region"] = "beijing";
  ASSERT_EQ(Post("/api/cmdb/hosts", form).status, 201);
  Reply leased = Post("/api/admin/allocations",
                      {{"customer_id", "initech"}, {"host_ids", {"host-mach-1"}}, {"months", 1}});
  ASSERT_EQ(leased.status, 201) << leased.raw;
  const uint64_t position = leased.body["data"]["position"].get<uint64_t>();

  Reply all = Get("/api/admin/machines?region=beijing&sortBy=name", position);
  ASSERT_EQ(all.status, 200) << all.raw;
  ASSERT_EQ(all.body["data"]["total"], 2);
  const auto& first = all.body["data"]["list"][0];
  EXPECT_EQ(first["host_id"], "host-mach-2");  // "bj-5090-b" < "bj-5090_a".
  EXPECT_EQ(first["allocation_status"], "unallocated");
  EXPECT_EQ(first["gpu_memory_mb"], 81920);
  const auto& second = all.body["data"]["list"][1];
  EXPECT_EQ(second["allocated_to"], "initech");
  EXPECT_EQ(second["allocation_status"], "allocated");

  auto ids = [](const Reply& reply) {
    std::vector<std::string> out;
    for (const auto& row : reply.body["data"]["list"]) out.push_back(row["host_id"]);
    return out;
  };
  EXPECT_EQ(ids(Get("/api/admin/machines?region=beijing&status=allocated", position)),
            std::vector<std::string>{"host-mach-1"});
  EXPECT_EQ(ids(Get("/api/admin/machines?region=beijing&status=unallocated", position)),
            std::vector<std::string>{"host-mach-2"});
  // '_' is matched literally, not as LIKE's any-one-character.
  EXPECT_EQ(ids(Get("/api/admin/machines?search=5090_", position)),
            std::vector<std::string>{"host-mach-1"});
  EXPECT_EQ(ids(Get("/api/admin/machines?search=BJ-5090-B", position)),
            std::vector<std::string>{"host-mach-2"});
  EXPECT_EQ(Get("/api/admin/machines?status=busy").status, 400);
  EXPECT_EQ(Get("/api/admin/machines?sortBy=price").status, 400);
}

TEST_F(LeaseApiTest, CustomersSeeOnlyTheirOwnLeasesAndMachines) {
  std::string acme_id, globex_id;
  const std::string acme = CustomerUser("Lease Acme", "lease-alice", &acme_id);
  const std::string globex = CustomerUser("Lease Globex", "lease-bob", &globex_id);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-tenant-1")).status, 201);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-tenant-2")).status, 201);
  ASSERT_EQ(Post("/api/admin/allocations",
                 {{"customer_id", acme_id}, {"host_ids", {"host-tenant-1"}}, {"months", 1}})
                .status,
            201);
  Reply other = Post("/api/admin/allocations",
                     {{"customer_id", globex_id}, {"host_ids", {"host-tenant-2"}}, {"months", 2}});
  ASSERT_EQ(other.status, 201) << other.raw;
  const std::string position = std::to_string(other.body["data"]["position"].get<uint64_t>());

  Reply leases = Call(port_, http::verb::get, "/api/leases?customer_id=" + globex_id, "",
                      {{"Authorization", acme}, {"X-Min-Position", position}});
  ASSERT_EQ(leases.status, 200) << leases.raw;
  ASSERT_EQ(leases.body["data"]["total"], 1);  // Its own, whatever it asks for.
  EXPECT_EQ(leases.body["data"]["list"][0]["customer_id"], acme_id);
  Reply machines = Call(port_, http::verb::get, "/api/machines", "",
                        {{"Authorization", globex}, {"X-Min-Position", position}});
  ASSERT_EQ(machines.status, 200) << machines.raw;
  ASSERT_EQ(machines.body["data"]["total"], 1);
  EXPECT_EQ(machines.body["data"]["list"][0]["host_id"], "host-tenant-2");
  EXPECT_EQ(As(acme, http::verb::get, "/api/admin/allocations").status, 403);
  EXPECT_EQ(As(acme, http::verb::get, "/api/machines?status=someday").status, 400);
}

TEST_F(LeaseApiTest, TheAddMachineFormRegistersAHostWithItsGpus) {
  nlohmann::json form = {{"name", "cq-4090-07"},     {"region", "chongqing"}, {"room", "B2"},
                         {"gpu_model", "RTX 4090"},  {"gpu_memory_gb", 24},   {"gpu_count", 4},
                         {"cuda_version", "12.4"},   {"cpu_cores", 32},       {"memory_gb", 256},
                         {"ip_address", "10.3.0.7"}, {"ssh_port", 2222}};
  Reply added = Post("/api/admin/machines", form);
  ASSERT_EQ(added.status, 201) << added.raw;
  const std::string host_id = added.body["data"]["host_id"];
  Reply host = Get("/api/cmdb/hosts/" + host_id, added.body["data"]["position"].get<uint64_t>());
  ASSERT_EQ(host.status, 200);
  EXPECT_EQ(host.body["data"]["gpus"].size(), 4u);
  EXPECT_EQ(host.body["data"]["gpus"][3]["memory_mb"], 24576);
  EXPECT_EQ(host.body["data"]["memory_mb"], 262144);
  EXPECT_EQ(host.body["data"]["room"], "B2");
  EXPECT_EQ(host.body["data"]["labels"][0], "cuda_version=12.4");

  const uint64_t before = LogPosition();
  form["ssh_password"] = "secret";
  EXPECT_EQ(Post("/api/admin/machines", form).status, 400) << "no machine passwords stored";
  form.erase("ssh_password");
  form.erase("gpu_count");
  Reply missing = Post("/api/admin/machines", form);
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body["message"].get<std::string>().find("gpu_count"), std::string::npos);
  EXPECT_EQ(LogPosition(), before);
}

}  // namespace
}  // namespace remotegpu::api
