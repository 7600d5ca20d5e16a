// Workspaces over HTTP (seed 01 module 2): create, list, detail, members
// (invite, change role, remove), and POST /api/auth/check-permission, which
// tells a console what the caller may do in a workspace before it offers it.
#pragma once

#include "api/http/router.h"
#include "commands/workspace_service.h"

namespace remotegpu::api {

struct WorkspaceApi {
  commands::WorkspaceService* workspaces = nullptr;
  commands::IdentityIndex* index = nullptr;
};

// POST, GET /api/workspaces; GET /api/workspaces/:id; POST
// /api/workspaces/:id/members; PUT, DELETE /api/workspaces/:id/members/:user_id;
// POST /api/auth/check-permission.
void AddWorkspaceRoutes(Router& router, WorkspaceApi& api);

// The caller as the command side knows it.
commands::Principal PrincipalOf(const Identity& identity);

}  // namespace remotegpu::api
