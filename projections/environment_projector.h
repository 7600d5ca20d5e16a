// Read models of environments (one row each, with placement and status),
// their scheduling history (every placement and every failure to place, with
// strategy, duration and reason), and leases.
#pragma once

#include "domain/environment.h"
#include "domain/lease.h"
#include "projections/projector.h"
#include "projections/stream_folder.h"

namespace remotegpu::projections {

class EnvironmentProjector final : public Projector {
 public:
  explicit EnvironmentProjector(eventstore::EventStore* history) : environments_(history) {}
  std::string name() const override { return "environments"; }
  std::vector<std::string> tables() const override {
    return {"environments", "scheduler_history"};
  }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<eventstore::RecordedEvent>& batch) override;
  void Warm(const std::vector<eventstore::RecordedEvent>& events) override {
    environments_.Warm(events, "env-");
  }
  void Reset() override { environments_.Clear(); }

 private:
  StreamFolder<domain::EnvironmentState, domain::EnvironmentEvent, &domain::Apply> environments_;
};

class LeaseProjector final : public Projector {
 public:
  explicit LeaseProjector(eventstore::EventStore* history) : leases_(history) {}
  std::string name() const override { return "leases"; }
  std::vector<std::string> tables() const override { return {"leases"}; }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<eventstore::RecordedEvent>& batch) override;
  void Warm(const std::vector<eventstore::RecordedEvent>& events) override {
    leases_.Warm(events, "lease-");
  }
  void Reset() override { leases_.Clear(); }

 private:
  StreamFolder<domain::LeaseState, domain::LeaseEvent, &domain::Apply> leases_;
};

}  // namespace remotegpu::projections
