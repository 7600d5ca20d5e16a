// The workspace decider (domain/proto/workspace.proto) and what each role
// may do:
//
//   action            owner  admin  member  viewer
//   read                x      x      x       x
//   use (environments)  x      x      x
//   manage members      x      x              (admins: members and viewers only)
//   manage owners       x
//
// Rules: a workspace always keeps an owner (the last one cannot leave or be
// demoted); a personal workspace has exactly one member.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/workspace.pb.h"

namespace remotegpu::domain {

enum class WorkspaceAction {
  kRead,
  kUse,            // Create, start, stop, restart and delete environments.
  kManageMembers,  // Add, re-role and remove members and viewers.
  kManageOwners,   // Add, re-role and remove owners and admins.
};

struct WorkspaceState {
  bool created = false;
  WorkspaceCreated info;
  std::map<std::string, WorkspaceRole> members;  // By user id.
};

void Apply(WorkspaceState& state, const WorkspaceEvent& event);

// InvalidArgument (malformed), AlreadyExists, NotFound (no workspace, or a
// member that is not one), PermissionDenied (the asker's role does not
// allow it), FailedPrecondition (the last owner; a personal workspace).
Result<std::vector<WorkspaceEvent>> Decide(const WorkspaceState& state,
                                           const WorkspaceCommand& command,
                                           const DecideContext& context);

bool Allows(WorkspaceRole role, WorkspaceAction action);

const char* Name(WorkspaceRole role);  // "owner", "admin", "member", "viewer".
const char* Name(WorkspaceKind kind);  // "personal", "team", "enterprise".
Result<WorkspaceRole> ParseWorkspaceRole(const std::string& name);
Result<WorkspaceKind> ParseWorkspaceKind(const std::string& name);
// "read", "use", "manage_members", "manage_owners".
Result<WorkspaceAction> ParseWorkspaceAction(const std::string& name);

}  // namespace remotegpu::domain
