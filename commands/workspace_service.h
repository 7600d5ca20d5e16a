// Commands on workspaces: create, add (invite), re-role and remove members.
// Tenancy is checked here (a workspace, its members and whoever manages it
// belong to one customer; platform admins manage any); the roles' rules are
// the decider's (domain/workspace.h). Every commit is observed by the
// IdentityIndex at once, so a new member's rights hold from the answer on.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <string>

#include "commands/execute.h"
#include "commands/identity_index.h"
#include "common/uuid.h"

namespace remotegpu::commands {

class WorkspaceService {
 public:
  WorkspaceService(eventstore::EventStore& store, const Clock& clock, IdentityIndex& index,
                   IdGenerator& ids)
      : store_(store), clock_(clock), index_(index), ids_(ids), workspaces_(store) {}

  // A new "workspace-<uuid>" of the caller's customer with the caller as
  // owner; a platform admin names the customer and the owner (a user of it).
  // NotFound for an owner or customer that does not exist.
  Result<CommandResult> Create(const Principal& by, const std::string& name,
                               domain::WorkspaceKind kind, const std::string& customer_id,
                               const std::string& owner_user_id, const CommandMeta& meta,
                               std::string* id);

  // NotFound for a workspace the caller may not see (another customer's or,
  // for a customer's user, one it is not a member of) and for a user who is
  // not of the workspace's customer; PermissionDenied when the caller's role
  // does not allow it.
  Result<CommandResult> AddMember(const Principal& by, const std::string& workspace_id,
                                  const std::string& user_id, domain::WorkspaceRole role,
                                  const CommandMeta& meta);
  Result<CommandResult> ChangeRole(const Principal& by, const std::string& workspace_id,
                                   const std::string& user_id, domain::WorkspaceRole role,
                                   const CommandMeta& meta);
  Result<CommandResult> RemoveMember(const Principal& by, const std::string& workspace_id,
                                     const std::string& user_id, const CommandMeta& meta);

 private:
  // Runs `command` on the workspace as `by`, after the visibility check.
  Result<CommandResult> Run(const Principal& by, const std::string& workspace_id,
                            domain::WorkspaceCommand command, const CommandMeta& meta);

  eventstore::EventStore& store_;
  const Clock& clock_;
  IdentityIndex& index_;
  IdGenerator& ids_;
  AggregateCache<WorkspaceTraits> workspaces_;
};

}  // namespace remotegpu::commands
