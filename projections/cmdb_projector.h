// The CMDB read models: hosts (one row per host with its three statuses and
// allocation totals), gpus (with their holders), port_mappings and
// change_log (every change of every asset with old and new values, actor,
// reason, request id and log position; seed 01 §2.4 cmdb_change_logs).
#pragma once

#include <set>

#include "domain/host.h"
#include "projections/projector.h"
#include "projections/stream_folder.h"

namespace remotegpu::projections {

class CmdbProjector final : public Projector {
 public:
  explicit CmdbProjector(eventstore::EventStore* history) : hosts_(history) {}
  std::string name() const override { return "cmdb"; }
  std::vector<std::string> tables() const override {
    return {"hosts", "gpus", "port_mappings", "port_pools", "change_log"};
  }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<eventstore::RecordedEvent>& batch) override;
  void Warm(const std::vector<eventstore::RecordedEvent>& events) override {
    hosts_.Warm(events, "host-");
  }
  void Reset() override { hosts_.Clear(); }

 private:
  StreamFolder<domain::HostState, domain::HostEvent, &domain::Apply> hosts_;
};

}  // namespace remotegpu::projections
