// GET /ws/events against the real `remotegpu serve`: authenticated like
// every route, an admin's live feed, a customer's resumed feed holding only
// its own streams, and parameters refused before the upgrade.
#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"
#include "tests/api/ws_client.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;
using testing_ws::WsClient;

class EventStreamApiTest : public ApiTest {
 protected:
  // Every event received until none comes for `quiet`.
  static std::vector<json> Drain(
      WsClient& client, std::chrono::milliseconds quiet = std::chrono::milliseconds(1500)) {
    std::vector<json> events;
    while (auto message = client.Read(quiet)) {
      json batch = json::parse(*message);
      if (batch["type"] == "subscribed") continue;
      EXPECT_EQ(batch["type"], "events");
      for (auto& event : batch["events"]) events.push_back(std::move(event));
    }
    return events;
  }
  static std::string AdminToken() {
    return testing_http::DefaultAuthorization().substr(std::string("Bearer ").size());
  }
};

TEST_F(EventStreamApiTest, WithoutValidCredentialsTheUpgradeIs401) {
  WsClient none;
  EXPECT_EQ(none.Connect(port_, "/ws/events"), 401);
  EXPECT_NE(none.refusal().find("UNAUTHENTICATED"), std::string::npos) << none.refusal();
  WsClient forged;
  EXPECT_EQ(forged.Connect(port_, "/ws/events?access_token=eyJhbGciOiJIUzI1NiJ9.e30.x"), 401);
  WsClient header;
  EXPECT_EQ(header.Connect(port_, "/ws/events", {{"Authorization", "Bearer nope"}}), 401);
}

TEST_F(EventStreamApiTest, AnAdminSeesACommandsEventsAsTheyHappen) {
  WsClient client;
  const uint64_t before = LogPosition();
  ASSERT_EQ(client.Connect(port_, "/ws/events?prefix=host-&access_token=" + AdminToken()), 101);
  // The first message says where the feed starts: after what was there.
  json subscribed = json::parse(client.Read().value_or("{}"));
  EXPECT_EQ(subscribed["type"], "subscribed");
  EXPECT_EQ(subscribed["from"].get<uint64_t>(), before + 1);
  Reply registered = Post("/api/cmdb/hosts", HostForm("host-ws-live"));
  ASSERT_EQ(registered.status, 201);
  const uint64_t head = registered.body["data"]["position"];
  std::vector<json> events;
  while (events.empty() || events.back()["position"].get<uint64_t>() < head) {
    auto message = client.Read();
    ASSERT_TRUE(message.has_value()) << "no event arrived; " << events.size() << " before, head "
                                     << head << ", " << registered.raw << client.error().message();
    const json batch = json::parse(*message);  // Named: a temporary's member dies before the loop.
    for (const auto& event : batch["events"]) {
      EXPECT_TRUE(event["stream_id"].get<std::string>().starts_with("host-")) << event.dump();
      events.push_back(event);
    }
  }
  EXPECT_EQ(events.back()["stream_id"], "host-ws-live");
  EXPECT_EQ(events.back()["position"].get<uint64_t>(), head);
  EXPECT_FALSE(events.back()["type"].get<std::string>().empty());
}

TEST_F(EventStreamApiTest, ACustomerResumingFromTheStartSeesOnlyItsOwnStreams) {
  std::string acme, globex;
  const std::string acme_token = CustomerUser("Acme Streams", "acme-streams", &acme);
  CustomerUser("Globex Streams", "globex-streams", &globex);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-ws-tenancy")).status, 201);
  // An environment of each customer's, placed by an admin.
  std::string acme_env;
  for (const std::string& owner : {acme, globex}) {
    Reply placed = Post("/api/environments", {{"name", "job"},
                                              {"owner", owner},
                                              {"image", "pytorch"},
                                              {"cpu_cores", 1},
                                              {"memory_mb", 1024},
                                              {"host_id", "host-ws-tenancy"}});
    ASSERT_EQ(placed.status, 201) << placed.raw;
    if (owner == acme) acme_env = placed.body["data"]["env_id"];
  }

  WsClient client;
  ASSERT_EQ(client.Connect(port_, "/ws/events?from=1", {{"Authorization", acme_token}}), 101);
  const std::vector<json> events = Drain(client);
  ASSERT_FALSE(events.empty());
  bool own_customer_stream = false, own_environment = false;
  uint64_t last = 0;
  for (const json& event : events) {
    const std::string stream = event["stream_id"];
    EXPECT_NE(stream, globex) << event.dump();
    EXPECT_FALSE(stream.starts_with("host-") || stream.starts_with("user-") ||
                 stream.starts_with("apikey-"))
        << event.dump();
    // Its customer stream, its environment, or a stream whose events name it.
    EXPECT_TRUE(stream == acme || stream == acme_env ||
                event["data"].dump().find(acme) != std::string::npos)
        << event.dump();
    own_customer_stream |= stream == acme;
    own_environment |= stream == acme_env;
    // Who acted (an operator) and the request ids are the platform's.
    EXPECT_EQ(event["actor"]["id"], "") << event.dump();
    EXPECT_EQ(event["trace_id"], "") << event.dump();
    EXPECT_GT(event["position"].get<uint64_t>(), last);  // Log order, each once.
    last = event["position"];
  }
  EXPECT_TRUE(own_customer_stream);
  EXPECT_TRUE(own_environment);

  // The admin's resumed feed holds both customers and the host.
  WsClient admin;
  ASSERT_EQ(admin.Connect(port_, "/ws/events?from=1&access_token=" + AdminToken()), 101);
  std::set<std::string> streams;
  for (const json& event : Drain(admin)) streams.insert(event["stream_id"].get<std::string>());
  EXPECT_TRUE(streams.count(acme) && streams.count(globex) && streams.count("host-ws-tenancy") &&
              streams.count(acme_env));
}

TEST_F(EventStreamApiTest, AdminsWatchTheMetricsOfTheHostsTheyChooseLive) {
  json host = HostForm("host-ws-mon");
  host["gpus"] = json::array();
  ASSERT_EQ(Post("/api/cmdb/hosts", host).status, 201);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-ws-quiet")).status, 201);
  WsClient watching;
  ASSERT_EQ(watching.Connect(
                port_, "/ws/admin/monitoring?host_id=host-ws-mon&access_token=" + AdminToken()),
            101);
  std::string customer;
  const std::string token = CustomerUser("Acme Monitoring", "acme-monitoring", &customer);
  WsClient refused;
  EXPECT_EQ(refused.Connect(port_, "/ws/admin/monitoring", {{"Authorization", token}}), 403);
  WsClient bad;
  EXPECT_EQ(bad.Connect(port_, "/ws/admin/monitoring?host_id=a/b&access_token=" + AdminToken()),
            400);

  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto batch = [&](double cpu) {
    return json{{"samples", json::array({{{"collectedAtUs", std::to_string(now)},
                                          {"cpuUsagePercent", cpu},
                                          {"memoryTotalBytes", "1073741824"},
                                          {"memoryAvailableBytes", "536870912"}}})}};
  };
  // Another host's batch is not sent to this watcher; this host's is.
  ASSERT_EQ(Post("/internal/hosts/host-ws-quiet/metrics", batch(99)).status, 200);
  ASSERT_EQ(Post("/internal/hosts/host-ws-mon/metrics", batch(12.5)).status, 200);
  auto message = watching.Read();
  ASSERT_TRUE(message.has_value());
  const json live = json::parse(*message);
  EXPECT_EQ(live["type"], "metrics");
  EXPECT_EQ(live["host_id"], "host-ws-mon");
  ASSERT_EQ(live["samples"].size(), 1u);
  EXPECT_EQ(live["samples"][0]["cpu_usage_percent"], 12.5);
}

TEST_F(EventStreamApiTest, ACustomersCallerHoldsAtMost64StreamsAndGetsAnotherWhenOneCloses) {
  std::string customer;
  const std::string token = CustomerUser("Acme Many", "acme-many", &customer);
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 64; ++i) {
    open.push_back(std::make_unique<WsClient>());
    ASSERT_EQ(open.back()->Connect(port_, "/ws/events", {{"Authorization", token}}), 101) << i;
    ASSERT_TRUE(open.back()->Read().has_value());  // Subscribed: counted.
  }
  WsClient one_more;
  EXPECT_EQ(one_more.Connect(port_, "/ws/events", {{"Authorization", token}}), 429);
  EXPECT_NE(one_more.refusal().find("RATE_LIMITED"), std::string::npos) << one_more.refusal();
  WsClient someone_else;  // The limit is per caller, and admins have none.
  EXPECT_EQ(someone_else.Connect(port_, "/ws/events?access_token=" + AdminToken()), 101);
  open.pop_back();  // Closes one; the feed notices within its next turn.
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {
    WsClient retry;
    again = retry.Connect(port_, "/ws/events", {{"Authorization", token}}) == 101;
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(again);
}

TEST_F(EventStreamApiTest, TheOpenApiDocumentNamesTheStreamsParameters) {
  Reply document = Get("/api/openapi.json");
  ASSERT_EQ(document.status, 200);
  std::set<std::string> names;
  for (const json& parameter : document.body["paths"]["/ws/events"]["get"]["parameters"]) {
    if (parameter["in"] == "query") names.insert(parameter["name"].get<std::string>());
  }
  EXPECT_EQ(names, (std::set<std::string>{"prefix", "type", "from", "access_token"}));
  // The messages are described, and what the document says an event holds
  // is what one holds.
  const json& operation = document.body["paths"]["/ws/events"]["get"];
  EXPECT_TRUE(operation["responses"].contains("101"));
  const json& shapes = operation["x-messages"]["oneOf"];
  ASSERT_EQ(shapes.size(), 2u);
  const json& event = shapes[1]["properties"]["events"]["items"];
  Reply page = Get("/api/audit/events?pageSize=1");
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body["data"]["list"].size(), 1u);
  for (const auto& [field, value] : page.body["data"]["list"][0].items()) {
    EXPECT_TRUE(event["properties"].contains(field)) << field << " is not in the document";
  }
  for (const json& field : event["required"]) {
    EXPECT_TRUE(page.body["data"]["list"][0].contains(field)) << field;
  }
  EXPECT_EQ(document.body["paths"]["/ws/admin/monitoring"]["get"]["x-messages"]["properties"]
                         ["type"]["const"],
            "metrics");
}

TEST_F(EventStreamApiTest, BadParametersAreRefusedBeforeTheUpgrade) {
  const std::string token = "&access_token=" + AdminToken();
  for (const char* bad : {"from=abc", "from=0", "from=-1", "from=99999999999999999999",
                          "prefix=a%2Fb", "type=a%20b", "prefix=,"}) {
    WsClient client;
    EXPECT_EQ(client.Connect(port_, std::string("/ws/events?") + bad + token), 400) << bad;
  }
  WsClient beyond;
  EXPECT_EQ(beyond.Connect(port_, "/ws/events?from=" + std::to_string(LogPosition() + 2) + token),
            412);
  WsClient next;
  EXPECT_EQ(next.Connect(port_, "/ws/events?from=" + std::to_string(LogPosition() + 1) + token),
            101);
}

}  // namespace
}  // namespace remotegpu::api
