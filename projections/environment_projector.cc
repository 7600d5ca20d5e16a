#include "projections/environment_projector.h"

#include <set>

#include "domain/scheduler.h"
#include "domain/stream_id.h"
#include "projections/sql_rows.h"

namespace remotegpu::projections {

void EnvironmentProjector::Apply(pqxx::work& tx, const std::string& schema,
                                 const std::vector<eventstore::RecordedEvent>& batch) {
  std::set<std::string> touched;
  SqlRows history(tx);
  for (const auto& recorded : batch) {
    if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kEnvironment)) continue;
    auto event = ParseEvent<domain::EnvironmentEvent>(recorded);
    environments_.Fold(recorded, event);
    touched.insert(recorded.stream_id);
    if (event.has_scheduled()) {
      const auto& s = event.scheduled();
      history.Begin()
          .Int(static_cast<int64_t>(recorded.global_position))
          .Text(recorded.stream_id)
          .Text("placed")
          .Text(domain::Name(s.strategy()))
          .Text(s.placement().host_id())
          .Json(JsonNumbers(s.placement().gpu_indexes()))
          .Int(s.duration_us())
          .Int(s.candidates())
          .Text("")
          .Time(recorded.recorded_at_us)
          .End();
    } else if (event.has_scheduling_failed()) {
      const auto& f = event.scheduling_failed();
      history.Begin()
          .Int(static_cast<int64_t>(recorded.global_position))
          .Text(recorded.stream_id)
          .Text("failed")
          .Text(domain::Name(f.strategy()))
          .Null()
          .Json("[]")
          .Int(f.duration_us())
          .Int(0)
          .Text(f.reason())
          .Time(recorded.recorded_at_us)
          .End();
    }
  }
  history.Insert(schema + ".scheduler_history",
                 "position, env_id, result, strategy, host_id, gpu_indexes, duration_us, "
                 "candidates, reason, decided_at",
                 "ON CONFLICT DO NOTHING");
  static const std::string kColumns =
      "env_id, name, owner, image, status, cpu_cores, memory_mb, gpu_count, host_id, "
      "gpu_indexes, ssh_port, version, position, created_at, updated_at, workspace_id, "
      "storage_gb";
  SqlRows rows(tx);
  for (const auto& env_id : touched) {
    const auto& entry = *environments_.Find(env_id);
    const domain::EnvironmentState& e = entry.state;
    rows.Begin()
        .Text(env_id)
        .Text(e.spec.name())
        .Text(e.spec.owner())
        .Text(e.spec.image())
        .Text(domain::Name(e.status))
        .Int(e.spec.cpu_cores())
        .Int(static_cast<int64_t>(e.spec.memory_mb()))
        .Int(e.spec.gpu_count());
    if (e.placed) {
      rows.Text(e.placement.host_id()).Json(JsonNumbers(e.placement.gpu_indexes()));
    } else {
      rows.Null().Json("[]");
    }
    uint32_t ssh_port = 0;
    for (const auto& port : e.placement.ports()) {
      if (port.service() == domain::SSH) ssh_port = port.port();
    }
    if (ssh_port == 0) {
      rows.Null();
    } else {
      rows.Int(ssh_port);
    }
    rows.Int(static_cast<int64_t>(entry.version))
        .Int(static_cast<int64_t>(entry.position))
        .Time(entry.first_recorded_us)
        .Time(entry.last_recorded_us);
    if (e.spec.workspace_id().empty()) {
      rows.Null();
    } else {
      rows.Text(e.spec.workspace_id());
    }
    rows.Int(static_cast<int64_t>(e.spec.storage_gb())).End();
  }
  rows.Insert(schema + ".environments", kColumns, UpsertSuffix("env_id", kColumns));
}

void LeaseProjector::Apply(pqxx::work& tx, const std::string& schema,
                           const std::vector<eventstore::RecordedEvent>& batch) {
  std::set<std::string> touched;
  for (const auto& recorded : batch) {
    if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kLease)) continue;
    auto event = ParseEvent<domain::LeaseEvent>(recorded);
    leases_.Fold(recorded, event);
    touched.insert(recorded.stream_id);
  }
  static const std::string kColumns =
      "lease_id, customer_id, host_ids, status, months, starts_at, expires_at, version, "
      "position, updated_at";
  SqlRows rows(tx);
  for (const auto& lease_id : touched) {
    const auto& entry = *leases_.Find(lease_id);
    const domain::LeaseState& l = entry.state;
    // Months bought so far, from the dates (extensions add to them).
    uint32_t bought = 0;
    while (bought < 1200 && domain::AddMonths(l.starts_at_us, bought) < l.expires_at_us) ++bought;
    rows.Begin()
        .Text(lease_id)
        .Text(l.customer_id)
        .Json(JsonStrings(l.host_ids))
        .Text(domain::Name(l.status))
        .Int(bought)
        .Time(l.starts_at_us)
        .Time(l.expires_at_us)
        .Int(static_cast<int64_t>(entry.version))
        .Int(static_cast<int64_t>(entry.position))
        .Time(entry.last_recorded_us)
        .End();
  }
  rows.Insert(schema + ".leases", kColumns, UpsertSuffix("lease_id", kColumns));
}

}  // namespace remotegpu::projections
