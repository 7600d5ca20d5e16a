// The whole server built in-process on a ManualClock (api/app/app.h): time
// moves when the test says, and the process managers run when it ticks, so
// offline detection and metering are tested through HTTP without sleeping.
#include "api/app/app.h"

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

TEST_F(AppTest, AccessTokensExpireOnTheServersClock) {
  EXPECT_EQ(Get("/api/users/me").status, 200);
  clock_.Advance(int64_t{24} * 3600 * 1'000'000);  // Longer than any access token lives.
  Reply expired = Get("/api/users/me");
  EXPECT_EQ(expired.status, 401) << expired.raw;
}

}  // namespace
}  // namespace remotegpu::api
