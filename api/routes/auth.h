// Authentication and authorization at the API's edge (seed 01 modules 2 and
// 10): the middleware that says who calls and whether they may, and the
// account routes (login, refresh, logout, me, password, API keys, customers
// and users).
//
// Credentials: "Authorization: Bearer <access token>" (a JWT from login or
// refresh, api/access_tokens.h), or an API key as "X-Api-Key: rgk.…" or
// "Authorization: Bearer rgk.…". The middleware runs before every handler:
// public routes need nothing (credentials they carry are ignored), other
// routes answer 401 without valid credentials and admin routes 403 to
// anyone but a platform admin. An agent token (an API key with a host id,
// POST /api/admin/hosts/:id/agent-tokens) may call the agent routes only,
// and never with its creator's admin rights. It never blocks (a signature check and
// in-memory lookups), since it runs on the I/O threads too.
#pragma once

#include "api/app/notification_outbox.h"
#include "api/http/access_tokens.h"
#include "api/http/router.h"
#include "commands/identity_service.h"

namespace remotegpu::api {

struct AuthApi {
  commands::IdentityService* identity = nullptr;
  commands::IdentityIndex* index = nullptr;
  AccessTokens* tokens = nullptr;
  NotificationOutbox* outbox = nullptr;  // Password reset codes.
  // Whether a host is registered (agent tokens are for known hosts only).
  std::function<bool(const std::string& host_id)> host_exists;
};

Middleware AuthMiddleware(AuthApi& api);

// For benchmarks only (`remotegpu serve --insecure-no-auth`, loopback only):
// reads no credentials; every caller of a non-public route acts as the
// first admin. It exists to measure what authentication costs.
Middleware InsecureNoAuthMiddleware(commands::IdentityIndex& index);

// POST /api/auth/login, /api/auth/refresh, /api/auth/logout; GET
// /api/users/me; PUT /api/users/me/password; POST/GET /api/auth/api-keys,
// DELETE /api/auth/api-keys/:id; POST/GET /api/admin/customers, PUT
// /api/admin/customers/:id/status; POST /api/admin/users; POST
// /api/admin/auth/rotate-signing-key; POST /api/auth/password-reset and
// /api/auth/password-reset/confirm; GET /api/admin/notifications.
void AddAuthRoutes(Router& router, AuthApi& api);

}  // namespace remotegpu::api
