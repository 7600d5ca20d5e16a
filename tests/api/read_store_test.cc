// The read store's pool against a real PostgreSQL: a query that finds every
// connection busy past its wait is Unavailable (503 + Retry-After at the
// edge), not queued without end.
#include "projections/queries/read_store.h"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "api/http/envelope.h"
#include "projections/embedded_postgres.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

TEST(ReadStoreTest, AQueryFindingEveryConnectionBusyPastItsWaitIsUnavailable) {
  testing::TempDir dir;
  auto pg = projections::EmbeddedPostgres::Start({.data_dir = dir.Sub("pg")});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  queries::ReadStore reads((*pg)->ConnectionString(), "rg", 1, std::chrono::milliseconds(200));

  std::promise<void> holding;
  std::thread slow([&] {
    Status held = reads.Read([&](pqxx::nontransaction& tx) {
      holding.set_value();
      tx.exec("SELECT pg_sleep(1)");
    });
    EXPECT_TRUE(held.ok()) << held.ToString();
  });
  holding.get_future().wait();
  const auto start = std::chrono::steady_clock::now();
  Status busy = reads.Read([](pqxx::nontransaction& tx) { tx.exec("SELECT 1"); });
  const auto waited = std::chrono::steady_clock::now() - start;
  // Unavailable, not the answer it would have had once the slow one let go.
  EXPECT_EQ(busy.code(), StatusCode::kUnavailable) << busy.ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(200));  // It did wait its while.
  HttpResponse answer = StatusResponse(HttpRequest{}, busy);
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.headers["Retry-After"], "1");
  slow.join();
  // Free again: the pooled connection serves the next query.
  EXPECT_TRUE(reads.Read([](pqxx::nontransaction& tx) { tx.exec("SELECT 1"); }).ok());
  EXPECT_TRUE((*pg)->Stop().ok());
}

}  // namespace
}  // namespace remotegpu::api
