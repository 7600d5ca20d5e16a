#include "projections/embedded_postgres.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/subprocess.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::projections {
namespace {

TEST(EmbeddedPostgresTest, StartsAcceptsQueriesStopsAndRestartsWithItsData) {
  testing::TempDir dir;
  EmbeddedPostgresOptions options{.data_dir = dir.Sub("pg")};
  {
    auto pg = EmbeddedPostgres::Start(options);
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pqxx::connection conn((*pg)->ConnectionString());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept (v int)");
    tx.exec0("INSERT INTO kept VALUES (42)");
    tx.commit();
    ASSERT_TRUE((*pg)->Stop().ok());
    EXPECT_THROW(pqxx::connection((*pg)->ConnectionString()), pqxx::broken_connection);
  }
  auto again = EmbeddedPostgres::Start(options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  pqxx::connection conn((*again)->ConnectionString());
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec1("SELECT v FROM kept")[0].as<int>(), 42);
}

TEST(EmbeddedPostgresTest, ListensOnNoTcpPortByDefault) {
  testing::TempDir dir;
  auto pg = EmbeddedPostgres::Start({.data_dir = dir.Sub("pg")});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  pqxx::connection conn((*pg)->ConnectionString());
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec1("SHOW listen_addresses")[0].as<std::string>(), "");
}

// Regression: the cluster trusted every local connection on a socket any
// local user could reach, so any user of the machine was its superuser and
// could read reset codes from the outbox.
TEST(EmbeddedPostgresTest, OnlyTheServiceWithThePasswordGetsIn) {
  testing::TempDir dir;
  auto pg = EmbeddedPostgres::Start({.data_dir = dir.Sub("pg")});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  namespace fs = std::filesystem;
  EXPECT_EQ(fs::status((*pg)->socket_dir()).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir.Sub("pg") + "/password").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NO_THROW(pqxx::connection((*pg)->ConnectionString()));
  const std::string without = "host=" + (*pg)->socket_dir() + " user=postgres dbname=postgres";
  EXPECT_THROW(pqxx::connection{without}, pqxx::broken_connection);
  EXPECT_THROW(pqxx::connection(without + " password=guess"), pqxx::broken_connection);
  if (geteuid() == 0) {
    // Another local user cannot even reach the socket.
    auto psql = RunCommand({"psql", "-h", (*pg)->socket_dir(), "-U", "postgres", "-c", "SELECT 1"},
                           {.run_as_user = "nobody"});
    EXPECT_FALSE(psql.ok());
  }
}

// A cluster made by an earlier version with trust authentication is moved to
// passwords on its next start.
TEST(EmbeddedPostgresTest, AClusterThatTrustedEveryoneRequiresThePasswordAfterARestart) {
  testing::TempDir dir;
  const std::string data = dir.Sub("pg");
  {
    auto pg = EmbeddedPostgres::Start({.data_dir = data});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pqxx::connection conn((*pg)->ConnectionString());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept (v int)");
    tx.commit();
    ASSERT_TRUE((*pg)->Stop().ok());
  }
  // What the old version left: trust everywhere, no password file.
  std::ofstream(data + "/cluster/pg_hba.conf", std::ios::trunc) << "local all all trust\n";
  std::filesystem::remove(data + "/password");
  auto pg = EmbeddedPostgres::Start({.data_dir = data});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  pqxx::connection conn((*pg)->ConnectionString());
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM kept")[0].as<int>(), 0);
  EXPECT_THROW(pqxx::connection("host=" + (*pg)->socket_dir() + " user=postgres dbname=postgres"),
               pqxx::broken_connection);
}

TEST(EmbeddedPostgresTest, AMissingPasswordFileIsAClearErrorNotANewPassword) {
  testing::TempDir dir;
  const std::string data = dir.Sub("pg");
  {
    auto pg = EmbeddedPostgres::Start({.data_dir = data});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  }
  std::filesystem::remove(data + "/password");
  auto pg = EmbeddedPostgres::Start({.data_dir = data});
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(pg.status().message().find("password"), std::string::npos) << pg.status().ToString();
}

TEST(EmbeddedPostgresTest, TooLongSocketPathIsAClearError) {
  auto pg = EmbeddedPostgres::Start({.data_dir = "/tmp/" + std::string(120, 'x')});
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace remotegpu::projections
