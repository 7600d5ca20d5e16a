#include "projections/cmdb_projector.h"

#include "domain/stream_id.h"
#include "projections/sql_rows.h"

namespace remotegpu::projections {
namespace {

const char* UsageName(domain::UsageStatus usage) {
  switch (usage) {
    case domain::IDLE:
      return "idle";
    case domain::PARTIAL:
      return "partial";
    case domain::FULL:
      return "full";
    case domain::OVERCOMMIT:
      return "overcommit";
    default:
      return "unspecified";
  }
}

const char* ModeName(domain::DeploymentMode mode) {
  switch (mode) {
    case domain::DOCKER:
      return "docker";
    case domain::KUBERNETES:
      return "kubernetes";
    case domain::BARE_METAL:
      return "bare_metal";
    default:
      return "unspecified";
  }
}

std::string ActorText(const eventstore::Actor& actor) {
  static const char* kKinds[] = {"unknown", "user", "api_key", "agent", "system"};
  return std::string(kKinds[static_cast<int>(actor.kind)]) + ":" + actor.id;
}

std::string GpuSummary(const domain::Gpu& gpu) {
  return gpu.model() + " " + std::to_string(gpu.memory_mb()) + " MB " + gpu.uuid();
}

// The change_log rows one host event makes.
struct Change {
  std::string type, field, old_value, new_value, reason;
};

std::vector<Change> ChangesOf(const domain::HostEvent& event) {
  std::vector<Change> changes;
  auto fields = [&](const std::string& type, const auto& list) {
    for (const auto& c : list)
      changes.push_back({type, c.field(), c.old_value(), c.new_value(), ""});
  };
  switch (event.event_case()) {
    case domain::HostEvent::kRegistered:
      changes.push_back({"registered", "name", "", event.registered().spec().name(), ""});
      break;
    case domain::HostEvent::kSpecChanged:
      fields("config_change", event.spec_changed().changes());
      break;
    case domain::HostEvent::kAssetChanged:
      fields("asset_change", event.asset_changed().changes());
      break;
    case domain::HostEvent::kGpuAdded: {
      const auto& gpu = event.gpu_added().gpu();
      changes.push_back(
          {"gpu_change", "gpu " + std::to_string(gpu.index()), "", GpuSummary(gpu), ""});
      break;
    }
    case domain::HostEvent::kGpuRemoved: {
      const auto& gpu = event.gpu_removed().gpu();
      changes.push_back(
          {"gpu_change", "gpu " + std::to_string(gpu.index()), GpuSummary(gpu), "", ""});
      break;
    }
    case domain::HostEvent::kGpuChanged: {
      const std::string field = "gpu " + std::to_string(event.gpu_changed().gpu().index()) + " ";
      for (const auto& c : event.gpu_changed().changes()) {
        changes.push_back({"gpu_change", field + c.field(), c.old_value(), c.new_value(), ""});
      }
      break;
    }
    case domain::HostEvent::kStatusChanged: {
      const auto& s = event.status_changed();
      changes.push_back({"status_change", "operational_status", domain::Name(s.from()),
                         domain::Name(s.to()), s.reason()});
      break;
    }
    case domain::HostEvent::kWentOffline:
      changes.push_back({"status_change", "online", "true", "false", "no heartbeat"});
      break;
    case domain::HostEvent::kCameOnline:
      changes.push_back({"status_change", "online", "false", "true", "heartbeat"});
      break;
    case domain::HostEvent::kHealthChanged: {
      const auto& h = event.health_changed();
      std::string reasons;
      for (const auto& r : h.reasons()) reasons += (reasons.empty() ? "" : "; ") + r;
      changes.push_back({"health_change", "health_status", domain::Name(h.from()),
                         domain::Name(h.to()), reasons});
      break;
    }
    case domain::HostEvent::kAllocated: {
      const auto& a = event.allocated();
      changes.push_back({"resource_change", "allocation " + a.allocation_id(), "",
                         a.holder() + " gpus " + JsonNumbers(a.gpu_indexes()), ""});
      break;
    }
    case domain::HostEvent::kReleased: {
      const auto& r = event.released();
      changes.push_back(
          {"resource_change", "allocation " + r.allocation_id(), r.holder(), "", r.reason()});
      break;
    }
    case domain::HostEvent::EVENT_NOT_SET:
      break;
  }
  return changes;
}

}  // namespace

void CmdbProjector::Apply(pqxx::work& tx, const std::string& schema,
                          const std::vector<eventstore::RecordedEvent>& batch) {
  std::set<std::string> touched;
  SqlRows change_rows(tx);
  for (const auto& recorded : batch) {
    if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kHost)) continue;
    const auto event = ParseEvent<domain::HostEvent>(recorded);
    hosts_.Fold(recorded, event);
    touched.insert(recorded.stream_id);
    int seq = 0;
    for (const Change& c : ChangesOf(event)) {
      change_rows.Begin()
          .Int(static_cast<int64_t>(recorded.global_position))
          .Int(seq++)
          .Text(recorded.stream_id)
          .Text(c.type)
          .Text(c.field)
          .Text(c.old_value)
          .Text(c.new_value)
          .Text(ActorText(recorded.data.actor))
          .Text(c.reason)
          .Text(recorded.data.correlation_id)
          .Time(recorded.recorded_at_us)
          .End();
    }
  }
  change_rows.Insert(schema + ".change_log",
                     "position, seq, asset_id, change_type, field, old_value, new_value, actor, "
                     "reason, request_id, changed_at",
                     "ON CONFLICT DO NOTHING");
  if (touched.empty()) return;

  // Every touched host is rewritten from its folded state: a batch writes
  // each host once, however many of its events it held.
  static const std::string kHostColumns =
      "host_id, name, ip_address, public_ip, ssh_port, os_type, os_version, arch, "
      "deployment_mode, region, cpu_cores, memory_mb, disk_gb, labels, tags, asset_number, room, "
      "rack, unit, owner, operational_status, usage_status, health_status, online, isolated, "
      "reserved_for, gpu_model, gpu_count, gpus_free, cpu_allocated, memory_allocated_mb, "
      "version, position, registered_at, updated_at";
  SqlRows host_rows(tx), gpu_rows(tx), port_rows(tx), pool_rows(tx);
  std::string ids;
  for (const auto& host_id : touched) {
    ids += (ids.empty() ? "" : ",") + tx.quote(host_id);
    const auto& entry = *hosts_.Find(host_id);
    const domain::HostState& h = entry.state;
    std::vector<std::string> labels, tags(h.spec.tags().begin(), h.spec.tags().end());
    for (const auto& label : h.spec.labels()) labels.push_back(label.key() + "=" + label.value());
    std::string model;
    for (const auto& [index, gpu] : h.gpus) {
      if (model.empty() || model == gpu.model()) {
        model = gpu.model();
      } else {
        model = "mixed";
      }
    }
    host_rows.Begin()
        .Text(host_id)
        .Text(h.spec.name())
        .Text(h.spec.ip())
        .Text(h.spec.public_ip())
        .Int(h.spec.ssh_port())
        .Text(h.spec.os())
        .Text(h.spec.os_version())
        .Text(h.spec.arch())
        .Text(ModeName(h.spec.deployment_mode()))
        .Text(h.spec.region())
        .Int(h.spec.cpu_cores())
        .Int(static_cast<int64_t>(h.spec.memory_mb()))
        .Int(static_cast<int64_t>(h.spec.disk_gb()))
        .Json(JsonStrings(labels))
        .Json(JsonStrings(tags))
        .Text(h.asset.asset_number())
        .Text(h.asset.room())
        .Text(h.asset.rack())
        .Int(h.asset.unit())
        .Text(h.asset.owner())
        .Text(domain::Name(h.status))
        .Text(UsageName(h.Usage()))
        .Text(domain::Name(h.health))
        .Bool(h.online)
        .Bool(h.isolated)
        .Text(h.reserved_for)
        .Text(model)
        .Int(static_cast<int64_t>(h.gpus.size()))
        .Int(static_cast<int64_t>(h.gpus.size() - h.gpu_holders.size()))
        .Int(h.cpu_allocated)
        .Int(static_cast<int64_t>(h.memory_allocated))
        .Int(static_cast<int64_t>(entry.version))
        .Int(static_cast<int64_t>(entry.position))
        .Time(entry.first_recorded_us)
        .Time(entry.last_recorded_us)
        .End();
    for (const auto& [index, gpu] : h.gpus) {
      gpu_rows.Begin()
          .Text(host_id)
          .Int(index)
          .Text(gpu.uuid())
          .Text(gpu.model())
          .Int(static_cast<int64_t>(gpu.memory_mb()))
          .Text(gpu.compute_capability())
          .Json(JsonNumbers(gpu.nvlink_peers()));
      auto holder = h.gpu_holders.find(index);
      if (holder == h.gpu_holders.end()) {
        gpu_rows.Null().Null();
      } else {
        gpu_rows.Text(holder->second).Text(h.allocations.at(holder->second).holder);
      }
      gpu_rows.End();
    }
    for (const auto& range : domain::EffectivePortRanges(h.spec)) {
      pool_rows.Begin()
          .Text(host_id)
          .Text(domain::Name(range.service()))
          .Int(range.first())
          .Int(range.last())
          .End();
    }
    for (const auto& [id, allocation] : h.allocations) {
      for (const auto& port : allocation.ports) {
        port_rows.Begin()
            .Text(host_id)
            .Int(port.port())
            .Text(domain::Name(port.service()))
            .Text(id)
            .Text(allocation.holder)
            .End();
      }
    }
  }
  host_rows.Insert(schema + ".hosts", kHostColumns, UpsertSuffix("host_id", kHostColumns));
  tx.exec0("DELETE FROM " + schema + ".gpus WHERE host_id IN (" + ids + ")");
  tx.exec0("DELETE FROM " + schema + ".port_mappings WHERE host_id IN (" + ids + ")");
  tx.exec0("DELETE FROM " + schema + ".port_pools WHERE host_id IN (" + ids + ")");
  gpu_rows.Insert(schema + ".gpus",
                  "host_id, gpu_index, uuid, model, memory_mb, compute_capability, nvlink_peers, "
                  "allocation_id, holder");
  port_rows.Insert(schema + ".port_mappings", "host_id, port, service, allocation_id, holder");
  pool_rows.Insert(schema + ".port_pools", "host_id, service, first_port, last_port");
}

}  // namespace remotegpu::projections
