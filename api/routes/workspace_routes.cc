#include "api/routes/workspace_routes.h"

#include "api/routes/route_helpers.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

json WorkspaceJson(const commands::IdentityIndex& index, const std::string& id,
                   const domain::WorkspaceState& state, const std::string& caller,
                   bool with_members) {
  json out = {{"workspace_id", id},
              {"name", state.info.name()},
              {"kind", domain::Name(state.info.kind())},
              {"customer_id", state.info.customer_id()},
              {"member_count", state.members.size()}};
  auto mine = state.members.find(caller);
  out["role"] = mine == state.members.end() ? json() : json(domain::Name(mine->second));
  if (with_members) {
    json members = json::array();
    for (const auto& [user_id, role] : state.members) {
      members.push_back({{"user_id", user_id},
                         {"username", index.UsernameOf(user_id)},
                         {"role", domain::Name(role)}});
    }
    out["members"] = std::move(members);
  }
  return out;
}

// The workspace when the caller may see it (admins: any; customers' users:
// those they are members of); otherwise the 404 answer.
std::variant<domain::WorkspaceState, HttpResponse> Visible(WorkspaceApi& api,
                                                           const HttpRequest& request) {
  const std::string& id = request.params.at("id");
  auto workspace = api.index->Workspace(id);
  if (workspace &&
      (request.identity.admin || workspace->members.contains(request.identity.user_id))) {
    return *workspace;
  }
  return StatusResponse(request, Status::NotFound("no workspace " + id));
}

Status ReadRole(JsonFields& f, domain::WorkspaceRole* role) {
  std::string name;
  RGPU_RETURN_IF_ERROR(f.String("role", &name, true));
  auto parsed = domain::ParseWorkspaceRole(name);
  if (!parsed.ok()) return parsed.status();
  *role = *parsed;
  return Status::Ok();
}

HttpResponse Changed(const HttpRequest& request, const Result<commands::CommandResult>& done,
                     int status = 200) {
  if (!done.ok()) return RefusedResponse(request, done.status());
  return OkResponse(request,
                    {{"workspace_id", request.params.at("id")}, {"position", done->last_position}},
                    status);
}

}  // namespace

commands::Principal PrincipalOf(const Identity& identity) {
  return {identity.user_id,    identity.username,   identity.customer_id, identity.admin,
          identity.session_id, identity.api_key_id, identity.host_id};
}

void AddWorkspaceRoutes(Router& router, WorkspaceApi& api) {
  router.Add(
      "POST", "/api/workspaces",
      "Create a workspace: {name, kind (personal|team|enterprise)}; the caller becomes its "
      "owner (an admin also names customer_id and owner_user_id)",
      [&api](const HttpRequest& request) {
        std::string name, kind_name = "team", customer_id, owner;
        if (auto bad = ReadBody(request, [&](JsonFields& f) {
              RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"name", "kind", "customer_id", "owner_user_id"}));
              RGPU_RETURN_IF_ERROR(f.String("name", &name, true));
              RGPU_RETURN_IF_ERROR(f.String("kind", &kind_name));
              RGPU_RETURN_IF_ERROR(f.String("customer_id", &customer_id));
              return f.String("owner_user_id", &owner);
            })) {
          return *bad;
        }
        auto kind = domain::ParseWorkspaceKind(kind_name);
        if (!kind.ok()) return StatusResponse(request, kind.status());
        if (!request.identity.admin && (!customer_id.empty() || !owner.empty())) {
          return StatusResponse(request, Status::PermissionDenied(
                                             "only a platform admin names the customer and owner"));
        }
        std::string id;
        auto created = api.workspaces->Create(PrincipalOf(request.identity), name, *kind,
                                              customer_id, owner, MetaFor(request), &id);
        if (!created.ok()) return RefusedResponse(request, created.status());
        return OkResponse(request, {{"workspace_id", id}, {"position", created->last_position}},
                          201);
      },
      {.access = Access::kUser});

  router.Add("GET", "/api/workspaces",
             "The workspaces the caller is a member of (an admin: all; filter customer_id)",
             [&api](const HttpRequest& request) {
               const Identity& who = request.identity;
               const auto workspaces = who.admin
                                           ? api.index->Workspaces("", request.Query("customer_id"))
                                           : api.index->Workspaces(who.user_id, who.customer_id);
               json list = json::array();
               for (const auto& [id, state] : workspaces) {
                 list.push_back(WorkspaceJson(*api.index, id, state, who.user_id, false));
               }
               return OkResponse(request, {{"list", list}, {"total", list.size()}});
             },
             {.access = Access::kUser,
              .never_blocks = true,
              .query = {{"customer_id", "customer id (admins)"}}});

  router.Add("GET", "/api/workspaces/:id", "A workspace with its members and their roles",
             [&api](const HttpRequest& request) {
               auto visible = Visible(api, request);
               if (auto* absent = std::get_if<HttpResponse>(&visible)) return *absent;
               return OkResponse(request, WorkspaceJson(*api.index, request.params.at("id"),
                                                        std::get<domain::WorkspaceState>(visible),
                                                        request.identity.user_id, true));
             },
             {.access = Access::kUser, .never_blocks = true});

  router.Add("POST", "/api/workspaces/:id/members",
             "Invite a user of the workspace's customer: {user_id or username, role "
             "(owner|admin|member|viewer)}",
             [&api](const HttpRequest& request) {
               std::string user_id, username;
               domain::WorkspaceRole role = domain::WORKSPACE_ROLE_UNSPECIFIED;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"user_id", "username", "role"}));
                     RGPU_RETURN_IF_ERROR(f.String("user_id", &user_id));
                     RGPU_RETURN_IF_ERROR(f.String("username", &username));
                     if (user_id.empty() == username.empty()) {
                       return Status::InvalidArgument("give user_id or username (one of them)");
                     }
                     return ReadRole(f, &role);
                   })) {
                 return *bad;
               }
               if (!username.empty())
                 user_id = api.index->UserIdByName(username).value_or("user-none");
               return Changed(
                   request,
                   api.workspaces->AddMember(PrincipalOf(request.identity), request.params.at("id"),
                                             user_id, role, MetaFor(request)),
                   201);
             },
             {.access = Access::kUser});

  router.Add("PUT", "/api/workspaces/:id/members/:user_id", "Change a member's role: {role}",
             [&api](const HttpRequest& request) {
               domain::WorkspaceRole role = domain::WORKSPACE_ROLE_UNSPECIFIED;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"role"}));
                     return ReadRole(f, &role);
                   })) {
                 return *bad;
               }
               return Changed(request, api.workspaces->ChangeRole(
                                           PrincipalOf(request.identity), request.params.at("id"),
                                           request.params.at("user_id"), role, MetaFor(request)));
             },
             {.access = Access::kUser});

  router.Add("DELETE", "/api/workspaces/:id/members/:user_id",
             "Remove a member (anyone may leave; the last owner may not)",
             [&api](const HttpRequest& request) {
               return Changed(request, api.workspaces->RemoveMember(
                                           PrincipalOf(request.identity), request.params.at("id"),
                                           request.params.at("user_id"), MetaFor(request)));
             },
             {.access = Access::kUser});

  router.Add(
      "POST", "/api/auth/check-permission",
      "May the caller do this in a workspace? {workspace_id, action (read|use|manage_members|"
      "manage_owners)} -> {allowed, role}",
      [&api](const HttpRequest& request) {
        std::string workspace_id, action_name;
        if (auto bad = ReadBody(request, [&](JsonFields& f) {
              RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"workspace_id", "action"}));
              RGPU_RETURN_IF_ERROR(f.String("workspace_id", &workspace_id, true));
              return f.String("action", &action_name, true);
            })) {
          return *bad;
        }
        auto action = domain::ParseWorkspaceAction(action_name);
        if (!action.ok()) return StatusResponse(request, action.status());
        const Identity& who = request.identity;
        const auto workspace = api.index->Workspace(workspace_id);
        const domain::WorkspaceRole role = api.index->RoleIn(workspace_id, who.user_id);
        if (!workspace || (!who.admin && role == domain::WORKSPACE_ROLE_UNSPECIFIED)) {
          return StatusResponse(request, Status::NotFound("no workspace " + workspace_id));
        }
        const bool allowed = who.admin || domain::Allows(role, *action);
        return OkResponse(request, {{"workspace_id", workspace_id},
                                    {"action", action_name},
                                    {"allowed", allowed},
                                    {"role", role == domain::WORKSPACE_ROLE_UNSPECIFIED
                                                 ? json(who.admin ? "platform-admin" : nullptr)
                                                 : json(domain::Name(role))}});
      },
      {.access = Access::kUser, .never_blocks = true});
}

}  // namespace remotegpu::api
