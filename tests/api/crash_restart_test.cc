// `remotegpu serve` killed (SIGKILL) in the middle of a command load, then
// restarted: every acknowledged command is still there, the log verifies,
// and the read models equal a fresh projection of the log.
#include <sys/wait.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "eventstore/log_verifier.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/read_model_compare.h"
#include "projections/standard_projections.h"
#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

using testing_http::Call;
using testing_http::Reply;
namespace http = testing_http::http;

using testing_process::Server;

Server StartServer(const std::string& data_dir) {
  return testing_process::StartServer(REMOTEGPU_BIN, data_dir);
}

// What the clients were told succeeded.
struct Acknowledged {
  std::mutex mu;
  std::set<std::string> created, stopped;
};

// Creates and stops environments until `stop`; records the acknowledged.
void Client(uint16_t port, int id, std::atomic<bool>& stop, Acknowledged& acked) {
  for (int n = 0; !stop; ++n) {
    const std::string env_id = "env-c" + std::to_string(id) + "-" + std::to_string(n);
    const nlohmann::json form = {{"env_id", env_id},   {"name", "job"},        {"owner", "acme"},
                                 {"image", "pytorch"}, {"cpu_cores", 1},       {"memory_mb", 1024},
                                 {"gpu_count", 1},     {"ports", {{"ssh", 1}}}};
    try {
      Reply created = Call(port, http::verb::post, "/api/environments", form.dump());
      if (created.status != 201) continue;
      {
        std::lock_guard lock(acked.mu);
        acked.created.insert(env_id);
      }
      Reply stopped = Call(port, http::verb::post, "/api/environments/" + env_id + "/stop", "{}");
      if (stopped.status != 200) continue;
      std::lock_guard lock(acked.mu);
      acked.stopped.insert(env_id);
    } catch (const std::exception&) {
      return;  // The server is gone.
    }
  }
}

TEST(ServeCrashTest, KilledMidLoadRestartsWithEveryAcknowledgedCommandAndConsistentReadModels) {
  testing::TempDir dir;
  const std::string data_dir = dir.Sub("data");
  Server first = StartServer(data_dir);
  ASSERT_NE(first.port, 0) << first.output;
  for (int h = 0; h < 4; ++h) {
    nlohmann::json host = {{"host_id", "host-" + std::to_string(h)},
                           {"name", "node-" + std::to_string(h)},
                           {"ip_address", "10.1.0." + std::to_string(h + 1)},
                           {"cpu_cores", 64},
                           {"memory_mb", 262144},
                           {"gpus",
                            {{{"index", 0}, {"model", "A100"}, {"memory_mb", 81920}},
                             {{"index", 1}, {"model", "A100"}, {"memory_mb", 81920}}}}};
    ASSERT_EQ(Call(first.port, http::verb::post, "/api/cmdb/hosts", host.dump()).status, 201);
  }

  std::atomic<bool> stop{false};
  Acknowledged acked;
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] { Client(first.port, c, stop, acked); });
  }
  // Kill once the load is well under way.
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(acked.mu);
    if (acked.stopped.size() >= 150) break;
  }
  first.process->Signal(SIGKILL);
  first.process->Wait();
  stop = true;
  for (auto& client : clients) client.join();

  // The restarted server adopts the PostgreSQL the killed one left running.
  Server second = StartServer(data_dir);
  ASSERT_NE(second.port, 0) << second.output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    Reply state = Call(second.port, http::verb::get, "/api/admin/projections");
    bool caught_up = state.status == 200;
    for (const auto& p : state.body["data"]["projections"]) caught_up &= p["lag"] == 0;
    if (caught_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& env_id : acked.created) {
    Reply env = Call(second.port, http::verb::get, "/api/environments/" + env_id);
    ASSERT_EQ(env.status, 200) << env_id << " was acknowledged but is gone";
    if (acked.stopped.count(env_id) > 0) {
      EXPECT_EQ(env.body["data"]["status"], "stopped") << env_id;
    }
  }
  // Nothing is still holding GPUs but environments that were never stopped.
  Reply held = Call(second.port, http::verb::get, "/api/cmdb/gpus?free=false&pageSize=100");
  EXPECT_LE(held.body["data"]["total"].get<size_t>(),
            acked.created.size() - acked.stopped.size() + 6);
  const int status = testing_process::Terminate(*second.process);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << second.output << second.process->ReadAllStdout();

  // Offline: the log verifies, and a fresh projection equals the live one.
  auto store = eventstore::RocksDbEventStore::Open({.path = data_dir + "/events"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto verified = eventstore::VerifyLog(**store);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  auto pg = projections::EmbeddedPostgres::Start({.data_dir = data_dir + "/pg"});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  for (auto& runner :
       projections::StandardProjections(**store, {(*pg)->ConnectionString(), "fresh", 1000})) {
    ASSERT_TRUE(runner->Open().ok());
    ASSERT_TRUE(runner->CatchUp().ok());
  }
  pqxx::connection connection((*pg)->ConnectionString());
  {
    pqxx::nontransaction tx(connection);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM rg.hosts")[0].as<size_t>(), 4u);
    EXPECT_GE(tx.exec1("SELECT count(*) FROM rg.environments")[0].as<size_t>(),
              acked.created.size());
  }
  for (const auto& [table, differences] :
       projections::ReadModelDifferences(connection, "rg", "fresh")) {
    EXPECT_EQ(differences, 0) << table;
  }
}

}  // namespace
}  // namespace remotegpu::api
