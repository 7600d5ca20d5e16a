// Quotas over real HTTP against `remotegpu serve`: what a customer sees,
// what an admin sets, and creations refused (and racing) at the limit.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class QuotaApiTest : public ApiTest {
 protected:
  static void SetUpTestSuite() {
    ApiTest::SetUpTestSuite();
    for (const char* host : {"host-quota-1", "host-quota-2", "host-quota-3"}) {
      ASSERT_EQ(Post("/api/cmdb/hosts", HostForm(host)).status, 201);
    }
  }

  static nlohmann::json Form(int gpus) {
    return {{"name", "job"},     {"image", "pytorch"}, {"cpu_cores", 1},
            {"memory_mb", 1024}, {"gpu_count", gpus},  {"storage_gb", 10}};
  }
};

TEST_F(QuotaApiTest, CustomersSeeTheirQuotaAndAreStoppedAtIt) {
  std::string customer_id;
  const std::string user = CustomerUser("Quota Co", "quota-user", &customer_id, "free");
  Reply quota = As(user, http::verb::get, "/api/users/me/quota");
  ASSERT_EQ(quota.status, 200) << quota.raw;
  EXPECT_EQ(quota.body["data"]["level"], "free");
  EXPECT_EQ(quota.body["data"]["limits"]["gpu_count"], 1);
  EXPECT_EQ(quota.body["data"]["limits"]["environments"], 2);

  Reply first = As(user, http::verb::post, "/api/environments", Form(1));
  ASSERT_EQ(first.status, 201) << first.raw;
  const uint64_t before = LogPosition();
  Reply second = As(user, http::verb::post, "/api/environments", Form(1));
  EXPECT_EQ(second.status, 403) << second.raw;
  EXPECT_EQ(second.body["reason"], "QUOTA_EXCEEDED");
  EXPECT_NE(second.body["message"].get<std::string>().find("gpu_count"), std::string::npos);
  EXPECT_EQ(LogPosition(), before);  // Refused: nothing written.

  Reply usage = As(user, http::verb::get, "/api/users/me/quota/usage");
  ASSERT_EQ(usage.status, 200) << usage.raw;
  EXPECT_EQ(usage.body["data"]["used"]["gpu_count"], 1);
  EXPECT_EQ(usage.body["data"]["used"]["storage_gb"], 10);
  EXPECT_EQ(usage.body["data"]["available"]["gpu_count"], 0);
  EXPECT_EQ(usage.body["data"]["available"]["environments"], 1);
  ASSERT_EQ(usage.body["data"]["environments"].size(), 1u);
  EXPECT_EQ(usage.body["data"]["environments"][0]["env_id"], first.body["data"]["env_id"]);

  // An admin raises the GPU limit for this customer only.
  Reply raised = Put("/api/admin/customers/" + customer_id + "/quota",
                     {{"level", "free"}, {"overrides", {{"gpu_count", 3}}}});
  ASSERT_EQ(raised.status, 200) << raised.raw;
  EXPECT_EQ(raised.body["data"]["limits"]["gpu_count"], 3);
  EXPECT_EQ(raised.body["data"]["overrides"], nlohmann::json({{"gpu_count", 3}}));
  Reply now_fits = As(user, http::verb::post, "/api/environments", Form(2));
  ASSERT_EQ(now_fits.status, 201) << now_fits.raw;
  // Two environments is Free's limit, whatever the GPUs.
  Reply third = As(user, http::verb::post, "/api/environments", Form(0));
  EXPECT_EQ(third.body["reason"], "QUOTA_EXCEEDED") << third.raw;

  // Deleting gives the share back.
  const std::string env = first.body["data"]["env_id"].get<std::string>();
  ASSERT_EQ(As(user, http::verb::delete_, "/api/environments/" + env).status, 200);
  Reply after = Get("/api/admin/customers/" + customer_id + "/quota");
  ASSERT_EQ(after.status, 200) << after.raw;
  EXPECT_EQ(after.body["data"]["used"]["environments"], 1);
  EXPECT_EQ(after.body["data"]["used"]["gpu_count"], 2);
  EXPECT_EQ(As(user, http::verb::post, "/api/environments", Form(0)).status, 201);
}

TEST_F(QuotaApiTest, RacingCreationsOverHttpEndAtTheQuota) {
  std::string customer_id;
  const std::string user = CustomerUser("Race Co", "race-user", &customer_id, "pro");
  ASSERT_EQ(Put("/api/admin/customers/" + customer_id + "/quota",
                {{"level", "pro"}, {"overrides", {{"environments", 3}}}})
                .status,
            200);
  constexpr int kCallers = 10;
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      Reply reply = As(user, http::verb::post, "/api/environments", Form(0));
      if (reply.status == 201) {
        ++created;
      } else if (reply.status == 403 && reply.body["reason"] == "QUOTA_EXCEEDED") {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(created.load(), 3);
  EXPECT_EQ(refused.load(), kCallers - 3);
  EXPECT_EQ(other.load(), 0);
  Reply usage = As(user, http::verb::get, "/api/users/me/quota/usage");
  EXPECT_EQ(usage.body["data"]["used"]["environments"], 3);
}

TEST_F(QuotaApiTest, BadQuotaFormsAndCallersAreClearErrors) {
  std::string customer_id;
  const std::string user = CustomerUser("Forms Co", "forms-user", &customer_id, "basic");
  const std::string target = "/api/admin/customers/" + customer_id + "/quota";
  for (const nlohmann::json& bad :
       {nlohmann::json({{"level", "gold"}}), nlohmann::json({{"overrides", {{"gpu_count", 1}}}}),
        nlohmann::json({{"level", "pro"}, {"overrides", {{"gpus", 1}}}}),
        nlohmann::json({{"level", "pro"}, {"overrides", {{"gpu_count", -1}}}}),
        nlohmann::json({{"level", "pro"}, {"overrides", {{"gpu_count", "2"}}}}),
        nlohmann::json({{"level", "pro"}, {"extra", true}})}) {
    Reply reply = Put(target, bad);
    EXPECT_EQ(reply.status, 400) << bad.dump() << " " << reply.raw;
  }
  EXPECT_EQ(Get(target).body["data"]["level"], "basic");  // Unchanged.
  EXPECT_EQ(Put("/api/admin/customers/customer-nobody/quota", {{"level", "pro"}}).status, 404);
  EXPECT_EQ(Get("/api/admin/customers/customer-nobody/quota").status, 404);
  EXPECT_EQ(As(user, http::verb::put, target, {{"level", "enterprise"}}).status, 403);
  EXPECT_EQ(Post("/api/admin/customers", {{"name", "X"}, {"quota_level", "gold"}}).status, 400);
  // A platform admin has no quota of its own.
  EXPECT_EQ(Get("/api/users/me/quota").status, 404);
}

}  // namespace
}  // namespace remotegpu::api
