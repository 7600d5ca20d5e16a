// Gateway protections: the token bucket and CORS on their own (manual
// clock), then over real HTTP against `remotegpu serve` with a low limit:
// 429 with Retry-After, admins unthrottled, preflights, request ids in
// responses and in the server's log lines.
#include "api/http/gateway.h"

#include <gtest/gtest.h>

#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

using testing_http::Call;
using testing_http::Reply;
namespace http = testing_http::http;

TEST(RateLimiter, BurstThenTheRateWithRetryAfter) {
  ManualClock clock(1'000'000'000);
  RateLimiter limiter(/*per_second=*/2, /*burst=*/3, clock);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Admit("user-a")) << i;
  auto refused = limiter.Admit("user-a");
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, 1);
  EXPECT_FALSE(limiter.Admit("user-b"));  // Another caller has its own bucket.
  clock.Advance(500'000);                 // Half a second: one token at 2/s.
  EXPECT_FALSE(limiter.Admit("user-a"));
  EXPECT_TRUE(limiter.Admit("user-a"));
  clock.Advance(60'000'000);  // Long idle: back to the burst, not beyond.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Admit("user-a")) << i;
  EXPECT_TRUE(limiter.Admit("user-a"));
}

TEST(RateLimiter, SlowRatesAskForLongerWaits) {
  ManualClock clock(1'000'000'000);
  RateLimiter limiter(/*per_second=*/0.1, /*burst=*/1, clock);
  EXPECT_FALSE(limiter.Admit("k"));
  auto refused = limiter.Admit("k");
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, 10);
}

TEST(Cors, OnlyListedOriginsGetHeaders) {
  Cors cors({"https://console.example.com"});
  HttpRequest preflight;
  preflight.method = "OPTIONS";
  preflight.headers = {{"origin", "https://console.example.com"},
                       {"access-control-request-method", "POST"}};
  auto answer = cors.Preflight(preflight);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 204);
  EXPECT_EQ(answer->headers["Access-Control-Allow-Origin"], "https://console.example.com");
  EXPECT_NE(answer->headers["Access-Control-Allow-Headers"].find("Authorization"),
            std::string::npos);

  preflight.headers["origin"] = "https://evil.example.com";
  EXPECT_FALSE(cors.Preflight(preflight));
  HttpResponse plain;
  cors.Decorate(preflight, plain);
  EXPECT_TRUE(plain.headers.empty());

  Cors any({"*"});
  EXPECT_TRUE(any.Preflight(preflight));
  EXPECT_FALSE(Cors({}).enabled());
}

class GatewayApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    server_ = new testing_process::Server(
        testing_process::StartServer(REMOTEGPU_BIN, dir_->Sub("data"),
                                     {"--rate-limit", "1", "--rate-burst", "10", "--cors-origins",
                                      "https://console.example.com"}));
    ASSERT_NE(server_->port, 0) << server_->output;
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(WEXITSTATUS(testing_process::Terminate(*server_->process)), 0);
    delete server_;
    delete dir_;
  }
  static Reply Admin(http::verb verb, const std::string& target, const nlohmann::json& body = {}) {
    return Call(server_->port, verb, target, body.is_null() ? "" : body.dump());
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline testing_process::Server* server_ = nullptr;
};

TEST_F(GatewayApiTest, CustomersAreThrottledWithRetryAfterAndAdminsAreNot) {
  Reply customer = Admin(http::verb::post, "/api/admin/customers", {{"name", "Busy"}});
  ASSERT_EQ(customer.status, 201) << customer.raw;
  ASSERT_EQ(Admin(http::verb::post, "/api/admin/users",
                  {{"username", "busy"},
                   {"password", "a good password 7"},
                   {"customer_id", customer.body["data"]["customer_id"]}})
                .status,
            201);
  Reply key = Call(server_->port, http::verb::post, "/api/auth/login",
                   nlohmann::json{{"username", "busy"}, {"password", "a good password 7"}}.dump(),
                   {{"Authorization", ""}});
  ASSERT_EQ(key.status, 200) << key.raw;
  const std::string bearer = "Bearer " + key.body["data"]["token"].get<std::string>();
  int ok = 0;
  Reply limited;
  for (int i = 0; i < 15 && limited.status != 429; ++i) {
    Reply reply =
        Call(server_->port, http::verb::get, "/api/users/me", "", {{"Authorization", bearer}});
    if (reply.status == 200) {
      ++ok;
    } else {
      limited = reply;
    }
  }
  // A burst of 10 at 1/s: the eleventh call is refused (a few more pass if
  // seconds went by). Anonymous calls (logins) have their own bucket; this
  // suite makes fewer than 10 of them.
  EXPECT_GE(ok, 10);
  ASSERT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(limited.body["reason"], "RATE_LIMITED");
  EXPECT_EQ(limited.Header("retry-after"), "1");
  // The platform admin is not throttled.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Admin(http::verb::get, "/api/users/me").status, 200);
}

TEST_F(GatewayApiTest, PreflightsAndAnswersCarryCorsForTheConsoleOnly) {
  Reply preflight = Call(server_->port, http::verb::options, "/api/environments", "",
                         {{"Origin", "https://console.example.com"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "authorization, content-type"},
                          {"Authorization", ""}});
  EXPECT_EQ(preflight.status, 204) << preflight.raw;
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "https://console.example.com");
  EXPECT_NE(preflight.Header("access-control-allow-methods").find("DELETE"), std::string::npos);

  Reply answer = Call(server_->port, http::verb::get, "/api/users/me", "",
                      {{"Origin", "https://console.example.com"}});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.Header("access-control-allow-origin"), "https://console.example.com");
  EXPECT_NE(answer.Header("access-control-expose-headers").find("X-Request-Id"), std::string::npos);

  Reply foreign =
      Call(server_->port, http::verb::options, "/api/environments", "",
           {{"Origin", "https://evil.example.com"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(foreign.Header("access-control-allow-origin"), "");
  EXPECT_NE(foreign.status, 204);
}

TEST_F(GatewayApiTest, RequestIdsAreInTheResponseTheEnvelopeAndTheLog) {
  Reply generated = Admin(http::verb::get, "/api/users/me");
  EXPECT_FALSE(generated.Header("x-request-id").empty());
  EXPECT_EQ(generated.body["traceId"], generated.Header("x-request-id"));

  // A client's usable id is kept, everywhere.
  Reply login = Call(server_->port, http::verb::post, "/api/auth/login",
                     nlohmann::json{{"username", "admin"}, {"password", "wrong password 1"}}.dump(),
                     {{"Authorization", ""}, {"X-Request-Id", "probe-4711"}});
  EXPECT_EQ(login.status, 401);
  EXPECT_EQ(login.Header("x-request-id"), "probe-4711");
  EXPECT_EQ(login.body["traceId"], "probe-4711");
  // An unusable one (spaces, too long) is replaced.
  Reply odd = Call(server_->port, http::verb::get, "/api/users/me", "",
                   {{"X-Request-Id", "has spaces in it"}});
  EXPECT_NE(odd.Header("x-request-id"), "has spaces in it");

  // A line logged while serving a request names it: a reused refresh token
  // is logged as a warning.
  Reply first =
      Call(server_->port, http::verb::post, "/api/auth/login",
           nlohmann::json{{"username", "admin"}, {"password", testing_http::kAdminPassword}}.dump(),
           {{"Authorization", ""}});
  ASSERT_EQ(first.status, 200);
  const std::string refresh =
      nlohmann::json{{"refresh_token", first.body["data"]["refresh_token"]}}.dump();
  ASSERT_EQ(
      Call(server_->port, http::verb::post, "/api/auth/refresh", refresh, {{"Authorization", ""}})
          .status,
      200);
  EXPECT_EQ(Call(server_->port, http::verb::post, "/api/auth/refresh", refresh,
                 {{"Authorization", ""}, {"X-Request-Id", "reuse-probe-1"}})
                .status,
            401);
  const std::string log = testing_process::ReadUntil(*server_->process, "req=reuse-probe-1");
  EXPECT_NE(log.find("req=reuse-probe-1"), std::string::npos) << log;
  EXPECT_NE(log.find("reused"), std::string::npos) << log;
  // Nothing secret in the log: no password hash, no password, no token.
  const std::string everything = server_->output + log;
  EXPECT_EQ(everything.find("$argon2id$"), std::string::npos);
  EXPECT_EQ(everything.find(testing_http::kAdminPassword), std::string::npos);
  EXPECT_EQ(everything.find(first.body["data"]["refresh_token"].get<std::string>()),
            std::string::npos);
}

}  // namespace
}  // namespace remotegpu::api
