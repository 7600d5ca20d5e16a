// Product specs (issue 9, seed 04 §3): admins create and edit them and set
// prices; everyone signed in reads them, customers the listed ones only.
// Money travels as text in yuan ("12.50"), never as a JSON number.
#pragma once

#include <nlohmann/json.hpp>

#include "api/http/router.h"
#include "commands/spec_service.h"
#include "common/uuid.h"

namespace remotegpu::api {

struct SpecApi {
  commands::SpecService* specs = nullptr;
  IdGenerator* ids = nullptr;
  const Clock* clock = nullptr;
};

// POST /api/specs, GET /api/specs, GET /api/specs/:id, PUT /api/specs/:id,
// POST /api/specs/:id/price.
void AddSpecRoutes(Router& router, SpecApi& api);

// A spec as the API shows it, with its price now and its price history.
nlohmann::json SpecJson(const std::string& spec_id, const domain::SpecState& state,
                        uint64_t version, int64_t now_us);

}  // namespace remotegpu::api
