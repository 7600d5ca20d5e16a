#include "commands/host_service.h"

namespace remotegpu::commands {

Result<CommandResult> HostService::Execute(const std::string& host_id,
                                           const domain::HostCommand& command,
                                           const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(command.has_register_()
                           ? eventstore::ValidateNewStreamId(host_id, "host")
                           : eventstore::ValidateStreamIdOfKind(host_id, "host"));
  std::lock_guard lock(host_locks_.For(host_id));
  return ExecuteOne<HostTraits>(store_, hosts_, clock_, host_id, command, meta,
                                [&](const Loaded<HostTraits>& after) {
                                  index_.ApplyHostState(host_id, after.version, after.state);
                                });
}

Result<CommandResult> HostService::ApplyAgentReport(const std::string& host_id,
                                                    const domain::AgentReport& report,
                                                    const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(host_id, "host"));
  auto host = hosts_.Load(host_id);
  if (!host.ok()) return host.status();
  if (host->version == 0) return Status::NotFound("no host " + host_id);
  domain::HostCommand update;
  domain::HostSpec& spec = *update.mutable_update_spec()->mutable_spec();
  spec = host->state.spec;
  if (spec.ip().empty()) spec.set_ip(report.ip());
  if (!report.os().empty()) spec.set_os(report.os());
  if (!report.os_version().empty()) spec.set_os_version(report.os_version());
  if (!report.arch().empty()) spec.set_arch(report.arch());
  if (report.deployment_mode() != domain::DEPLOYMENT_MODE_UNSPECIFIED) {
    spec.set_deployment_mode(report.deployment_mode());
  }
  if (report.cpu_cores() > 0) spec.set_cpu_cores(report.cpu_cores());
  if (report.memory_mb() > 0) spec.set_memory_mb(report.memory_mb());
  if (report.disk_gb() > 0) spec.set_disk_gb(report.disk_gb());
  domain::HostCommand gpus;
  *gpus.mutable_report_gpus()->mutable_gpus() = report.gpus();
  CommandResult total;
  for (const auto* command : {&update, &gpus}) {
    auto done = Execute(host_id, *command, meta);
    if (!done.ok()) return done.status();
    total.version = done->version;
    if (done->events > 0) {
      if (total.first_position == 0) total.first_position = done->first_position;
      total.last_position = done->last_position;
      total.events += done->events;
    }
  }
  return total;
}

}  // namespace remotegpu::commands
