// Quotas on the command side, over a real RocksDB store: reservations ride
// in the environment's own append, so racing creations never exceed them.
#include "commands/quota_service.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

constexpr char kCustomer[] = "customer-acme";

class QuotaServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    quotas_ = std::make_unique<QuotaService>(*store_, clock_);
  }

  void SetQuota(domain::QuotaLevel level, const domain::QuotaOverrides& overrides = {}) {
    auto set = quotas_->Set(kCustomer, level, overrides, meta_);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
  }

  QuotaView View() {
    auto view = quotas_->Get(kCustomer);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : QuotaView{};
  }

  std::unique_ptr<QuotaService> quotas_;
};

// The racing test: many concurrent creations against a quota of N
// end with exactly N environments, and the quota stream agrees.
TEST_F(QuotaServiceTest, RacingCreationsEndWithExactlyTheQuota) {
  constexpr int kQuota = 5;
  constexpr int kThreads = 16;
  for (int h = 0; h < 4; ++h) RegisterHost("host-" + std::to_string(h), 8);
  domain::QuotaOverrides overrides;
  overrides.set_environments(kQuota);
  overrides.set_cpu_cores(1000);
  overrides.set_memory_mb(1 << 30);
  overrides.set_gpu_count(100);
  SetQuota(domain::QUOTA_PRO, overrides);

  std::atomic<int> created{0}, refused{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto placed =
          environments_service_->Create("env-race-" + std::to_string(t), Spec(1, kCustomer), meta_);
      if (placed.ok()) {
        ++created;
      } else if (placed.status().code() == StatusCode::kQuotaExceeded) {
        ++refused;
      } else {
        std::lock_guard lock(mu);
        unexpected.push_back(placed.status().ToString());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_EQ(created.load(), kQuota);
  EXPECT_EQ(refused.load(), kThreads - kQuota);

  // The log holds exactly kQuota environments, each with its reservation.
  int streams = 0;
  for (int t = 0; t < kThreads; ++t) {
    auto events = store_->ReadStream("env-race-" + std::to_string(t), {.max_count = 10});
    ASSERT_TRUE(events.ok());
    if (!events->empty()) ++streams;
  }
  EXPECT_EQ(streams, kQuota);
  const QuotaView view = View();
  EXPECT_EQ(view.used.environments(), static_cast<uint32_t>(kQuota));
  EXPECT_EQ(view.used.gpu_count(), static_cast<uint32_t>(kQuota));
  EXPECT_EQ(view.reserved.size(), static_cast<size_t>(kQuota));
}

TEST_F(QuotaServiceTest, DeletingGivesTheShareBackAndStoppingKeepsIt) {
  RegisterHost("host-1", 8);
  SetQuota(domain::QUOTA_FREE);  // 1 GPU, 2 environments.
  ASSERT_TRUE(environments_service_->Create("env-a", Spec(1, kCustomer), meta_).ok());
  auto second_gpu = environments_service_->Create("env-b", Spec(1, kCustomer), meta_);
  ASSERT_EQ(second_gpu.status().code(), StatusCode::kQuotaExceeded);
  // Refused by quota: nothing of env-b was written.
  EXPECT_TRUE(store_->ReadStream("env-b", {.max_count = 10})->empty());

  ASSERT_TRUE(environments_service_->ChangeStatus("env-a", domain::STOPPING, "", meta_).ok());
  ASSERT_TRUE(environments_service_->ChangeStatus("env-a", domain::STOPPED, "", meta_).ok());
  EXPECT_EQ(View().used.gpu_count(), 1u);  // A stopped environment keeps its share.
  EXPECT_EQ(environments_service_->Create("env-b", Spec(1, kCustomer), meta_).status().code(),
            StatusCode::kQuotaExceeded);

  const uint64_t before = store_->LastPosition();
  auto deleted = environments_service_->ChangeStatus("env-a", domain::DELETED, "", meta_);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  // One append: the environment's deletion and the quota's release.
  auto appended = store_->ReadAll(before + 1, 10);
  ASSERT_TRUE(appended.ok());
  ASSERT_EQ(appended->size(), 2u);
  EXPECT_EQ((*appended)[1].stream_id, std::string("quota-") + kCustomer);
  EXPECT_EQ((*appended)[1].data.type, "QuotaReleased");
  EXPECT_EQ(View().used.environments(), 0u);
  ASSERT_TRUE(environments_service_->Create("env-b", Spec(1, kCustomer), meta_).ok());
}

TEST_F(QuotaServiceTest, AnEnvironmentThatDidNotFitStillHoldsItsShare) {
  RegisterHost("host-1", 1);
  SetQuota(domain::QUOTA_BASIC);  // 4 GPUs.
  auto unplaced = environments_service_->Create("env-big", Spec(2, kCustomer), meta_);
  ASSERT_EQ(unplaced.status().code(), StatusCode::kResourceExhausted);
  // It exists (and may be started later), so it counts.
  EXPECT_EQ(View().used.gpu_count(), 2u);
  EXPECT_EQ(View().reserved.count("env-big"), 1u);
}

TEST_F(QuotaServiceTest, OwnersWithoutAQuotaAreNotLimited) {
  RegisterHost("host-1", 8);
  // Not a customer, and a customer whose quota was never set.
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(
        environments_service_->Create("env-ops-" + std::to_string(i), Spec(1, "ops"), meta_).ok());
  }
  EXPECT_TRUE(environments_service_->Create("env-old", Spec(1, "customer-old"), meta_).ok());
  auto view = quotas_->Get("customer-old");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->set);
  EXPECT_EQ(quotas_->Get("ops").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace remotegpu::commands
