#include "projections/embedded_postgres.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

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

TEST(EmbeddedPostgresTest, TooLongSocketPathIsAClearError) {
  auto pg = EmbeddedPostgres::Start({.data_dir = "/tmp/" + std::string(120, 'x')});
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace remotegpu::projections
