// Environment routes end to end over the real server.
#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class EnvironmentApiTest : public ApiTest {
 protected:
  static nlohmann::json EnvForm(const std::string& id, int gpus) {
    return {{"env_id", id},           {"name", "train-1"},   {"owner", "acme"},
            {"image", "pytorch:2.3"}, {"cpu_cores", 4},      {"memory_mb", 16384},
            {"gpu_count", gpus},      {"gpu_model", "A100"}, {"strategy", "best-fit"},
            {"ports", {{"ssh", 1}}}};
  }
};

TEST_F(EnvironmentApiTest, CreateUntilCapacityRunsOutThenStopAndDelete) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-env-1")).status, 201);  // 2 A100s.
  Reply first = Post("/api/environments", EnvForm("env-api-1", 1));
  ASSERT_EQ(first.status, 201) << first.raw;
  EXPECT_EQ(first.body["data"]["placement"]["host_id"], "host-env-1");
  EXPECT_EQ(first.body["data"]["placement"]["ports"][0]["service"], "SSH");
  ASSERT_EQ(Post("/api/environments", EnvForm("env-api-2", 1)).status, 201);

  const uint64_t before = LogPosition();
  Reply full = Post("/api/environments", EnvForm("env-api-3", 1));
  EXPECT_EQ(full.status, 409);
  EXPECT_EQ(full.body["reason"], "NO_CAPACITY");
  EXPECT_GT(LogPosition(), before);  // The failed attempt is in the scheduling history.

  Reply detail = Get("/api/environments/env-api-1", LogPosition());
  ASSERT_EQ(detail.status, 200) << detail.raw;
  EXPECT_EQ(detail.body["data"]["status"], "scheduled");
  EXPECT_EQ(detail.body["data"]["host_id"], "host-env-1");
  EXPECT_EQ(Get("/api/environments/env-api-3", LogPosition()).body["data"]["status"], "failed");

  Reply history = Get("/api/scheduler/history?env_id=env-api-3", LogPosition());
  ASSERT_EQ(history.status, 200) << history.raw;
  ASSERT_EQ(history.body["data"]["total"], 1);
  EXPECT_EQ(history.body["data"]["list"][0]["result"], "failed");
  EXPECT_NE(history.body["data"]["list"][0]["reason"].get<std::string>().find("free GPU"),
            std::string::npos);
  Reply available = Get("/api/cmdb/servers/available?gpu=1&gpu_model=A100", LogPosition());
  ASSERT_EQ(available.status, 200) << available.raw;
  EXPECT_EQ(available.body["data"]["total"], 0);  // Both GPUs are taken.
  Reply gpus = Get("/api/cmdb/gpus?host_id=host-env-1&free=false", LogPosition());
  ASSERT_EQ(gpus.status, 200) << gpus.raw;
  EXPECT_EQ(gpus.body["data"]["total"], 2);
  EXPECT_EQ(Get("/api/cmdb/gpus?free=maybe").status, 400);
  EXPECT_EQ(Get("/api/cmdb/servers/available?cpu=lots").status, 400);

  Reply stopped = Call(port_, http::verb::post, "/api/environments/env-api-1/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.raw;
  Reply host = Get("/api/cmdb/hosts/host-env-1", stopped.body["data"]["position"]);
  EXPECT_EQ(host.body["data"]["gpus_free"], 1);

  EXPECT_EQ(Call(port_, http::verb::post, "/api/environments/env-api-1/start").status, 200);
  EXPECT_EQ(Call(port_, http::verb::delete_, "/api/environments/env-api-2").status, 200);
  Reply list = Get("/api/environments?owner=acme&status=deleted", LogPosition());
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["data"]["total"], 1);
  EXPECT_EQ(Call(port_, http::verb::delete_, "/api/environments/env-api-2").status, 409);
  EXPECT_EQ(Call(port_, http::verb::post, "/api/environments/env-nope/stop").status, 404);
}

TEST_F(EnvironmentApiTest, BadSpecsAreRefusedWithTheFieldNamed) {
  const uint64_t before = LogPosition();
  nlohmann::json form = EnvForm("env-bad", 1);
  form["strategy"] = "fastest";
  EXPECT_NE(Post("/api/environments", form).body["message"].get<std::string>().find("strategy"),
            std::string::npos);
  form = EnvForm("env-bad", 1);
  form["ports"] = {{"ftp", 1}};
  EXPECT_EQ(Post("/api/environments", form).status, 400);
  form = EnvForm("env-bad", 1);
  form["name"] = "has spaces";
  Reply name = Post("/api/environments", form);
  EXPECT_EQ(name.status, 422) << "well-formed, refused by the domain";
  EXPECT_EQ(name.body["reason"], "UNPROCESSABLE");
  EXPECT_NE(name.body["message"].get<std::string>().find("name"), std::string::npos);
  EXPECT_EQ(LogPosition(), before);
}

TEST_F(EnvironmentApiTest, AccessInfoShowsHowToLogInWithThePassword) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-access-1")).status, 201);
  ASSERT_EQ(Post("/api/environments", EnvForm("env-access-1", 1)).status, 201);
  Reply access = Get("/api/environments/env-access-1/access");
  ASSERT_EQ(access.status, 200) << access.raw;
  const auto& data = access.body["data"];
  EXPECT_EQ(data["ssh_host"], "10.0.0.7");
  EXPECT_GT(data["ssh_port"].get<int>(), 0);
  EXPECT_FALSE(data["username"].get<std::string>().empty());
  // The operator on loopback is an admin until authentication lands.
  EXPECT_EQ(data["password"].get<std::string>().size(), 20u);
  EXPECT_NE(data["ssh_command"].get<std::string>().find("ssh -p "), std::string::npos);
  // The same password on every read: it is stored sealed, not regenerated.
  EXPECT_EQ(Get("/api/environments/env-access-1/access").body["data"]["password"],
            data["password"]);
  // Never in the read model.
  Reply detail = Get("/api/environments/env-access-1", LogPosition());
  EXPECT_EQ(detail.raw.find(data["password"].get<std::string>()), std::string::npos);
  EXPECT_EQ(Get("/api/environments/env-nope/access").status, 404);
}

TEST_F(EnvironmentApiTest, RestartNeedsARunningEnvironmentAndReportsMoveTheLifecycle) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-restart-1")).status, 201);
  ASSERT_EQ(Post("/api/environments", EnvForm("env-restart-1", 1)).status, 201);
  Reply early = Post("/api/environments/env-restart-1/restart", nlohmann::json::object());
  EXPECT_EQ(early.status, 409) << early.raw;

  const std::string report = "/internal/environments/env-restart-1/status";
  EXPECT_EQ(Post(report, {{"status", "sleeping"}}).status, 400);
  EXPECT_EQ(Post(report, {{"status", "starting"}}).status, 200);
  ASSERT_EQ(Post(report, {{"status", "running"}, {"reason", "container up"}}).status, 200);
  Reply restarted = Post("/api/environments/env-restart-1/restart", nlohmann::json::object());
  ASSERT_EQ(restarted.status, 200) << restarted.raw;
  Reply detail =
      Get("/api/environments/env-restart-1", restarted.body["data"]["position"].get<uint64_t>());
  EXPECT_EQ(detail.body["data"]["status"], "running");
}

}  // namespace
}  // namespace remotegpu::api
