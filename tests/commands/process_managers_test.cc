#include "commands/process_managers.h"

#include <gtest/gtest.h>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kDay = 24 * 3600 * kSecond;

class ProcessManagersTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    lease_cache_ = std::make_unique<AggregateCache<LeaseTraits>>(*store_);
    leases_ = std::make_unique<LeaseService>(*store_, clock_, *index_, *host_cache_,
                                             *lease_cache_, host_locks_);
  }
  void TearDown() override {
    leases_.reset();
    lease_cache_.reset();
    ServiceTest::TearDown();
  }

  domain::CreateLease LeaseOf(std::vector<std::string> hosts, uint32_t months = 1) {
    domain::CreateLease create;
    create.set_customer_id("acme");
    for (auto& h : hosts) create.add_host_ids(h);
    create.set_months(months);
    return create;
  }

  std::unique_ptr<AggregateCache<LeaseTraits>> lease_cache_;
  std::unique_ptr<LeaseService> leases_;
};

TEST_F(ProcessManagersTest, SilentHostsGoOfflineAndComeBackOnHeartbeat) {
  RegisterHost("host-1", 2);
  RegisterHost("host-2", 2);
  OfflineDetector detector(*hosts_service_, *index_, clock_);
  clock_.Advance(20 * kSecond);
  ASSERT_TRUE(detector.Heartbeat("host-1", meta_).ok());
  EXPECT_EQ(*detector.Tick(meta_), 0);  // Nobody silent for 30 s yet.
  clock_.Advance(15 * kSecond);          // host-2 silent 35 s, host-1 15 s.
  EXPECT_EQ(*detector.Tick(meta_), 1);
  EXPECT_FALSE(FoldFromLog("host-2").online);
  EXPECT_TRUE(FoldFromLog("host-1").online);
  EXPECT_EQ(*detector.Tick(meta_), 0);  // Already offline: no new event.

  // Offline hosts get no placements.
  for (int i = 0; i < 2; ++i) {
    auto placed = environments_service_->Create("env-" + std::to_string(i), Spec(1), meta_);
    ASSERT_TRUE(placed.ok());
    EXPECT_EQ(placed->placement.host_id(), "host-1");
  }
  EXPECT_FALSE(environments_service_->Create("env-9", Spec(1), meta_).ok());

  ASSERT_TRUE(detector.Heartbeat("host-2", meta_).ok());
  EXPECT_TRUE(FoldFromLog("host-2").online);
  EXPECT_TRUE(environments_service_->Create("env-10", Spec(1), meta_).ok());
}

TEST_F(ProcessManagersTest, LeaseTakesWholeMachinesAtomically) {
  RegisterHost("host-1", 4);
  RegisterHost("host-2", 4);
  RegisterHost("host-3", 4);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());  // On some host.
  const std::string busy = FoldFromLog("host-1").allocations.empty() ? "host-2" : "host-1";

  // A busy machine cannot be leased; nothing of the lease is written.
  const uint64_t before = store_->LastPosition();
  auto refused = leases_->Create("lease-1", LeaseOf({"host-3", busy}), meta_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(busy), std::string::npos);
  EXPECT_EQ(store_->LastPosition(), before);

  auto leased = leases_->Create("lease-1", LeaseOf({"host-3"}), meta_);
  ASSERT_TRUE(leased.ok()) << leased.status().ToString();
  EXPECT_TRUE(FoldFromLog("host-3").leased);
  EXPECT_EQ(lease_cache_->Load("lease-1")->state.status, domain::ACTIVE);
  // Environments of others never land on the leased machine.
  for (int i = 2; i < 8; ++i) {
    auto placed = environments_service_->Create("env-" + std::to_string(i), Spec(1), meta_);
    ASSERT_TRUE(placed.ok());
    EXPECT_NE(placed->placement.host_id(), "host-3");
  }
}

TEST_F(ProcessManagersTest, LeasesExpireOnScheduleAndReleaseTheirMachines) {
  RegisterHost("host-1", 8);
  ASSERT_TRUE(leases_->Create("lease-1", LeaseOf({"host-1"}, 1), meta_).ok());
  const int64_t expires = lease_cache_->Load("lease-1")->state.expires_at_us;
  LeaseExpiryProcess expiry(*leases_);

  clock_.Set(expires - 8 * kDay);
  EXPECT_EQ(*expiry.Tick(meta_), 0);
  clock_.Set(expires - 7 * kDay);
  EXPECT_EQ(*expiry.Tick(meta_), 1);
  EXPECT_EQ(lease_cache_->Load("lease-1")->state.status, domain::EXPIRING);
  EXPECT_TRUE(FoldFromLog("host-1").leased);

  clock_.Set(expires);
  EXPECT_EQ(*expiry.Tick(meta_), 1);
  EXPECT_EQ(lease_cache_->Load("lease-1")->state.status, domain::EXPIRED);
  EXPECT_FALSE(FoldFromLog("host-1").leased);
  EXPECT_TRUE(FoldFromLog("host-1").allocations.empty());
  EXPECT_TRUE(leases_->OpenLeases().empty());
  EXPECT_TRUE(environments_service_->Create("env-1", Spec(8), meta_).ok());
}

TEST_F(ProcessManagersTest, ExtendAndReclaim) {
  RegisterHost("host-1", 2);
  ASSERT_TRUE(leases_->Create("lease-1", LeaseOf({"host-1"}, 1), meta_).ok());
  const int64_t expires = lease_cache_->Load("lease-1")->state.expires_at_us;
  ASSERT_TRUE(leases_->Extend("lease-1", 2, meta_).ok());
  EXPECT_EQ(lease_cache_->Load("lease-1")->state.expires_at_us, domain::AddMonths(expires, 2));
  auto reclaimed = leases_->Reclaim("lease-1", "contract ended early", meta_);
  ASSERT_TRUE(reclaimed.ok());
  EXPECT_FALSE(FoldFromLog("host-1").leased);
  EXPECT_EQ(leases_->Reclaim("lease-1", "again", meta_).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(ProcessManagersTest, OpenLeasesAreRecoveredFromTheLog) {
  RegisterHost("host-1", 1);
  RegisterHost("host-2", 1);
  ASSERT_TRUE(leases_->Create("lease-1", LeaseOf({"host-1"}), meta_).ok());
  ASSERT_TRUE(leases_->Create("lease-2", LeaseOf({"host-2"}), meta_).ok());
  ASSERT_TRUE(leases_->Reclaim("lease-2", "done", meta_).ok());
  LeaseService fresh(*store_, clock_, *index_, *host_cache_, *lease_cache_, host_locks_);
  ASSERT_TRUE(fresh.Recover().ok());
  EXPECT_EQ(fresh.OpenLeases(), (std::set<std::string>{"lease-1"}));
}

TEST_F(ProcessManagersTest, ReconcilerReleasesAllocationsWhoseHolderIsGone) {
  RegisterHost("host-1", 2);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());
  ASSERT_TRUE(environments_service_->Create("env-2", Spec(1), meta_).ok());
  AllocationReconciler reconciler(*hosts_service_, *index_, *env_cache_, *lease_cache_);
  EXPECT_EQ(*reconciler.Tick(meta_), 0);  // Everyone holds what they should.

  // Another process deleted env-1 without releasing its host (say it died
  // between two appends of an older protocol).
  domain::EnvironmentEvent deleted;
  deleted.mutable_status_changed()->set_from(domain::SCHEDULED);
  deleted.mutable_status_changed()->set_to(domain::DELETED);
  ASSERT_TRUE(store_
                  ->Append({{"env-1", eventstore::ExpectedVersion::Exact(2),
                             ToEventData(std::vector<domain::EnvironmentEvent>{deleted}, meta_,
                                         clock_.NowMicros())}})
                  .ok());
  EXPECT_EQ(*reconciler.Tick(meta_), 1);
  domain::HostState host = FoldFromLog("host-1");
  ASSERT_EQ(host.allocations.size(), 1u);
  EXPECT_EQ(host.allocations.begin()->second.holder, "env-2");
  EXPECT_EQ(*reconciler.Tick(meta_), 0);
}

}  // namespace
}  // namespace remotegpu::commands
