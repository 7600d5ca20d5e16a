// Read models of commerce (seed 01 module 8): billing_records (one row per
// bill line), accounts (recharged, consumed, settings and warning flags per
// customer), payments (recharges) and invoices (with their groups).
//
// Every row is a function of events alone (no now()), so a rebuild from the
// log reproduces the live rows exactly, to the fen.
#pragma once

#include "projections/projector.h"

namespace remotegpu::projections {

class BillingProjector final : public Projector {
 public:
  std::string name() const override { return "billing"; }
  std::vector<std::string> tables() const override {
    return {"billing_records", "accounts", "payments", "invoices"};
  }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<eventstore::RecordedEvent>& batch) override;
  void Warm(const std::vector<eventstore::RecordedEvent>&) override {}  // Rows carry the state.
};

}  // namespace remotegpu::projections
