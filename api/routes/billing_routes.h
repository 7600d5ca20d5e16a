// Commerce routes (issue 9, seed 01 module 8): the account, bill lines
// (records), invoices, recharges recorded by admins and payments, the rate
// card. Customers see only their own customer's; admins see every
// customer's and name one with ?customer_id. Money travels as text in yuan
// ("18.75") beside the integer fen.
#pragma once

#include "api/http/router.h"
#include "commands/billing_service.h"
#include "commands/identity_index.h"
#include "common/uuid.h"

namespace remotegpu::projections {
class ProjectionRunner;
}

namespace remotegpu::queries {
class ReadStore;
}

namespace remotegpu::api {

struct BillingApi {
  commands::BillingService* billing = nullptr;
  commands::IdentityIndex* identity = nullptr;
  queries::ReadStore* reads = nullptr;
  const projections::ProjectionRunner* projection = nullptr;  // The billing projection.
  IdGenerator* ids = nullptr;
};

// GET /api/billing/account, /records, /invoices, /invoices/:id,
// /payments/:order_id, /rates; POST /api/billing/recharge; admin: PUT
// /api/admin/billing/rates, GET /api/admin/billing/accounts, PUT
// /api/admin/billing/accounts/:customer_id, POST
// /api/admin/billing/invoices/:id/issue and /pay.
void AddBillingRoutes(Router& router, BillingApi& api);

}  // namespace remotegpu::api
