// The scheduler's routes and the CMDB's allocate/release over real HTTP.
#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class SchedulerApiTest : public ApiTest {
 protected:
  static nlohmann::json EnvForm(const std::string& id, int gpus) {
    return {{"env_id", id},      {"name", "job"},
            {"owner", "acme"},   {"image", "pytorch"},
            {"cpu_cores", 2},    {"memory_mb", 4096},
            {"gpu_count", gpus}, {"ports", {{"ssh", 1}, {"jupyter", 1}}}};
  }
  static nlohmann::json Usage(const std::string& query = "") {
    Reply usage = Get("/api/scheduler/ports/usage" + query, LogPosition());
    EXPECT_EQ(usage.status, 200) << usage.raw;
    return usage.body["data"];
  }
};

TEST_F(SchedulerApiTest, PoliciesChooseTheDefaultStrategy) {
  Reply list = Get("/api/scheduler/policies");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["data"]["total"], 5);
  for (const auto& policy : list.body["data"]["list"]) {
    EXPECT_EQ(policy["effective"], policy["id"] == "best-fit") << policy.dump();
  }
  const uint64_t before = LogPosition();
  EXPECT_EQ(Put("/api/scheduler/policies/fastest", {{"enabled", true}}).status, 404);
  EXPECT_EQ(Put("/api/scheduler/policies/random", {{"priority", 5000}}).status, 400);
  EXPECT_EQ(Put("/api/scheduler/policies/random", {{"enabled", "yes"}}).status, 400);
  EXPECT_EQ(Put("/api/scheduler/policies/random", {{"config", "x"}}).status, 400);
  EXPECT_EQ(Put("/api/scheduler/policies/random", {{"weight", 1}}).status, 400);
  EXPECT_EQ(LogPosition(), before) << "refused updates append nothing";

  Reply updated = Put("/api/scheduler/policies/round-robin",
                      {{"enabled", true}, {"priority", 200}, {"config", {{"note", "spread"}}}});
  ASSERT_EQ(updated.status, 200) << updated.raw;
  EXPECT_EQ(updated.body["data"]["effective"], true);
  EXPECT_EQ(updated.body["data"]["config"]["note"], "spread");

  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-policy-1")).status, 201);
  nlohmann::json form = EnvForm("env-policy-1", 1);
  Reply created = Post("/api/environments", form);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["data"]["strategy"], "round-robin");
  form = EnvForm("env-policy-2", 1);
  form["strategy"] = "first-fit";  // A request that names one keeps it.
  EXPECT_EQ(Post("/api/environments", form).body["data"]["strategy"], "first-fit");
}

TEST_F(SchedulerApiTest, ReleaseScheduleAllocateAndPortUsage) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-sched-1")).status, 201);  // 2 GPUs.
  nlohmann::json usage = Usage("?host_id=host-sched-1");
  EXPECT_EQ(usage["total"], 4000);  // Four services, 1,000 ports each by default.
  EXPECT_EQ(usage["used"], 0);

  ASSERT_EQ(Post("/api/environments", EnvForm("env-sched-1", 2)).status, 201);
  EXPECT_EQ(Post("/api/environments", EnvForm("env-sched-2", 2)).status, 409);  // Full.
  usage = Usage("?host_id=host-sched-1");
  EXPECT_EQ(usage["used"], 2);
  EXPECT_EQ(usage["available"], 3998);
  bool saw_ssh = false;
  for (const auto& row : usage["by_service"]) {
    if (row["service"] == "SSH") {
      saw_ssh = true;
      EXPECT_EQ(row["used"], 1);
      EXPECT_EQ(row["total"], 1000);
    }
  }
  EXPECT_TRUE(saw_ssh) << usage.dump();

  // Release checks where the environment is.
  Reply wrong = Post("/internal/scheduler/release", {{"env_id", "env-sched-1"}, {"host_id", "x"}});
  EXPECT_EQ(wrong.status, 409) << wrong.raw;
  EXPECT_EQ(Post("/internal/scheduler/release", {{"env_id", "env-sched-1"}}).status, 400);
  Reply released =
      Post("/internal/scheduler/release", {{"env_id", "env-sched-1"}, {"host_id", "host-sched-1"}});
  ASSERT_EQ(released.status, 200) << released.raw;
  EXPECT_EQ(Usage("?host_id=host-sched-1")["used"], 0);

  // The refused environment can now be placed.
  Reply scheduled = Post("/internal/scheduler/schedule", {{"env_id", "env-sched-2"}});
  ASSERT_EQ(scheduled.status, 200) << scheduled.raw;
  EXPECT_EQ(scheduled.body["data"]["host_id"], "host-sched-1");
  EXPECT_EQ(scheduled.body["data"]["gpu_indexes"].size(), 2u);
  EXPECT_EQ(Post("/internal/scheduler/schedule", {{"env_id", "env-sched-2"}}).status, 409);
  EXPECT_EQ(Post("/internal/scheduler/schedule", {{"env_id", "env-none"}}).status, 404);

  // The CMDB's pair: release on the server, allocate on a named server.
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-sched-2")).status, 201);
  EXPECT_EQ(Post("/api/cmdb/servers/host-sched-2/release", {{"env_id", "env-sched-2"}}).status,
            409);
  ASSERT_EQ(Post("/api/cmdb/servers/host-sched-1/release", {{"env_id", "env-sched-2"}}).status,
            200);
  Reply allocated = Post("/api/cmdb/servers/host-sched-2/allocate", {{"env_id", "env-sched-2"}});
  ASSERT_EQ(allocated.status, 200) << allocated.raw;
  EXPECT_EQ(allocated.body["data"]["host_id"], "host-sched-2");
  EXPECT_EQ(allocated.body["data"]["status"], "success");
  Reply detail = Get("/api/environments/env-sched-2", LogPosition());
  EXPECT_EQ(detail.body["data"]["host_id"], "host-sched-2");
}

}  // namespace
}  // namespace remotegpu::api
