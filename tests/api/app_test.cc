// The whole server built in-process on a ManualClock (api/app/app.h): time
// moves when the test says, and the process managers run when it ticks, so
// offline detection and metering are tested through HTTP without sleeping.
#include "api/app/app.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/http_client.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;
using testing_http::Call;
using testing_http::Reply;
namespace http = testing_http::http;

constexpr UnixMicros kStart = 1'780'000'000'000'000;  // 2026-05-28.

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServeConfig config;
    config.data_dir = dir_.Sub("data");
    config.listen = "127.0.0.1:0";
    config.io_threads = 1;
    config.http_workers = 4;
    config.ticker = false;
    config.agent_timeout_s = 30;
    auto app = App::Build(config, clock_);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_EQ(testing_http::LogInAsAdmin(app_->port()).status, 200);
  }
  void TearDown() override {
    if (app_) {
      EXPECT_TRUE(app_->Stop().ok());
    }
  }

  Reply Get(const std::string& target, uint64_t min_position = 0) {
    std::map<std::string, std::string> headers;
    if (min_position > 0) headers["X-Min-Position"] = std::to_string(min_position);
    return Call(app_->port(), http::verb::get, target, "", headers);
  }
  Reply Post(const std::string& target, const json& body,
             const std::map<std::string, std::string>& headers = {}) {
    return Call(app_->port(), http::verb::post, target, body.dump(), headers);
  }

  testing::TempDir dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<App> app_;
};

TEST_F(AppTest, AHostWhoseAgentFallsSilentGoesOfflineWhenTheClockSaysSo) {
  Reply host = Post("/api/cmdb/hosts", {{"host_id", "host-clock"},
                                        {"name", "node"},
                                        {"ip_address", "10.0.0.9"},
                                        {"cpu_cores", 8},
                                        {"memory_mb", 65536},
                                        {"region", "cn-east"},
                                        {"gpus", json::array()}});
  ASSERT_EQ(host.status, 201) << host.raw;
  Reply minted = Post("/api/admin/hosts/host-clock/agent-tokens", {{"name", "agent"}});
  ASSERT_EQ(minted.status, 201) << minted.raw;
  const std::string agent = "Bearer " + minted.body["data"]["key"].get<std::string>();
  Reply beat =
      Post("/internal/hosts/host-clock/heartbeat", json::object(), {{"Authorization", agent}});
  ASSERT_EQ(beat.status, 200) << beat.raw;

  // 29 s of silence: still online. The ticker is off: only Tick runs it.
  clock_.Advance(29'000'000);
  app_->Tick();
  auto online = [&] {
    const uint64_t head = Get("/readyz").body["data"]["log_position"].get<uint64_t>();
    Reply detail = Get("/api/cmdb/hosts/host-clock", head);
    EXPECT_EQ(detail.status, 200) << detail.raw;
    return detail.body["data"]["online"];
  };
  EXPECT_EQ(online(), true);
  // Past the 30 s timeout on the manual clock: offline at the next tick,
  // with the event's time the clock's.
  clock_.Advance(2'000'000);
  app_->Tick();
  EXPECT_EQ(online(), false);
  Reply changes = Get("/api/cmdb/assets/host-clock/changes?sortBy=position&order=desc&pageSize=1");
  ASSERT_EQ(changes.status, 200) << changes.raw;
  ASSERT_EQ(changes.body["data"]["list"].size(), 1u);
  EXPECT_EQ(changes.body["data"]["list"][0]["field"], "online");

  // A heartbeat brings it back, at once.
  ASSERT_EQ(Post("/internal/hosts/host-clock/heartbeat", json::object(), {{"Authorization", agent}})
                .status,
            200);
  EXPECT_EQ(online(), true);
}

// The agents' long-poll of their desired environments: a poll finding
// nothing new past its position waits on its host's signal, is answered as
// soon as an environment is placed there, and is not woken by another
// host's changes.
TEST_F(AppTest, AnAgentsLongPollWakesOnItsHostsChangeOnly) {
  auto host = [&](const std::string& id) {
    Reply made = Post("/api/cmdb/hosts", {{"host_id", id},
                                          {"name", id},
                                          {"ip_address", "10.0.0.9"},
                                          {"cpu_cores", 8},
                                          {"memory_mb", 65536},
                                          {"region", "cn-east"},
                                          {"gpus", {{{"index", 0}, {"model", "A100"}}}}});
    EXPECT_EQ(made.status, 201) << made.raw;
    Reply minted = Post("/api/admin/hosts/" + id + "/agent-tokens", {{"name", "agent"}});
    EXPECT_EQ(minted.status, 201) << minted.raw;
    const std::string agent = "Bearer " + minted.body["data"]["key"].get<std::string>();
    EXPECT_EQ(
        Post("/internal/hosts/" + id + "/heartbeat", json::object(), {{"Authorization", agent}})
            .status,
        200);
    return agent;
  };
  const std::string agent = host("host-poll");
  auto poll = [&](const std::string& query) {
    return Call(app_->port(), http::verb::get, "/internal/hosts/host-poll/environments" + query, "",
                {{"Authorization", agent}});
  };
  Reply first = poll("");
  ASSERT_EQ(first.status, 200) << first.raw;
  EXPECT_TRUE(first.body["data"]["environments"].empty());
  const uint64_t seen = first.body["data"]["position"].get<uint64_t>();
  EXPECT_EQ(poll("?after=x&wait_ms=10").status, 400);
  EXPECT_EQ(poll("?after=1&wait_ms=9001").status, 400);
  EXPECT_EQ(poll("?after=-1").status, 400);

  // Another host registered and beating while a poll waits: not its change.
  const auto quiet_start = std::chrono::steady_clock::now();
  std::string other_agent;
  std::thread other([&] { other_agent = host("host-other"); });
  Reply quiet = poll("?after=" + std::to_string(seen) + "&wait_ms=1500");
  other.join();
  // Nor may the other host's agent poll (or park on) this host: 404.
  Reply foreign = Call(app_->port(), http::verb::get,
                       "/internal/hosts/host-poll/environments?after=0&wait_ms=9000", "",
                       {{"Authorization", other_agent}});
  EXPECT_EQ(foreign.status, 404) << foreign.raw;
  ASSERT_EQ(quiet.status, 200) << quiet.raw;
  EXPECT_GE(std::chrono::steady_clock::now() - quiet_start, std::chrono::milliseconds(1500));
  EXPECT_EQ(quiet.body["data"]["position"], seen);

  // An environment placed on this host answers the waiting poll before its
  // 9 s are up, with the environment and a later position.
  Reply woken;
  const auto woken_start = std::chrono::steady_clock::now();
  std::thread waiter([&] { woken = poll("?after=" + std::to_string(seen) + "&wait_ms=9000"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Reply env = Post("/api/environments", {{"name", "job"},
                                         {"owner", "acme"},
                                         {"image", "pytorch"},
                                         {"cpu_cores", 1},
                                         {"memory_mb", 1024},
                                         {"gpu_count", 1},
                                         {"host_id", "host-poll"}});
  waiter.join();
  ASSERT_EQ(env.status, 201) << env.raw;
  ASSERT_EQ(woken.status, 200) << woken.raw;
  EXPECT_LT(std::chrono::steady_clock::now() - woken_start, std::chrono::milliseconds(8000));
  EXPECT_GT(woken.body["data"]["position"].get<uint64_t>(), seen);
  ASSERT_EQ(woken.body["data"]["environments"].size(), 1u) << woken.raw;
  EXPECT_EQ(woken.body["data"]["environments"][0]["env_id"], env.body["data"]["env_id"]);
}

TEST_F(AppTest, AccessTokensExpireOnTheServersClock) {
  EXPECT_EQ(Get("/api/users/me").status, 200);
  clock_.Advance(int64_t{24} * 3600 * 1'000'000);  // Longer than any access token lives.
  Reply expired = Get("/api/users/me");
  EXPECT_EQ(expired.status, 401) << expired.raw;
}

}  // namespace
}  // namespace remotegpu::api
