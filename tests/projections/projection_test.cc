// Projections into a real PostgreSQL (started once for the suite), fed by
// the real command side over a real RocksDB store.
#include <gtest/gtest.h>

#include "commands/lease_service.h"
#include "projections/cmdb_projector.h"
#include "projections/embedded_postgres.h"
#include "projections/environment_projector.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/read_model_compare.h"
#include "projections/rebuild.h"
#include "projections/standard_projections.h"
#include "tests/commands/service_fixture.h"
#include "tests/support/suite_postgres.h"

namespace remotegpu::projections {
namespace {

using commands::ServiceTest;

class ProjectionTest : public ServiceTest {
 protected:
  static void SetUpTestSuite() { pg_.Start(); }
  static void TearDownTestSuite() { pg_.Stop(); }

  void SetUp() override {
    ServiceTest::SetUp();
    schema_ = "t" + std::to_string(++schema_counter_);
    conn_ = std::make_unique<pqxx::connection>(pg_->ConnectionString());
  }

  std::vector<std::unique_ptr<ProjectionRunner>> Runners(
      const std::string& schema, size_t batch_size,
      std::chrono::milliseconds linger = std::chrono::milliseconds(0)) {
    auto runners = StandardProjections(*store_, {.conninfo = pg_->ConnectionString(),
                                                 .schema = schema,
                                                 .batch_size = batch_size,
                                                 .linger = linger});
    for (auto& runner : runners) EXPECT_TRUE(runner->Open().ok());
    return runners;
  }

  void ProjectAll(const std::string& schema, size_t batch_size) {
    for (auto& runner : Runners(schema, batch_size)) {
      Status s = runner->CatchUp();
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(runner->checkpoint(), store_->LastPosition());
    }
  }

  // A scenario touching every read model.
  void RunScenario() {
    RegisterHost("host-1", 4);
    RegisterHost("host-2", 2, "H100");
    domain::EnvironmentSpec a100 = Spec(2);
    a100.mutable_constraints()->set_gpu_model("A100");  // host-2 stays free for the lease.
    ASSERT_TRUE(environments_service_->Create("env-1", a100, meta_).ok());
    a100.set_gpu_count(1);
    ASSERT_TRUE(environments_service_->Create("env-2", a100, meta_).ok());
    EXPECT_FALSE(environments_service_->Create("env-3", Spec(8), meta_).ok());  // No capacity.
    ASSERT_TRUE(environments_service_->ChangeStatus("env-2", domain::DELETED, "done", meta_).ok());
    auto maintenance = domain::testing_builders::StatusCmd(domain::MAINTENANCE, true, "", true);
    ASSERT_TRUE(hosts_service_->Execute("host-1", maintenance, meta_).ok());
    commands::AggregateCache<commands::LeaseTraits> lease_cache(*store_);
    commands::LeaseService leases(*store_, clock_, *index_, *host_cache_, lease_cache, host_locks_);
    domain::CreateLease lease;
    lease.set_customer_id("acme");
    lease.add_host_ids("host-2");
    lease.set_months(3);
    auto leased = leases.Create("lease-1", lease, meta_);
    ASSERT_TRUE(leased.ok()) << leased.status().ToString();
  }

  int64_t Count(const std::string& sql) {
    pqxx::work tx(*conn_);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  void ExpectSameReadModels(const std::string& a, const std::string& b) {
    for (const auto& [table, differences] : projections::ReadModelDifferences(*conn_, a, b)) {
      EXPECT_EQ(differences, 0) << table;
    }
  }

  static inline testing::SuitePostgres pg_;
  static inline int schema_counter_ = 0;
  std::string schema_;
  std::unique_ptr<pqxx::connection> conn_;

  // Starts the runners, runs the scenario, waits until they have applied
  // it all and compares with a clean catch-up.
  void FollowScenarioAndCompare(std::chrono::milliseconds linger) {
    auto runners = Runners(schema_, 100, linger);
    for (auto& runner : runners) ASSERT_TRUE(runner->Start().ok());
    RunScenario();
    const uint64_t target = store_->LastPosition();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (auto& runner : runners) {
      while (runner->checkpoint() < target && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      EXPECT_EQ(runner->checkpoint(), target) << runner->name();
      EXPECT_EQ(runner->lag(), 0u);
      runner->Stop();
    }
    ProjectAll(schema_ + "_clean", 1000);
    ExpectSameReadModels(schema_, schema_ + "_clean");
  }
};

TEST_F(ProjectionTest, MigrationsAreVersionedAndIdempotent) {
  ASSERT_TRUE(Migrate(*conn_, schema_).ok());
  ASSERT_TRUE(Migrate(*conn_, schema_).ok());
  EXPECT_EQ(*SchemaVersion(*conn_, schema_), LatestSchemaVersion());
  EXPECT_EQ(*SchemaVersion(*conn_, "no_such_schema"), 0);
  EXPECT_EQ(Migrate(*conn_, "Bad-Name").code(), StatusCode::kInvalidArgument);
}

TEST_F(ProjectionTest, ReadModelsReflectTheLog) {
  RunScenario();
  ProjectAll(schema_, 1000);
  const std::string s = schema_ + ".";
  EXPECT_EQ(Count("SELECT count(*) FROM " + s + "hosts"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "hosts WHERE host_id = 'host-1' AND "
                  "operational_status = 'maintenance' AND usage_status = 'partial' AND "
                  "gpus_free = 2"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "hosts WHERE host_id = 'host-2' AND "
                  "usage_status = 'full' AND gpu_model = 'H100'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s + "gpus WHERE holder = 'env-1'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s + "gpus WHERE holder = 'lease-1'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "port_mappings WHERE holder = 'env-1' AND "
                  "service = 'SSH' AND port = 30000"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s + "environments WHERE status = 'deleted'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "environments WHERE env_id = 'env-3' AND "
                  "status = 'failed' AND host_id IS NULL"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s + "scheduler_history WHERE result = 'placed'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "scheduler_history WHERE result = 'failed' AND "
                  "reason LIKE '%8 free GPU%'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "leases WHERE status = 'active' AND months = 3 "
                  "AND host_ids = '[\"host-2\"]'::jsonb"),
            1);
  // The change log keeps old and new values, who, why and which request.
  EXPECT_EQ(Count("SELECT count(*) FROM " + s +
                  "change_log WHERE asset_id = 'host-1' AND "
                  "change_type = 'status_change' AND old_value = 'available' AND "
                  "new_value = 'maintenance' AND actor = 'user:user-1' AND reason = 'because' "
                  "AND request_id = 'req-1'"),
            1);
}

TEST_F(ProjectionTest, BatchedAndPerEventProjectionAgree) {
  RunScenario();
  ProjectAll(schema_ + "_b", 1000);
  ProjectAll(schema_ + "_e", 1);
  ExpectSameReadModels(schema_ + "_b", schema_ + "_e");
}

// Fails one batch once, as a crash mid-transaction would.
class FailingOnce final : public Projector {
 public:
  FailingOnce(std::unique_ptr<Projector> inner, uint64_t fail_at)
      : inner_(std::move(inner)), fail_at_(fail_at) {}
  std::string name() const override { return inner_->name(); }
  std::vector<std::string> tables() const override { return inner_->tables(); }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<eventstore::RecordedEvent>& batch) override {
    inner_->Apply(tx, schema, batch);
    if (!failed_ && batch.back().global_position >= fail_at_) {
      failed_ = true;
      throw std::runtime_error("injected failure after writing rows");
    }
  }
  void Warm(const std::vector<eventstore::RecordedEvent>& events) override { inner_->Warm(events); }
  void Reset() override { inner_->Reset(); }

 private:
  std::unique_ptr<Projector> inner_;
  uint64_t fail_at_;
  bool failed_ = false;
};

TEST_F(ProjectionTest, AFailedBatchNeitherSkipsNorRepeatsAndRestartsResumeCleanly) {
  RunScenario();
  const uint64_t middle = store_->LastPosition() / 2;
  ProjectionRunnerOptions options{pg_->ConnectionString(), schema_, 3};
  {
    ProjectionRunner runner(
        *store_,
        std::make_unique<FailingOnce>(std::make_unique<CmdbProjector>(store_.get()), middle),
        options);
    ASSERT_TRUE(runner.Open().ok());
    Status first = runner.CatchUp();
    EXPECT_EQ(first.code(), StatusCode::kIoError);  // The injected failure, rolled back.
    EXPECT_LT(runner.checkpoint(), middle);
  }
  // A new runner (as after a restart) resumes from the stored checkpoint with
  // nothing in memory.
  for (auto& runner : Runners(schema_, 3)) ASSERT_TRUE(runner->CatchUp().ok());
  ProjectAll(schema_ + "_clean", 1000);
  ExpectSameReadModels(schema_, schema_ + "_clean");
}

TEST_F(ProjectionTest, TwoRunnersOfOneProjectionTakeTurnsWithoutDoubleApplying) {
  RunScenario();
  auto first = StandardProjections(*store_, {pg_->ConnectionString(), schema_, 2});
  auto second = StandardProjections(*store_, {pg_->ConnectionString(), schema_, 3});
  for (auto& runner : first) ASSERT_TRUE(runner->Open().ok());
  for (auto& runner : second) ASSERT_TRUE(runner->Open().ok());
  int conflicts = 0;
  const uint64_t target = store_->LastPosition();
  for (size_t p = 0; p < first.size(); ++p) {
    while (first[p]->checkpoint() < target || second[p]->checkpoint() < target) {
      for (auto* runner : {first[p].get(), second[p].get()}) {
        auto applied = runner->Step();
        if (!applied.ok()) {
          ASSERT_EQ(applied.status().code(), StatusCode::kVersionConflict)
              << applied.status().ToString();
          ++conflicts;
        }
      }
    }
  }
  EXPECT_GT(conflicts, 0);  // They really did get in each other's way.
  ProjectAll(schema_ + "_clean", 1000);
  ExpectSameReadModels(schema_, schema_ + "_clean");
}

TEST_F(ProjectionTest, RunningProjectionsFollowNewCommits) {
  FollowScenarioAndCompare(std::chrono::milliseconds(0));
}

TEST_F(ProjectionTest, LingeringForFullerBatchesStillAppliesEveryEvent) {
  // The last events of the scenario arrive alone: the runner must apply them
  // when the linger ends, not wait for a full batch.
  FollowScenarioAndCompare(std::chrono::milliseconds(30));
}

TEST_F(ProjectionTest, RebuildSwapsAFreshCopyInWhileQueriesKeepAnswering) {
  auto runners = Runners(schema_, 100);
  for (auto& runner : runners) ASSERT_TRUE(runner->Start().ok());
  RunScenario();
  // Damage the live read model: the rebuild must not copy it, only the log.
  conn_ = std::make_unique<pqxx::connection>(pg_->ConnectionString());
  {
    pqxx::work tx(*conn_);
    for (auto& runner : runners) {
      while (runner->lag() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    tx.exec0("UPDATE " + schema_ + ".hosts SET name = 'damaged'");
    tx.commit();
  }

  // A reader queries the live schema the whole time; every query answers.
  std::atomic<bool> reading{true};
  std::atomic<int> answered{0}, failed{0};
  std::thread reader([&] {
    pqxx::connection connection(pg_->ConnectionString());
    while (reading) {
      try {
        pqxx::nontransaction tx(connection);
        tx.exec1("SELECT count(*) FROM " + schema_ + ".hosts");
        ++answered;
      } catch (const std::exception&) {
        ++failed;
      }
    }
  });
  std::vector<ProjectionRunner*> live;
  std::vector<std::string> phases;
  for (auto& runner : runners) live.push_back(runner.get());
  const uint64_t opens_before = runners[kCmdb]->read_model_version();
  Status rebuilt =
      RebuildAndSwap(*store_,
                     {.runner = {.conninfo = pg_->ConnectionString(), .schema = schema_},
                      .batch_size = 3,  // Many batches, so progress has something to say.
                      .progress = [&](const RebuildProgress& p) { phases.push_back(p.phase); }},
                     live);
  reading = false;
  reader.join();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_FALSE(phases.empty());
  EXPECT_EQ(phases.back(), "done");
  EXPECT_GT(runners[kCmdb]->read_model_version(), opens_before) << "answer caches must see it";
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + ".hosts WHERE name = 'damaged'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '" + schema_ + "\\_%'"), 0)
      << "neither the _rebuild nor the _old schema is left";

  // The live runners follow new commits into the swapped-in schema.
  RegisterHost("host-after-rebuild", 1);
  const uint64_t target = store_->LastPosition();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (auto& runner : runners) {
    while (runner->checkpoint() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    runner->Stop();
  }
  ProjectAll(schema_ + "_clean", 1000);
  ExpectSameReadModels(schema_, schema_ + "_clean");
}

TEST_F(ProjectionTest, RebuildOfOneProjectionReplacesOnlyItsTables) {
  RunScenario();
  auto runners = Runners(schema_, 100);
  for (auto& runner : runners) ASSERT_TRUE(runner->Start().ok());
  for (auto& runner : runners) {
    while (runner->lag() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    pqxx::work tx(*conn_);
    tx.exec0("UPDATE " + schema_ + ".environments SET status = 'damaged'");
    tx.exec0("UPDATE " + schema_ + ".hosts SET name = 'left alone'");
    tx.commit();
  }
  std::vector<ProjectionRunner*> live;
  for (auto& runner : runners) live.push_back(runner.get());
  RebuildOptions options{.runner = {.conninfo = pg_->ConnectionString(), .schema = schema_},
                         .projections = {"environments"}};
  Status rebuilt = RebuildAndSwap(*store_, options, live);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + ".environments WHERE status = 'damaged'"), 0);
  EXPECT_GT(Count("SELECT count(*) FROM " + schema_ + ".environments"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + ".hosts WHERE name = 'left alone'"),
            Count("SELECT count(*) FROM " + schema_ + ".hosts"))
      << "the CMDB tables were not part of the rebuild";
  EXPECT_EQ(Count("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '" + schema_ + "\\_%'"), 0);

  // The live runners carry on in the swapped tables.
  RegisterHost("host-after", 1);
  ASSERT_TRUE(environments_service_->Create("env-after", Spec(1), meta_).ok());
  const uint64_t target = store_->LastPosition();
  for (auto& runner : runners) {
    while (runner->checkpoint() < target)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    runner->Stop();
  }
  ProjectAll(schema_ + "_clean", 1000);
  for (const auto& [table, differences] :
       ReadModelDifferences(*conn_, schema_, schema_ + "_clean")) {
    if (table == "hosts") continue;  // Still damaged on purpose.
    EXPECT_EQ(differences, 0) << table;
  }

  options.projections = {"nonsense"};
  EXPECT_EQ(RebuildAndSwap(*store_, options, {}).code(), StatusCode::kInvalidArgument);
  options.runner.schema = schema_ + "_absent";
  options.projections = {"leases"};
  EXPECT_EQ(RebuildAndSwap(*store_, options, {}).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace remotegpu::projections
