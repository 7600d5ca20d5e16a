// Authentication, authorization and tenancy over real HTTP against
// `remotegpu serve`: logins and tokens, API keys, customers kept apart, and a
// sweep of every route in the OpenAPI document.
#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class AuthApiTest : public ApiTest {
 protected:
  static nlohmann::json EnvironmentForm() {
    return {{"name", "job"},     {"image", "pytorch"}, {"cpu_cores", 1},
            {"memory_mb", 1024}, {"gpu_count", 1},     {"ports", {{"ssh", 1}}}};
  }
};

TEST_F(AuthApiTest, LogInRefreshLogOut) {
  EXPECT_EQ(Anonymous(http::verb::get, "/api/users/me").status, 401);
  Reply wrong = Anonymous(http::verb::post, "/api/auth/login",
                          {{"username", "admin"}, {"password", "not the password 1"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body["reason"], "UNAUTHENTICATED");
  Reply login = Anonymous(http::verb::post, "/api/auth/login",
                          {{"username", "admin"}, {"password", testing_http::kAdminPassword}});
  ASSERT_EQ(login.status, 200) << login.raw;
  EXPECT_EQ(login.body["data"]["expires_in"], 900);
  EXPECT_EQ(login.raw.find("$argon2id$"), std::string::npos);
  const std::string bearer = "Bearer " + login.body["data"]["token"].get<std::string>();
  Reply me = As(bearer, http::verb::get, "/api/users/me");
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["data"]["username"], "admin");
  EXPECT_EQ(me.body["data"]["role"], "admin");

  Reply refreshed = Anonymous(http::verb::post, "/api/auth/refresh",
                              {{"refresh_token", login.body["data"]["refresh_token"]}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.raw;
  // The old refresh token is spent; presenting it again ends the session.
  EXPECT_EQ(Anonymous(http::verb::post, "/api/auth/refresh",
                      {{"refresh_token", login.body["data"]["refresh_token"]}})
                .status,
            401);
  EXPECT_EQ(As(bearer, http::verb::get, "/api/users/me").status, 401);

  Reply again = Anonymous(http::verb::post, "/api/auth/login",
                          {{"username", "admin"}, {"password", testing_http::kAdminPassword}});
  const std::string second = "Bearer " + again.body["data"]["token"].get<std::string>();
  ASSERT_EQ(As(second, http::verb::post, "/api/auth/logout", nlohmann::json::object()).status, 200);
  EXPECT_EQ(As(second, http::verb::get, "/api/users/me").status, 401);
}

TEST_F(AuthApiTest, TamperedAndForeignTokensAreRefused) {
  const std::string token = testing_http::DefaultAuthorization().substr(7);
  std::string tampered = token;
  tampered[tampered.find('.') + 3] ^= 1;  // A byte of the claims.
  for (const std::string& bad :
       {tampered, token + "x", std::string("not.a.jwt"),
        // {"alg":"none"} with no signature.
        std::string("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJzaWQiOiJzIn0."),
        std::string("rgk.0000000000000000.secret")}) {
    Reply reply = As("Bearer " + bad, http::verb::get, "/api/users/me");
    EXPECT_EQ(reply.status, 401) << bad;
  }
}

TEST_F(AuthApiTest, CustomersSeeOnlyTheirOwnEnvironments) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-tenancy")).status, 201);
  std::string acme_id;
  const std::string acme = CustomerUser("Acme", "alice", &acme_id);
  const std::string globex = CustomerUser("Globex", "bob");

  Reply created = As(acme, http::verb::post, "/api/environments", EnvironmentForm());
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string env = created.body["data"]["env_id"].get<std::string>();
  const std::string position = std::to_string(created.body["data"]["position"].get<uint64_t>());
  // Someone else's customer as owner is refused.
  nlohmann::json foreign = EnvironmentForm();
  foreign["owner"] = "customer-someone-else";
  EXPECT_EQ(As(acme, http::verb::post, "/api/environments", foreign).status, 403);

  Reply mine = Call(port_, http::verb::get, "/api/environments/" + env, "",
                    {{"Authorization", acme}, {"X-Min-Position", position}});
  EXPECT_EQ(mine.status, 200) << mine.raw;
  EXPECT_EQ(mine.body["data"]["owner"], acme_id);
  // To another tenant the environment does not exist, whatever is asked.
  EXPECT_EQ(As(globex, http::verb::get, "/api/environments/" + env).status, 404);
  EXPECT_EQ(As(globex, http::verb::get, "/api/environments/" + env + "/access").status, 404);
  EXPECT_EQ(
      As(globex, http::verb::post, "/api/environments/" + env + "/stop", nlohmann::json::object())
          .status,
      404);
  EXPECT_EQ(As(globex, http::verb::delete_, "/api/environments/" + env).status, 404);
  Reply theirs = Call(port_, http::verb::get, "/api/environments?owner=" + acme_id, "",
                      {{"Authorization", globex}, {"X-Min-Position", position}});
  ASSERT_EQ(theirs.status, 200);
  EXPECT_EQ(theirs.body["data"]["total"], 0);
  Reply own = Call(port_, http::verb::get, "/api/environments", "",
                   {{"Authorization", acme}, {"X-Min-Position", position}});
  EXPECT_EQ(own.body["data"]["total"], 1);
  // Admin routes are an admin's.
  EXPECT_EQ(As(acme, http::verb::get, "/api/cmdb/hosts").status, 403);
  EXPECT_EQ(As(acme, http::verb::post, "/api/admin/customers", {{"name", "x"}}).status, 403);
  // The owner reaches it, and the admin sees everything.
  EXPECT_EQ(As(acme, http::verb::get, "/api/environments/" + env + "/access").status, 200);
  EXPECT_EQ(Get("/api/environments/" + env).status, 200);
}

TEST_F(AuthApiTest, DisablingACustomerStopsItsTokensAndKeysAtOnce) {
  std::string id;
  const std::string token = CustomerUser("Initech", "carol", &id);
  Reply key = As(token, http::verb::post, "/api/auth/api-keys", {{"name", "ci"}});
  ASSERT_EQ(key.status, 201) << key.raw;
  const std::string api_key = key.body["data"]["key"].get<std::string>();
  Reply by_key = Call(port_, http::verb::get, "/api/users/me", "",
                      {{"Authorization", ""}, {"X-Api-Key", api_key}});
  ASSERT_EQ(by_key.status, 200);
  EXPECT_EQ(by_key.body["data"]["credential"], "api_key");

  ASSERT_EQ(
      Put("/api/admin/customers/" + id + "/status", {{"enabled", false}, {"reason", "unpaid"}})
          .status,
      200);
  EXPECT_EQ(As(token, http::verb::get, "/api/users/me").status, 401);
  EXPECT_EQ(Call(port_, http::verb::get, "/api/users/me", "",
                 {{"Authorization", ""}, {"X-Api-Key", api_key}})
                .status,
            401);
  EXPECT_EQ(Anonymous(http::verb::post, "/api/auth/login",
                      {{"username", "carol"}, {"password", "a good password 7"}})
                .status,
            401);
  ASSERT_EQ(Put("/api/admin/customers/" + id + "/status", {{"enabled", true}}).status, 200);
  EXPECT_EQ(As(token, http::verb::get, "/api/users/me").status, 200);
}

TEST_F(AuthApiTest, ApiKeysAreShownOnceAndStopWhenDeleted) {
  const std::string dave = CustomerUser("Umbrella", "dave");
  const std::string erin = CustomerUser("Hooli", "erin");
  Reply created =
      As(dave, http::verb::post, "/api/auth/api-keys", {{"name", "deploy"}, {"expires_in", 3600}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string key = created.body["data"]["key"].get<std::string>();
  const std::string id = created.body["data"]["id"].get<std::string>();
  EXPECT_TRUE(key.starts_with(created.body["data"]["prefix"].get<std::string>()));
  Reply listed = As(dave, http::verb::get, "/api/auth/api-keys");
  ASSERT_EQ(listed.body["data"]["total"], 1);
  EXPECT_EQ(listed.raw.find(key), std::string::npos) << "the secret is shown only once";
  EXPECT_EQ(As("Bearer " + key, http::verb::get, "/api/users/me").status, 200);
  // Another user cannot see or delete it.
  EXPECT_EQ(As(erin, http::verb::delete_, "/api/auth/api-keys/" + id).status, 404);
  EXPECT_EQ(As(erin, http::verb::get, "/api/auth/api-keys").body["data"]["total"], 0);
  ASSERT_EQ(As(dave, http::verb::delete_, "/api/auth/api-keys/" + id).status, 200);
  EXPECT_EQ(As("Bearer " + key, http::verb::get, "/api/users/me").status, 401);
  EXPECT_EQ(
      As(dave, http::verb::post, "/api/auth/api-keys", {{"name", "x"}, {"expires_in", 1}}).status,
      400);
}

TEST_F(AuthApiTest, BadAccountFormsAreClearErrors) {
  EXPECT_EQ(
      Post("/api/admin/users", {{"username", "frank"}, {"password", "short"}, {"role", "admin"}})
          .status,
      400);
  EXPECT_EQ(Post("/api/admin/users", {{"username", "frank"},
                                      {"password", "a good password 7"},
                                      {"customer_id", "customer-nope"}})
                .status,
            404);
  EXPECT_EQ(Post("/api/admin/users",
                 {{"username", "admin"}, {"password", "a good password 7"}, {"role", "admin"}})
                .status,
            409);
  EXPECT_EQ(Post("/api/admin/users",
                 {{"username", "frank"}, {"password", "a good password 7"}, {"role", "root"}})
                .status,
            400);
  EXPECT_EQ(Post("/api/admin/customers", {{"name", "x"}, {"tier", "gold"}}).status, 400);
  Reply users = Get("/api/admin/customers");
  EXPECT_EQ(users.raw.find("$argon2id$"), std::string::npos);
}

// Every route in the OpenAPI document: without credentials 401 (public ones
// aside), with a customer's credentials 403 on every admin route, and never
// 401 or 403 on the routes open to users.
TEST_F(AuthApiTest, AgentTokensSpeakForTheirHostOnly) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-agent-a")).status, 201);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-agent-b")).status, 201);
  Reply minted = Post("/api/admin/hosts/host-agent-a/agent-tokens", {{"name", "agent a"}});
  ASSERT_EQ(minted.status, 201) << minted.raw;
  EXPECT_EQ(minted.body["data"]["host_id"], "host-agent-a");
  const std::string agent = "Bearer " + minted.body["data"]["key"].get<std::string>();
  EXPECT_EQ(Post("/api/admin/hosts/host-nowhere/agent-tokens", {{"name", "x"}}).status, 404);

  // One environment on each host.
  auto place = [](const std::string& host) {
    Reply placed = Post("/api/environments", {{"name", "job"},
                                              {"owner", "acme"},
                                              {"image", "pytorch"},
                                              {"cpu_cores", 1},
                                              {"memory_mb", 1024},
                                              {"host_id", host}});
    EXPECT_EQ(placed.status, 201) << placed.raw;
    return placed.body["data"]["env_id"].get<std::string>();
  };
  const std::string on_a = place("host-agent-a");
  const std::string on_b = place("host-agent-b");
  Reply reported = As(agent, http::verb::post, "/internal/environments/" + on_a + "/status",
                      {{"status", "starting"}});
  EXPECT_EQ(reported.status, 200) << reported.raw;
  EXPECT_EQ(As(agent, http::verb::post, "/internal/environments/" + on_b + "/status",
               {{"status", "starting"}})
                .status,
            404);
  // Not an admin, though an admin minted it; the event names the agent.
  EXPECT_EQ(As(agent, http::verb::get, "/api/cmdb/hosts").status, 403);
  EXPECT_EQ(As(agent, http::verb::get, "/api/users/me").status, 403);
  Reply trail = Get("/api/audit/events?stream_prefix=" + on_a);
  ASSERT_EQ(trail.status, 200) << trail.raw;
  EXPECT_NE(trail.raw.find("\"agent\""), std::string::npos) << trail.raw;
}

TEST_F(AuthApiTest, PasswordResetThroughTheOutbox) {
  std::string customer_id;
  const std::string before = CustomerUser("Forgetful Co", "forgetful", &customer_id);
  Reply asked =
      Anonymous(http::verb::post, "/api/auth/password-reset", {{"username", "forgetful"}});
  ASSERT_EQ(asked.status, 202) << asked.raw;
  Reply nobody = Anonymous(http::verb::post, "/api/auth/password-reset", {{"username", "nobody"}});
  EXPECT_EQ(nobody.status, 202);
  EXPECT_EQ(nobody.body["data"], asked.body["data"]);  // Reveals nothing.
  EXPECT_EQ(As(before, http::verb::get, "/api/admin/notifications").status, 403);

  const std::string user_id = As(before, http::verb::get, "/api/users/me").body["data"]["user_id"];
  Reply queued = Get("/api/admin/notifications?user_id=" + user_id);
  ASSERT_EQ(queued.status, 200) << queued.raw;
  ASSERT_EQ(queued.body["data"]["total"], 1);
  const std::string body = queued.body["data"]["list"][0]["body"].get<std::string>();
  const std::string code = body.substr(body.find("code is ") + 8, 8);

  Reply wrong = Anonymous(http::verb::post, "/api/auth/password-reset/confirm",
                          {{"username", "forgetful"},
                           {"code", code == "00000000" ? "11111111" : "00000000"},
                           {"password", "a newer password 8"}});
  EXPECT_EQ(wrong.status, 401) << wrong.raw;
  Reply done =
      Anonymous(http::verb::post, "/api/auth/password-reset/confirm",
                {{"username", "forgetful"}, {"code", code}, {"password", "a newer password 8"}});
  ASSERT_EQ(done.status, 200) << done.raw;
  EXPECT_EQ(As(before, http::verb::get, "/api/users/me").status, 401);  // Logged out everywhere.
  EXPECT_EQ(Anonymous(http::verb::post, "/api/auth/login",
                      {{"username", "forgetful"}, {"password", "a newer password 8"}})
                .status,
            200);
  EXPECT_EQ(Anonymous(http::verb::post, "/api/auth/password-reset/confirm",
                      {{"username", "forgetful"}, {"code", code}})
                .status,
            400);
  EXPECT_EQ(Get("/api/admin/notifications?limit=0").status, 400);
}

TEST_F(AuthApiTest, RouteSweepEveryRouteDeclaresAndEnforcesWhoMayCall) {
  std::string customer = CustomerUser("Sweep Corp", "sweeper");
  auto log_in_again = [&] {
    Reply login = Anonymous(http::verb::post, "/api/auth/login",
                            {{"username", "sweeper"}, {"password", "a good password 7"}});
    customer = "Bearer " + login.body["data"]["token"].get<std::string>();
  };
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-sweep")).status, 201);
  Reply minted = Post("/api/admin/hosts/host-sweep/agent-tokens", {{"name", "sweep agent"}});
  ASSERT_EQ(minted.status, 201) << minted.raw;
  const std::string agent = "Bearer " + minted.body["data"]["key"].get<std::string>();
  Reply document = Anonymous(http::verb::get, "/api/openapi.json");
  ASSERT_EQ(document.status, 200);
  int checked = 0;
  for (const auto& [path, operations] : document.body["paths"].items()) {
    std::string target;
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '{') {
        target += "x-sweep";
        i = path.find('}', i);
      } else {
        target += path[i];
      }
    }
    for (const auto& [method, operation] : operations.items()) {
      const http::verb verb = http::string_to_verb(std::string(method == "get"    ? "GET"
                                                               : method == "post" ? "POST"
                                                               : method == "put"  ? "PUT"
                                                                                  : "DELETE"));
      const std::string access = operation["x-access"].get<std::string>();
      const nlohmann::json body = verb == http::verb::get ? nullptr : nlohmann::json::object();
      const int anonymous = Anonymous(verb, target, body).status;
      const int as_customer = As(customer, verb, target, body).status;
      const int as_agent = As(agent, verb, target, body).status;
      if (path == "/api/auth/logout") log_in_again();  // That call ended the session.
      if (access == "public") {
        EXPECT_NE(anonymous, 401) << method << " " << path;
      } else {
        EXPECT_EQ(anonymous, 401) << method << " " << path;
        EXPECT_NE(as_customer, 401) << method << " " << path;
      }
      if (access == "admin" || access == "agent") {
        EXPECT_EQ(as_customer, 403) << method << " " << path;
      } else {
        EXPECT_NE(as_customer, 403) << method << " " << path;
      }
      // An agent token reaches the agent routes and nothing else.
      if (access == "agent") {
        EXPECT_NE(as_agent, 403) << method << " " << path;
        EXPECT_NE(as_agent, 401) << method << " " << path;
      } else if (access != "public") {
        EXPECT_EQ(as_agent, 403) << method << " " << path;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

}  // namespace
}  // namespace remotegpu::api
