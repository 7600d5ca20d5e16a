// `remotegpu serve --kafka-brokers …` against the mock cluster: the relay
// inside the real server, SIGKILLed mid-stream and restarted, its lag in
// /readyz and /metrics, and the JSON message format.
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "eventstore/rocksdb_event_store.h"
#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/kafka_testing.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

using remotegpu::testing::MockKafka;
using remotegpu::testing::WaitFor;
using testing_http::Call;
using testing_http::Reply;
namespace http = testing_http::http;

constexpr char kTopic[] = "events";

using testing_process::Server;

Server StartServer(const std::string& data_dir, const std::string& brokers,
                   const std::string& format = "protobuf") {
  return testing_process::StartServer(
      REMOTEGPU_BIN, data_dir,
      {"--kafka-brokers", brokers, "--kafka-topic", kTopic, "--kafka-format", format});
}

nlohmann::json HostForm(const std::string& host_id) {
  return {{"host_id", host_id},
          {"name", host_id},
          {"ip_address", "10.1.0.1"},
          {"cpu_cores", 64},
          {"memory_mb", 262144},
          {"gpus", {{{"index", 0}, {"model", "A100"}, {"memory_mb", 81920}}}}};
}

uint64_t RelayLag(uint16_t port) {
  Reply ready = Call(port, http::verb::get, "/readyz");
  const auto& relay = ready.body["data"]["kafka_relay"];
  return relay.is_object() ? relay["lag_events"].get<uint64_t>() : UINT64_MAX;
}

TEST(KafkaServeTest, RelayKilledMidStreamResumesWithNothingMissing) {
  testing::TempDir dir;
  const std::string data_dir = dir.Sub("data");
  auto kafka = MockKafka::Start(KAFKA_MOCK_BIN, kTopic, 4);
  ASSERT_NE(kafka, nullptr);
  Server first = StartServer(data_dir, kafka->bootstrap());
  ASSERT_NE(first.port, 0) << first.output;

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int n = 0; !stop; ++n) {
        try {
          const std::string id = "host-c" + std::to_string(c) + "-" + std::to_string(n);
          if (Call(first.port, http::verb::post, "/api/cmdb/hosts", HostForm(id).dump()).status ==
              201) {
            ++acknowledged;
          }
        } catch (const std::exception&) {
          return;  // The server is gone.
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return acknowledged >= 300; }));
  first.process->Signal(SIGKILL);
  first.process->Wait();
  stop = true;
  for (auto& client : clients) client.join();

  uint64_t checkpoint = 0;
  {
    auto store = eventstore::RocksDbEventStore::Open({.path = data_dir + "/events"});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto stored = (*store)->LoadCheckpoint("kafka-relay:events");
    ASSERT_TRUE(stored.ok());
    checkpoint = stored->value_or(0);
  }

  Server second = StartServer(data_dir, kafka->bootstrap());
  ASSERT_NE(second.port, 0) << second.output;
  ASSERT_EQ(
      Call(second.port, http::verb::post, "/api/cmdb/hosts", HostForm("host-after").dump()).status,
      201);
  ASSERT_TRUE(WaitFor([&] { return RelayLag(second.port) == 0; }));
  Reply metrics = Call(second.port, http::verb::get, "/metrics");
  EXPECT_NE(metrics.raw.find("remotegpu_kafka_relay_lag_events 0\n"), std::string::npos);
  Reply ready = Call(second.port, http::verb::get, "/readyz");
  const uint64_t last = ready.body["data"]["log_position"].get<uint64_t>();
  EXPECT_EQ(ready.body["data"]["kafka_relay"]["delivered_position"].get<uint64_t>(), last);
  EXPECT_TRUE(ready.body["data"]["kafka_relay"]["broker_reachable"].get<bool>());

  std::map<uint64_t, int> seen;
  for (const auto& m : remotegpu::testing::ReadTopic(kafka->bootstrap(), kTopic, last)) {
    ++seen[m.position()];
  }
  ASSERT_EQ(seen.size(), last) << "checkpoint before the kill: " << checkpoint;
  EXPECT_EQ(seen.begin()->first, 1u);
  EXPECT_EQ(seen.rbegin()->first, last);
  for (const auto& [position, times] : seen) {
    if (times > 1) {
      EXPECT_GT(position, checkpoint) << "repeated at or before the checkpoint";
    }
  }
  EXPECT_EQ(testing_process::Terminate(*second.process), 0);
}

TEST(KafkaServeTest, JsonFormatCarriesTheAuditExportFields) {
  testing::TempDir dir;
  auto kafka = MockKafka::Start(KAFKA_MOCK_BIN, kTopic, 2);
  ASSERT_NE(kafka, nullptr);
  Server server = StartServer(dir.Sub("data"), kafka->bootstrap(), "json");
  ASSERT_NE(server.port, 0) << server.output;
  ASSERT_EQ(
      Call(server.port, http::verb::post, "/api/cmdb/hosts", HostForm("host-1").dump()).status,
      201);
  ASSERT_TRUE(WaitFor([&] { return RelayLag(server.port) == 0; }));
  const uint64_t last =
      Call(server.port, http::verb::get, "/readyz").body["data"]["log_position"].get<uint64_t>();
  auto messages = remotegpu::testing::ReadTopic(kafka->bootstrap(), kTopic, last);
  ASSERT_EQ(messages.size(), last);
  int hosts = 0;
  for (const auto& m : messages) {
    EXPECT_EQ(m.headers.at("content-type"), "application/json");
    const auto event = nlohmann::json::parse(m.value);
    EXPECT_EQ(event["stream_id"], m.key);
    hosts += m.key == "host-1";
    EXPECT_EQ(m.value.find("$argon2id$"), std::string::npos) << "password hashes stay redacted";
    EXPECT_EQ(event["position"].get<uint64_t>(), m.position());
    EXPECT_TRUE(event["data"].is_object());
    EXPECT_EQ(event["hash"].get<std::string>().size(), 64u);
  }
  EXPECT_GT(hosts, 0);
  EXPECT_EQ(testing_process::Terminate(*server.process), 0);
}

TEST(KafkaServeTest, UnknownFormatIsRefusedAtStart) {
  testing::TempDir dir;
  auto child = Subprocess::Spawn({REMOTEGPU_BIN, "serve", "--data-dir", dir.Sub("data"),
                                  "--kafka-brokers", "127.0.0.1:9", "--kafka-format", "xml"},
                                 {.capture_stdout = true, .merge_stderr = true});
  ASSERT_TRUE(child.ok());
  const std::string output = child->ReadAllStdout();
  const int status = child->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << output;
  EXPECT_NE(output.find("--kafka-format must be protobuf or json"), std::string::npos) << output;
}

}  // namespace
}  // namespace remotegpu::api
