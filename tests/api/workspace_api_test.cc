// Workspaces over real HTTP against `remotegpu serve`: members and roles,
// check-permission, tenants kept apart, and a viewer who can read a
// workspace's environments but run no command on them.
#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

class WorkspaceApiTest : public ApiTest {
 protected:
  static void SetUpTestSuite() {
    ApiTest::SetUpTestSuite();
    ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-workspaces")).status, 201);
    alice_ = CustomerUser("Acme", "ws-alice", &acme_);
    globex_ = CustomerUser("Globex", "ws-dave");
    for (const char* name : {"ws-bob", "ws-carol"}) {
      ASSERT_EQ(
          Post("/api/admin/users",
               {{"username", name}, {"password", "a good password 7"}, {"customer_id", acme_}})
              .status,
          201);
    }
    bob_ = LogIn("ws-bob");
    carol_ = LogIn("ws-carol");
  }

  static std::string LogIn(const std::string& username) {
    Reply login = Anonymous(http::verb::post, "/api/auth/login",
                            {{"username", username}, {"password", "a good password 7"}});
    EXPECT_EQ(login.status, 200) << login.raw;
    return "Bearer " + login.body["data"]["token"].get<std::string>();
  }

  static std::string UserId(const std::string& bearer) {
    return As(bearer, http::verb::get, "/api/users/me").body["data"]["user_id"].get<std::string>();
  }

  // A team workspace of Acme owned by alice, bob a member, carol a viewer.
  static std::string TeamWorkspace() {
    Reply created =
        As(alice_, http::verb::post, "/api/workspaces", {{"name", "vision"}, {"kind", "team"}});
    EXPECT_EQ(created.status, 201) << created.raw;
    const std::string id = created.body["data"]["workspace_id"].get<std::string>();
    EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces/" + id + "/members",
                 {{"username", "ws-bob"}, {"role", "member"}})
                  .status,
              201);
    EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces/" + id + "/members",
                 {{"user_id", UserId(carol_)}, {"role", "viewer"}})
                  .status,
              201);
    return id;
  }

  static json Allowed(const std::string& bearer, const std::string& workspace,
                      const std::string& action) {
    Reply reply = As(bearer, http::verb::post, "/api/auth/check-permission",
                     {{"workspace_id", workspace}, {"action", action}});
    EXPECT_EQ(reply.status, 200) << reply.raw;
    return reply.body["data"];
  }

  static inline std::string acme_, alice_, bob_, carol_, globex_;
};

TEST_F(WorkspaceApiTest, MembersRolesAndCheckPermission) {
  const std::string ws = TeamWorkspace();
  Reply detail = As(bob_, http::verb::get, "/api/workspaces/" + ws);
  ASSERT_EQ(detail.status, 200) << detail.raw;
  EXPECT_EQ(detail.body["data"]["role"], "member");
  EXPECT_EQ(detail.body["data"]["members"].size(), 3u);
  Reply mine = As(carol_, http::verb::get, "/api/workspaces");
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.body["data"]["total"], 1);

  EXPECT_EQ(Allowed(carol_, ws, "read")["allowed"], true);
  EXPECT_EQ(Allowed(carol_, ws, "use")["allowed"], false);
  EXPECT_EQ(Allowed(carol_, ws, "use")["role"], "viewer");
  EXPECT_EQ(Allowed(bob_, ws, "use")["allowed"], true);
  EXPECT_EQ(Allowed(bob_, ws, "manage_members")["allowed"], false);
  EXPECT_EQ(Allowed(alice_, ws, "manage_owners")["allowed"], true);

  // A member may not invite; the owner may promote; the last owner stays.
  const std::string carol_id = UserId(carol_);
  Reply invite = As(bob_, http::verb::put, "/api/workspaces/" + ws + "/members/" + carol_id,
                    {{"role", "member"}});
  EXPECT_EQ(invite.status, 403) << invite.raw;
  EXPECT_EQ(As(alice_, http::verb::put, "/api/workspaces/" + ws + "/members/" + UserId(alice_),
               {{"role", "member"}})
                .status,
            409);
  EXPECT_EQ(As(alice_, http::verb::put, "/api/workspaces/" + ws + "/members/" + carol_id,
               {{"role", "admin"}})
                .status,
            200);
  EXPECT_EQ(Allowed(carol_, ws, "manage_members")["allowed"], true);
  // Anyone may leave.
  EXPECT_EQ(
      As(bob_, http::verb::delete_, "/api/workspaces/" + ws + "/members/" + UserId(bob_)).status,
      200);
  EXPECT_EQ(As(bob_, http::verb::get, "/api/workspaces/" + ws).status, 404);
}

TEST_F(WorkspaceApiTest, OtherTenantsNeitherSeeNorJoin) {
  const std::string ws = TeamWorkspace();
  EXPECT_EQ(As(globex_, http::verb::get, "/api/workspaces/" + ws).status, 404);
  EXPECT_EQ(As(globex_, http::verb::post, "/api/auth/check-permission",
               {{"workspace_id", ws}, {"action", "read"}})
                .status,
            404);
  EXPECT_EQ(As(globex_, http::verb::post, "/api/workspaces/" + ws + "/members",
               {{"username", "ws-dave"}, {"role", "viewer"}})
                .status,
            404);
  // Nor may alice bring in a user of another customer.
  Reply foreign = As(alice_, http::verb::post, "/api/workspaces/" + ws + "/members",
                     {{"username", "ws-dave"}, {"role", "viewer"}});
  EXPECT_EQ(foreign.status, 404) << foreign.raw;
  // Nor create an environment in it.
  json form = {{"name", "job"},
               {"image", "pytorch"},
               {"cpu_cores", 1},
               {"memory_mb", 1024},
               {"workspace_id", ws}};
  EXPECT_EQ(As(globex_, http::verb::post, "/api/environments", form).status, 404);
}

TEST_F(WorkspaceApiTest, AViewerReadsButRunsNoCommand) {
  const std::string ws = TeamWorkspace();
  json form = {{"name", "job"},  {"image", "pytorch"},    {"cpu_cores", 1},    {"memory_mb", 1024},
               {"gpu_count", 1}, {"ports", {{"ssh", 1}}}, {"workspace_id", ws}};
  Reply refused = As(carol_, http::verb::post, "/api/environments", form);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  Reply created = As(bob_, http::verb::post, "/api/environments", form);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string env = created.body["data"]["env_id"].get<std::string>();
  const std::string position = std::to_string(created.body["data"]["position"].get<uint64_t>());

  Reply read = Call(port_, http::verb::get, "/api/environments/" + env, "",
                    {{"Authorization", carol_}, {"X-Min-Position", position}});
  EXPECT_EQ(read.status, 200) << read.raw;
  EXPECT_EQ(read.body["data"]["workspace_id"], ws);
  Reply listed = Call(port_, http::verb::get, "/api/environments?workspace_id=" + ws, "",
                      {{"Authorization", carol_}, {"X-Min-Position", position}});
  ASSERT_EQ(listed.status, 200) << listed.raw;
  ASSERT_EQ(listed.body["data"]["total"], 1);
  EXPECT_EQ(listed.body["data"]["list"][0]["env_id"], env);
  const uint64_t before = LogPosition();
  for (const char* action : {"start", "stop", "restart"}) {
    Reply reply =
        As(carol_, http::verb::post, "/api/environments/" + env + "/" + action, json::object());
    EXPECT_EQ(reply.status, 403) << action << " " << reply.raw;
  }
  EXPECT_EQ(As(carol_, http::verb::delete_, "/api/environments/" + env).status, 403);
  EXPECT_EQ(As(carol_, http::verb::get, "/api/environments/" + env + "/access").status, 403);
  EXPECT_EQ(LogPosition(), before);  // Nothing the viewer tried was written.
  // The member who created it may.
  EXPECT_EQ(As(bob_, http::verb::post, "/api/environments/" + env + "/stop", json::object()).status,
            200);
}

TEST_F(WorkspaceApiTest, BadWorkspaceFormsAreClearErrors) {
  EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces", {{"kind", "team"}}).status, 400);
  EXPECT_EQ(
      As(alice_, http::verb::post, "/api/workspaces", {{"name", "x"}, {"kind", "club"}}).status,
      400);
  EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces", {{"name", "x"}, {"extra", 1}}).status,
            400);
  // Only admins name the customer; admins must.
  EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces", {{"name", "x"}, {"customer_id", acme_}})
                .status,
            403);
  EXPECT_EQ(Post("/api/workspaces", {{"name", "x"}}).status, 422);
  Reply by_admin = Post("/api/workspaces", {{"name", "ops"},
                                            {"kind", "enterprise"},
                                            {"customer_id", acme_},
                                            {"owner_user_id", UserId(bob_)}});
  EXPECT_EQ(by_admin.status, 201) << by_admin.raw;
  const std::string ws = TeamWorkspace();
  for (const json& bad :
       {json({{"role", "member"}}),
        json({{"username", "ws-bob"}, {"user_id", "user-x"}, {"role", "member"}}),
        json({{"username", "ws-bob"}, {"role", "boss"}}), json({{"username", "ws-bob"}})}) {
    EXPECT_EQ(As(alice_, http::verb::post, "/api/workspaces/" + ws + "/members", bad).status, 400)
        << bad.dump();
  }
  EXPECT_EQ(As(alice_, http::verb::post, "/api/auth/check-permission",
               {{"workspace_id", ws}, {"action", "fly"}})
                .status,
            400);
}

}  // namespace
}  // namespace remotegpu::api
