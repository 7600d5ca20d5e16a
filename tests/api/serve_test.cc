// `remotegpu serve` as a real process: embedded PostgreSQL by default or an
// external one with --pg-url, projections catching up with the log, clean
// shutdown on SIGTERM.
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "commands/host_service.h"
#include "common/subprocess.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "tests/api/server_process.h"
#include "tests/domain/builders.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

using Clock = std::chrono::steady_clock;
using testing_process::ReadUntil;
using testing_process::Terminate;

// Registers `hosts` hosts in the log under `data_dir`, then closes it.
void SeedLog(const std::string& data_dir, int hosts) {
  std::filesystem::create_directories(data_dir);
  auto store = eventstore::RocksDbEventStore::Open({.path = data_dir + "/events"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  commands::AggregateCache<commands::HostTraits> cache(**store);
  commands::SchedulerIndex index;
  commands::StripedLock locks;
  commands::HostService service(**store, SystemClock::Instance(), index, cache, locks);
  for (int i = 0; i < hosts; ++i) {
    auto done =
        service.Execute("host-" + std::to_string(i), domain::testing_builders::RegisterCmd(2), {});
    ASSERT_TRUE(done.ok() || done.status().code() == StatusCode::kAlreadyExists)
        << done.status().ToString();
  }
}

int64_t WaitForHosts(const std::string& conninfo, const std::string& schema, int64_t want) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  int64_t have = -1;
  while (Clock::now() < deadline) {
    try {
      pqxx::connection conn(conninfo);
      pqxx::work tx(conn);
      have = tx.exec1("SELECT count(*) FROM " + schema + ".hosts")[0].as<int64_t>();
      if (have == want) return have;
    } catch (const std::exception&) {
      // The schema may not exist yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return have;
}

TEST(ServeTest, EmbeddedPostgresByDefaultProjectsTheLogAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::string data_dir = dir.Sub("data");
  SeedLog(data_dir, 3);
  auto child =
      Subprocess::Spawn({REMOTEGPU_BIN, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"},
                        {.capture_stdout = true, .merge_stderr = true});
  ASSERT_TRUE(child.ok());
  std::string output = ReadUntil(*child, "ready:");
  ASSERT_NE(output.find("embedded PostgreSQL"), std::string::npos) << output;

  // The embedded server requires the password it generated on first start.
  std::string password;
  std::getline(std::ifstream(data_dir + "/pg/password"), password);
  ASSERT_FALSE(password.empty());
  const std::string conninfo =
      "host=" + data_dir + "/pg/run user=postgres dbname=postgres password=" + password;
  EXPECT_THROW(pqxx::connection("host=" + data_dir + "/pg/run user=postgres dbname=postgres"),
               pqxx::broken_connection);
  EXPECT_EQ(WaitForHosts(conninfo, "rg", 3), 3) << output;
  // No TCP: the embedded server listens on its socket only.
  {
    pqxx::connection conn(conninfo);
    pqxx::work tx(conn);
    EXPECT_EQ(tx.exec1("SHOW listen_addresses")[0].as<std::string>(), "");
  }
  int status = Terminate(*child);
  output += child->ReadAllStdout();
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_FALSE(std::filesystem::exists(data_dir + "/pg/cluster/postmaster.pid"));

  // A restart resumes from the checkpoints with the data it had.
  SeedLog(data_dir, 5);  // Registers host-3 and host-4; 0-2 are refused as duplicates.
  auto again =
      Subprocess::Spawn({REMOTEGPU_BIN, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"},
                        {.capture_stdout = true, .merge_stderr = true});
  ASSERT_TRUE(again.ok());
  std::string again_output = ReadUntil(*again, "ready:");
  EXPECT_EQ(WaitForHosts(conninfo, "rg", 5), 5) << again_output;
  const int again_status = Terminate(*again);
  again_output += again->ReadAllStdout();
  EXPECT_TRUE(WIFEXITED(again_status) && WEXITSTATUS(again_status) == 0) << again_output;
}

TEST(ServeTest, PgUrlUsesThatServer) {
  testing::TempDir dir;
  auto pg = projections::EmbeddedPostgres::Start({.data_dir = dir.Sub("external")});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  const std::string data_dir = dir.Sub("data");
  SeedLog(data_dir, 2);
  auto child = Subprocess::Spawn({REMOTEGPU_BIN, "serve", "--data-dir", data_dir, "--pg-url",
                                  (*pg)->ConnectionString(), "--listen", "127.0.0.1:0"},
                                 {.capture_stdout = true, .merge_stderr = true});
  ASSERT_TRUE(child.ok());
  std::string output = ReadUntil(*child, "ready:");
  EXPECT_NE(output.find("external PostgreSQL"), std::string::npos) << output;
  EXPECT_EQ(WaitForHosts((*pg)->ConnectionString(), "rg", 2), 2);
  EXPECT_FALSE(std::filesystem::exists(data_dir + "/pg"));
  EXPECT_EQ(WEXITSTATUS(Terminate(*child)), 0);
}

TEST(ServeTest, BadFlagsAreAClearUsageError) {
  auto out = RunCommand({REMOTEGPU_BIN, "serve", "--no-such-flag"});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("exited with 2"), std::string::npos);
  EXPECT_NE(out.status().message().find("--data-dir"), std::string::npos);
}

}  // namespace
}  // namespace remotegpu::api
