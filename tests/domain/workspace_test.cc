// Given/when/then tests of the workspace decider: who may add, re-role and
// remove whom, and the rules that keep a workspace owned.
#include "domain/workspace.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

const DecideContext kContext{"workspace-1", 1'767'225'600'000'000};

WorkspaceCommand As(const std::string& user) {
  WorkspaceCommand c;
  c.set_by_user_id(user);
  return c;
}

WorkspaceCommand Add(const std::string& by, const std::string& user, WorkspaceRole role) {
  WorkspaceCommand c = As(by);
  c.mutable_add_member()->set_user_id(user);
  c.mutable_add_member()->set_role(role);
  return c;
}

WorkspaceCommand ChangeRole(const std::string& by, const std::string& user, WorkspaceRole role) {
  WorkspaceCommand c = As(by);
  c.mutable_change_member_role()->set_user_id(user);
  c.mutable_change_member_role()->set_role(role);
  return c;
}

WorkspaceCommand Remove(const std::string& by, const std::string& user) {
  WorkspaceCommand c = As(by);
  c.mutable_remove_member()->set_user_id(user);
  return c;
}

// Applies what the command decides, expecting success.
void Commit(WorkspaceState& state, const WorkspaceCommand& command) {
  auto events = Decide(state, command, kContext);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  for (const auto& e : *events) Apply(state, e);
}

StatusCode Refusal(const WorkspaceState& state, const WorkspaceCommand& command) {
  return Decide(state, command, kContext).status().code();
}

// A team workspace: owner "o", admin "a", member "m", viewer "v".
WorkspaceState Team() {
  WorkspaceState state;
  WorkspaceCommand create = As("o");
  create.mutable_create()->set_name("vision");
  create.mutable_create()->set_kind(WORKSPACE_TEAM);
  create.mutable_create()->set_customer_id("customer-1");
  create.mutable_create()->set_owner_user_id("o");
  Commit(state, create);
  Commit(state, Add("o", "a", WORKSPACE_ADMIN));
  Commit(state, Add("a", "m", WORKSPACE_MEMBER));
  Commit(state, Add("a", "v", WORKSPACE_VIEWER));
  return state;
}

TEST(WorkspaceRoles, TheTableOfWhatEachRoleMayDo) {
  using A = WorkspaceAction;
  EXPECT_TRUE(Allows(WORKSPACE_VIEWER, A::kRead));
  EXPECT_FALSE(Allows(WORKSPACE_VIEWER, A::kUse));
  EXPECT_TRUE(Allows(WORKSPACE_MEMBER, A::kUse));
  EXPECT_FALSE(Allows(WORKSPACE_MEMBER, A::kManageMembers));
  EXPECT_TRUE(Allows(WORKSPACE_ADMIN, A::kManageMembers));
  EXPECT_FALSE(Allows(WORKSPACE_ADMIN, A::kManageOwners));
  EXPECT_TRUE(Allows(WORKSPACE_OWNER, A::kManageOwners));
  EXPECT_FALSE(Allows(WORKSPACE_ROLE_UNSPECIFIED, A::kRead));
}

TEST(WorkspaceDecider, AdminsManageMembersButNotOwnersOrAdmins) {
  WorkspaceState state = Team();
  EXPECT_EQ(state.members.size(), 4u);
  EXPECT_EQ(Refusal(state, Add("a", "x", WORKSPACE_ADMIN)), StatusCode::kPermissionDenied);
  EXPECT_EQ(Refusal(state, ChangeRole("a", "v", WORKSPACE_OWNER)), StatusCode::kPermissionDenied);
  EXPECT_EQ(Refusal(state, Remove("a", "o")), StatusCode::kPermissionDenied);
  Commit(state, ChangeRole("a", "v", WORKSPACE_MEMBER));
  EXPECT_EQ(state.members.at("v"), WORKSPACE_MEMBER);
  Commit(state, ChangeRole("o", "a", WORKSPACE_OWNER));
  EXPECT_EQ(state.members.at("a"), WORKSPACE_OWNER);
}

TEST(WorkspaceDecider, MembersAndViewersManageNobodyButMayLeave) {
  WorkspaceState state = Team();
  EXPECT_EQ(Refusal(state, Add("m", "x", WORKSPACE_VIEWER)), StatusCode::kPermissionDenied);
  EXPECT_EQ(Refusal(state, Add("v", "x", WORKSPACE_VIEWER)), StatusCode::kPermissionDenied);
  EXPECT_EQ(Refusal(state, Remove("v", "m")), StatusCode::kPermissionDenied);
  EXPECT_EQ(Refusal(state, Add("stranger", "x", WORKSPACE_VIEWER)), StatusCode::kPermissionDenied);
  Commit(state, Remove("v", "v"));
  EXPECT_FALSE(state.members.contains("v"));
}

TEST(WorkspaceDecider, TheLastOwnerStays) {
  WorkspaceState state = Team();
  EXPECT_EQ(Refusal(state, Remove("o", "o")), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Refusal(state, ChangeRole("o", "o", WORKSPACE_MEMBER)),
            StatusCode::kFailedPrecondition);
  Commit(state, Add("o", "o2", WORKSPACE_OWNER));
  Commit(state, Remove("o", "o"));
  EXPECT_EQ(state.members.count("o"), 0u);
}

TEST(WorkspaceDecider, PlatformAdminsMayDoAnything) {
  WorkspaceState state = Team();
  WorkspaceCommand add = Add("user-admin", "x", WORKSPACE_OWNER);
  add.set_by_platform_admin(true);
  Commit(state, add);
  EXPECT_EQ(state.members.at("x"), WORKSPACE_OWNER);
}

TEST(WorkspaceDecider, MalformedAndImpossibleCommandsAreRefused) {
  WorkspaceState state = Team();
  EXPECT_EQ(Refusal(state, Add("o", "m", WORKSPACE_VIEWER)), StatusCode::kAlreadyExists);
  EXPECT_EQ(Refusal(state, Add("o", "x", WORKSPACE_ROLE_UNSPECIFIED)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Refusal(state, Remove("o", "nobody")), StatusCode::kNotFound);
  EXPECT_EQ(Refusal(WorkspaceState{}, Add("o", "x", WORKSPACE_MEMBER)), StatusCode::kNotFound);

  WorkspaceCommand personal = As("p");
  personal.mutable_create()->set_name("mine");
  personal.mutable_create()->set_kind(WORKSPACE_PERSONAL);
  personal.mutable_create()->set_customer_id("customer-1");
  personal.mutable_create()->set_owner_user_id("p");
  WorkspaceState mine;
  Commit(mine, personal);
  EXPECT_EQ(Refusal(mine, Add("p", "x", WORKSPACE_MEMBER)), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Refusal(mine, personal), StatusCode::kAlreadyExists);
  personal.mutable_create()->set_customer_id("acme");
  EXPECT_EQ(Refusal(WorkspaceState{}, personal), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseWorkspaceRole("boss").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseWorkspaceAction("delete").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace remotegpu::domain
