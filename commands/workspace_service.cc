#include "commands/workspace_service.h"

namespace remotegpu::commands {
namespace {

// Whether `by` may know the workspace exists: admins always; a customer's
// user when it is a member.
bool Visible(const IdentityIndex& index, const Principal& by, const std::string& workspace_id) {
  if (by.admin) return index.Workspace(workspace_id).has_value();
  return index.RoleIn(workspace_id, by.user_id) != domain::WORKSPACE_ROLE_UNSPECIFIED;
}

}  // namespace

Result<CommandResult> WorkspaceService::Create(const Principal& by, const std::string& name,
                                               domain::WorkspaceKind kind,
                                               const std::string& customer_id,
                                               const std::string& owner_user_id,
                                               const CommandMeta& meta, std::string* id) {
  std::string customer = by.customer_id;
  std::string owner = by.user_id;
  if (by.admin) {
    if (customer_id.empty() || owner_user_id.empty()) {
      return Status::InvalidArgument("an admin names the workspace's customer_id and owner");
    }
    customer = customer_id;
    owner = owner_user_id;
    auto principal = index_.ForUser(owner);
    if (!principal.ok() || principal->customer_id != customer) {
      return Status::NotFound("no user " + owner + " of " + customer);
    }
  }
  *id = "workspace-" + ids_.NewId().ToString();
  domain::WorkspaceCommand command;
  command.set_by_user_id(by.user_id);
  command.set_by_platform_admin(by.admin);
  auto* create = command.mutable_create();
  create->set_name(name);
  create->set_kind(kind);
  create->set_customer_id(customer);
  create->set_owner_user_id(owner);
  auto result = ExecuteOne<WorkspaceTraits>(store_, workspaces_, clock_, *id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, *id, result->version, result->events);
  return result;
}

Result<CommandResult> WorkspaceService::Run(const Principal& by, const std::string& workspace_id,
                                            domain::WorkspaceCommand command,
                                            const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(workspace_id, "workspace"));
  if (!Visible(index_, by, workspace_id)) return Status::NotFound("no " + workspace_id);
  command.set_by_user_id(by.user_id);
  command.set_by_platform_admin(by.admin);
  auto result =
      ExecuteOne<WorkspaceTraits>(store_, workspaces_, clock_, workspace_id, command, meta);
  if (result.ok()) index_.ObserveCommit(store_, workspace_id, result->version, result->events);
  return result;
}

Result<CommandResult> WorkspaceService::AddMember(const Principal& by,
                                                  const std::string& workspace_id,
                                                  const std::string& user_id,
                                                  domain::WorkspaceRole role,
                                                  const CommandMeta& meta) {
  const auto workspace = index_.Workspace(workspace_id);
  auto member = index_.ForUser(user_id);
  // A user of another customer is as absent as one that never was.
  if (workspace && Visible(index_, by, workspace_id) &&
      (!member.ok() || member->customer_id != workspace->info.customer_id())) {
    // The same words for a user that never was and one of another tenant,
    // and no id resolved from a username: nothing to enumerate.
    return Status::NotFound("no such user among the users of " + workspace->info.customer_id());
  }
  domain::WorkspaceCommand command;
  command.mutable_add_member()->set_user_id(user_id);
  command.mutable_add_member()->set_role(role);
  return Run(by, workspace_id, std::move(command), meta);
}

Result<CommandResult> WorkspaceService::ChangeRole(const Principal& by,
                                                   const std::string& workspace_id,
                                                   const std::string& user_id,
                                                   domain::WorkspaceRole role,
                                                   const CommandMeta& meta) {
  domain::WorkspaceCommand command;
  command.mutable_change_member_role()->set_user_id(user_id);
  command.mutable_change_member_role()->set_role(role);
  return Run(by, workspace_id, std::move(command), meta);
}

Result<CommandResult> WorkspaceService::RemoveMember(const Principal& by,
                                                     const std::string& workspace_id,
                                                     const std::string& user_id,
                                                     const CommandMeta& meta) {
  domain::WorkspaceCommand command;
  command.mutable_remove_member()->set_user_id(user_id);
  return Run(by, workspace_id, std::move(command), meta);
}

}  // namespace remotegpu::commands
