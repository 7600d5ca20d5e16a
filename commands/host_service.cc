#include "commands/host_service.h"

namespace remotegpu::commands {

Result<CommandResult> HostService::Execute(const std::string& host_id,
                                           const domain::HostCommand& command,
                                           const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(host_id, "host"));
  std::lock_guard lock(host_locks_.For(host_id));
  return ExecuteOne<HostTraits>(store_, hosts_, clock_, host_id, command, meta,
                                [&](const Loaded<HostTraits>& after) {
                                  index_.ApplyHostState(host_id, after.version, after.state);
                                });
}

}  // namespace remotegpu::commands
