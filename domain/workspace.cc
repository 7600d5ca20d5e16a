#include "domain/workspace.h"

#include <algorithm>

#include "domain/stream_id.h"

namespace remotegpu::domain {
namespace {

bool IsManagerRole(WorkspaceRole role) {
  return role == WORKSPACE_OWNER || role == WORKSPACE_ADMIN;
}

// What touching a member who has (or gets) `role` needs.
WorkspaceAction NeededFor(WorkspaceRole role) {
  return IsManagerRole(role) ? WorkspaceAction::kManageOwners : WorkspaceAction::kManageMembers;
}

Status CheckAsker(const WorkspaceState& state, const WorkspaceCommand& command,
                  WorkspaceAction action) {
  if (command.by_platform_admin()) return Status::Ok();
  auto it = state.members.find(command.by_user_id());
  if (it == state.members.end()) return Status::PermissionDenied("not a member of the workspace");
  if (!Allows(it->second, action)) {
    return Status::PermissionDenied(std::string("a workspace ") + Name(it->second) +
                                    " may not do this");
  }
  return Status::Ok();
}

size_t Owners(const WorkspaceState& state) {
  return static_cast<size_t>(
      std::count_if(state.members.begin(), state.members.end(),
                    [](const auto& m) { return m.second == WORKSPACE_OWNER; }));
}

Status ValidRole(WorkspaceRole role) {
  if (role < WORKSPACE_OWNER || role > WORKSPACE_VIEWER) {
    return Status::InvalidArgument("role must be owner, admin, member or viewer");
  }
  return Status::Ok();
}

}  // namespace

bool Allows(WorkspaceRole role, WorkspaceAction action) {
  switch (action) {
    case WorkspaceAction::kRead:
      return role >= WORKSPACE_OWNER && role <= WORKSPACE_VIEWER;
    case WorkspaceAction::kUse:
      return role >= WORKSPACE_OWNER && role <= WORKSPACE_MEMBER;
    case WorkspaceAction::kManageMembers:
      return IsManagerRole(role);
    case WorkspaceAction::kManageOwners:
      return role == WORKSPACE_OWNER;
  }
  return false;
}

const char* Name(WorkspaceRole role) {
  switch (role) {
    case WORKSPACE_OWNER:
      return "owner";
    case WORKSPACE_ADMIN:
      return "admin";
    case WORKSPACE_MEMBER:
      return "member";
    case WORKSPACE_VIEWER:
      return "viewer";
    default:
      return "none";
  }
}

const char* Name(WorkspaceKind kind) {
  switch (kind) {
    case WORKSPACE_PERSONAL:
      return "personal";
    case WORKSPACE_TEAM:
      return "team";
    case WORKSPACE_ENTERPRISE:
      return "enterprise";
    default:
      return "unspecified";
  }
}

Result<WorkspaceRole> ParseWorkspaceRole(const std::string& name) {
  for (WorkspaceRole role :
       {WORKSPACE_OWNER, WORKSPACE_ADMIN, WORKSPACE_MEMBER, WORKSPACE_VIEWER}) {
    if (name == Name(role)) return role;
  }
  return Status::InvalidArgument("role must be owner, admin, member or viewer");
}

Result<WorkspaceKind> ParseWorkspaceKind(const std::string& name) {
  for (WorkspaceKind kind : {WORKSPACE_PERSONAL, WORKSPACE_TEAM, WORKSPACE_ENTERPRISE}) {
    if (name == Name(kind)) return kind;
  }
  return Status::InvalidArgument("kind must be personal, team or enterprise");
}

Result<WorkspaceAction> ParseWorkspaceAction(const std::string& name) {
  if (name == "read") return WorkspaceAction::kRead;
  if (name == "use") return WorkspaceAction::kUse;
  if (name == "manage_members") return WorkspaceAction::kManageMembers;
  if (name == "manage_owners") return WorkspaceAction::kManageOwners;
  return Status::InvalidArgument("action must be read, use, manage_members or manage_owners");
}

void Apply(WorkspaceState& state, const WorkspaceEvent& event) {
  switch (event.event_case()) {
    case WorkspaceEvent::kCreated:
      state.created = true;
      state.info = event.created();
      state.members[event.created().owner_user_id()] = WORKSPACE_OWNER;
      break;
    case WorkspaceEvent::kMemberAdded:
      state.members[event.member_added().user_id()] = event.member_added().role();
      break;
    case WorkspaceEvent::kMemberRoleChanged:
      state.members[event.member_role_changed().user_id()] = event.member_role_changed().role();
      break;
    case WorkspaceEvent::kMemberRemoved:
      state.members.erase(event.member_removed().user_id());
      break;
    case WorkspaceEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<WorkspaceEvent>> Decide(const WorkspaceState& state,
                                           const WorkspaceCommand& command,
                                           const DecideContext& context) {
  std::vector<WorkspaceEvent> out;
  if (command.command_case() == WorkspaceCommand::kCreate) {
    const CreateWorkspace& create = command.create();
    if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
    if (create.name().empty() || create.name().size() > 64) {
      return Status::InvalidArgument("name must be 1 to 64 characters");
    }
    if (create.kind() == WORKSPACE_KIND_UNSPECIFIED) {
      return Status::InvalidArgument("kind must be personal, team or enterprise");
    }
    if (!IsKind(create.customer_id(), StreamKind::kCustomer)) {
      return Status::InvalidArgument("a workspace belongs to a customer");
    }
    if (create.owner_user_id().empty())
      return Status::InvalidArgument("a workspace needs an owner");
    auto* created = out.emplace_back().mutable_created();
    created->set_name(create.name());
    created->set_kind(create.kind());
    created->set_customer_id(create.customer_id());
    created->set_owner_user_id(create.owner_user_id());
    return out;
  }
  if (!state.created) return Status::NotFound("no " + context.stream_id);
  switch (command.command_case()) {
    case WorkspaceCommand::kAddMember: {
      const AddMember& add = command.add_member();
      RGPU_RETURN_IF_ERROR(ValidRole(add.role()));
      if (add.user_id().empty()) return Status::InvalidArgument("user_id is required");
      RGPU_RETURN_IF_ERROR(CheckAsker(state, command, NeededFor(add.role())));
      if (state.members.contains(add.user_id())) {
        return Status::AlreadyExists(add.user_id() + " is already a member");
      }
      if (state.info.kind() == WORKSPACE_PERSONAL) {
        return Status::FailedPrecondition("a personal workspace has only its owner");
      }
      auto* added = out.emplace_back().mutable_member_added();
      added->set_user_id(add.user_id());
      added->set_role(add.role());
      return out;
    }
    case WorkspaceCommand::kChangeMemberRole: {
      const ChangeMemberRole& change = command.change_member_role();
      RGPU_RETURN_IF_ERROR(ValidRole(change.role()));
      auto it = state.members.find(change.user_id());
      if (it == state.members.end()) return Status::NotFound(change.user_id() + " is not a member");
      // Both the old and the new role must be within the asker's reach.
      RGPU_RETURN_IF_ERROR(CheckAsker(state, command, NeededFor(it->second)));
      RGPU_RETURN_IF_ERROR(CheckAsker(state, command, NeededFor(change.role())));
      if (it->second == change.role()) return out;
      if (it->second == WORKSPACE_OWNER && Owners(state) == 1) {
        return Status::FailedPrecondition("the last owner cannot be demoted; make another owner");
      }
      auto* changed = out.emplace_back().mutable_member_role_changed();
      changed->set_user_id(change.user_id());
      changed->set_role(change.role());
      return out;
    }
    case WorkspaceCommand::kRemoveMember: {
      const RemoveMember& remove = command.remove_member();
      auto it = state.members.find(remove.user_id());
      if (it == state.members.end()) return Status::NotFound(remove.user_id() + " is not a member");
      // Anyone may leave; removing someone else needs the role for theirs.
      if (remove.user_id() != command.by_user_id()) {
        RGPU_RETURN_IF_ERROR(CheckAsker(state, command, NeededFor(it->second)));
      }
      if (it->second == WORKSPACE_OWNER && Owners(state) == 1) {
        return Status::FailedPrecondition("the last owner cannot leave; make another owner");
      }
      out.emplace_back().mutable_member_removed()->set_user_id(remove.user_id());
      return out;
    }
    default:
      return Status::InvalidArgument("empty workspace command");
  }
}

}  // namespace remotegpu::domain
