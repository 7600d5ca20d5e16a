// Quotas over HTTP: a customer's user reads its customer's quota and usage;
// admins read and set any customer's level and overrides.
#pragma once

#include "api/http/router.h"
#include "commands/identity_index.h"
#include "commands/quota_service.h"

namespace remotegpu::api {

struct QuotaApi {
  commands::QuotaService* quotas = nullptr;
  commands::IdentityIndex* index = nullptr;
};

// GET /api/users/me/quota, /api/users/me/quota/usage;
// GET, PUT /api/admin/customers/:id/quota.
void AddQuotaRoutes(Router& router, QuotaApi& api);

}  // namespace remotegpu::api
