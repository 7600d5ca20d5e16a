// Projection workers fed from Kafka: the real command side writes the log,
// the relay publishes it to the mock cluster, and `remotegpu project`
// processes in one consumer group build the read models in a real
// PostgreSQL. Whatever happens to the workers, the read models must end
// equal to a projection of the log itself.
#include <gtest/gtest.h>

#include "commands/lease_service.h"
#include "eventstore/kafka_relay.h"
#include "projections/embedded_postgres.h"
#include "projections/kafka_projection_worker.h"
#include "projections/read_model_compare.h"
#include "projections/standard_projections.h"
#include "tests/commands/service_fixture.h"
#include "tests/support/kafka_testing.h"

namespace remotegpu::projections {
namespace {

using remotegpu::testing::MockKafka;
using remotegpu::testing::WaitFor;

constexpr char kTopic[] = "events";

class KafkaWorkerTest : public commands::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    auto pg = EmbeddedPostgres::Start({.data_dir = dir_.Sub("pg")});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(*pg);
    conn_ = std::make_unique<pqxx::connection>(pg_->ConnectionString());
    kafka_ = MockKafka::Start(KAFKA_MOCK_BIN, kTopic, 4);
    ASSERT_NE(kafka_, nullptr);
    auto relay =
        eventstore::KafkaRelay::Start(*store_, {.brokers = kafka_->bootstrap(), .topic = kTopic});
    ASSERT_TRUE(relay.ok()) << relay.status().ToString();
    relay_ = std::move(*relay);
  }

  void TearDown() override {
    relay_.reset();
    ServiceTest::TearDown();
  }

  // Hosts, environments created, stopped and deleted, a lease: every read
  // model gets rows. `round` keeps ids apart between calls.
  void RunWorkload(int round, int hosts, int environments) {
    for (int h = 0; h < hosts; ++h) {
      RegisterHost("host-" + std::to_string(round) + "-" + std::to_string(h), 8,
                   h % 2 ? "A100" : "H100");
    }
    for (int e = 0; e < environments; ++e) {
      const std::string id = "env-" + std::to_string(round) + "-" + std::to_string(e);
      auto created = environments_service_->Create(id, Spec(1 + e % 2), meta_);
      if (!created.ok()) continue;  // No capacity is a logged outcome too.
      if (e % 3 == 0) {
        ASSERT_TRUE(environments_service_->ChangeStatus(id, domain::DELETED, "done", meta_).ok());
      }
    }
    commands::AggregateCache<commands::LeaseTraits> lease_cache(*store_);
    commands::LeaseService leases(*store_, clock_, *index_, *host_cache_, lease_cache, host_locks_);
    RegisterHost("host-" + std::to_string(round) + "-leased", 8);
    domain::CreateLease lease;
    lease.set_customer_id("acme");
    lease.add_host_ids("host-" + std::to_string(round) + "-leased");
    lease.set_months(1);
    ASSERT_TRUE(leases.Create("lease-" + std::to_string(round), lease, meta_).ok());
  }

  // A fresh projection of the log into `schema`, the reference.
  void ProjectLog(const std::string& schema) {
    for (auto& runner : StandardProjections(*store_, {pg_->ConnectionString(), schema, 1000})) {
      ASSERT_TRUE(runner->Open().ok());
      ASSERT_TRUE(runner->CatchUp().ok());
    }
  }

  int64_t TotalDifferences(const std::string& a, const std::string& b) {
    int64_t total = 0;
    try {
      for (const auto& [table, n] : ReadModelDifferences(*conn_, a, b)) total += n;
    } catch (const std::exception&) {
      return -1;  // The schema is not there yet.
    }
    return total;
  }

  Subprocess StartWorker(const std::string& group, const std::string& schema) {
    auto child = Subprocess::Spawn(
        {REMOTEGPU_BIN, "project", "--kafka-brokers", kafka_->bootstrap(), "--kafka-topic", kTopic,
         "--group", group, "--pg-url", pg_->ConnectionString(), "--schema", schema, "--batch-size",
         "25", "--session-timeout-ms", "3000"},
        {.capture_stdout = true, .merge_stderr = true});
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    api::testing_process::ReadUntil(*child, "ready:");
    return std::move(*child);
  }

  bool Delivered() {
    return WaitFor([&] { return relay_->stats().checkpoint == store_->LastPosition(); });
  }

  std::unique_ptr<EmbeddedPostgres> pg_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<MockKafka> kafka_;
  std::unique_ptr<eventstore::KafkaRelay> relay_;
};

TEST_F(KafkaWorkerTest, OneWorkerBuildsTheSameReadModelsAsTheLog) {
  RunWorkload(1, 6, 60);
  ASSERT_TRUE(Delivered());
  KafkaProjectionWorker worker(StandardProjectors(nullptr), {.brokers = kafka_->bootstrap(),
                                                             .topic = kTopic,
                                                             .group = "solo",
                                                             .conninfo = pg_->ConnectionString(),
                                                             .schema = "kw",
                                                             .batch_size = 50});
  ASSERT_TRUE(worker.Open().ok());
  ProjectLog("ref");
  auto step_until_equal = [&] {
    return WaitFor([&] {
      auto applied = worker.Step(std::chrono::milliseconds(100));
      EXPECT_TRUE(applied.ok()) << applied.status().ToString();
      return TotalDifferences("kw", "ref") == 0;
    });
  };
  ASSERT_TRUE(step_until_equal());
  EXPECT_EQ(worker.stats().applied, store_->LastPosition());
  EXPECT_EQ(worker.stats().warmed, 0u);

  // The relay starts over (as after a crash before its checkpoint was
  // written): the repeats are recognised by position and change nothing.
  relay_.reset();
  ASSERT_TRUE(store_->SaveCheckpoint("kafka-relay:events", 10).ok());
  RunWorkload(2, 2, 10);
  auto relay =
      eventstore::KafkaRelay::Start(*store_, {.brokers = kafka_->bootstrap(), .topic = kTopic});
  ASSERT_TRUE(relay.ok());
  relay_ = std::move(*relay);
  ASSERT_TRUE(Delivered());
  ASSERT_TRUE(conn_->is_open());
  {
    pqxx::work tx(*conn_);
    tx.exec0("DROP SCHEMA ref CASCADE");
    tx.commit();
  }
  ProjectLog("ref");
  ASSERT_TRUE(step_until_equal());
  EXPECT_EQ(worker.stats().applied, store_->LastPosition());  // Each event applied once.
  EXPECT_GT(worker.stats().warmed, 0u);                       // The repeats.
}

TEST_F(KafkaWorkerTest, TwoWorkersInAGroupOneKilledMidwayEndEqualToTheLog) {
  RunWorkload(1, 8, 150);
  ASSERT_TRUE(Delivered());
  Subprocess first = StartWorker("pair", "kw");
  Subprocess second = StartWorker("pair", "kw");
  // Both have partitions and are under way.
  auto partitions_moved = [&] {
    try {
      pqxx::nontransaction tx(*conn_);
      return tx.exec1("SELECT count(*) FROM kw.kafka_offsets WHERE applied_position > 0")[0]
          .as<int>();
    } catch (const std::exception&) {
      return 0;
    }
  };
  ASSERT_TRUE(WaitFor([&] { return partitions_moved() >= 3; }));
  first.Signal(SIGKILL);
  first.Wait();
  // More events arrive after the kill: the survivor has to take the dead
  // worker's partitions over to apply them.
  RunWorkload(2, 4, 80);
  ASSERT_TRUE(Delivered());
  ProjectLog("ref");
  const bool equal =
      WaitFor([&] { return TotalDifferences("kw", "ref") == 0; }, std::chrono::seconds(90));
  for (const auto& [table, n] : ReadModelDifferences(*conn_, "kw", "ref")) {
    EXPECT_EQ(n, 0) << table;
  }
  second.Signal(SIGTERM);
  const std::string output = second.ReadAllStdout();
  EXPECT_TRUE(equal) << "the survivor's output:\n" << output;
  // The survivor ended up with all four partitions.
  const size_t last = output.rfind("assigned partitions [");
  ASSERT_NE(last, std::string::npos) << output;
  const std::string list = output.substr(last, output.find(']', last) - last);
  EXPECT_EQ(std::count(list.begin(), list.end(), '@'), 4) << list;
}

}  // namespace
}  // namespace remotegpu::projections
