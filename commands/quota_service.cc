#include "commands/quota_service.h"

namespace remotegpu::commands {

Result<QuotaView> QuotaService::Get(const std::string& customer_id) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(customer_id, "customer"));
  auto loaded = quotas_.Load("quota-" + customer_id);
  if (!loaded.ok()) return loaded.status();
  const domain::QuotaState& state = loaded->state;
  QuotaView view;
  view.set = state.set;
  view.level = state.level;
  view.overrides = state.overrides;
  if (state.set) view.limits = domain::EffectiveLimits(state.level, state.overrides);
  view.used = state.used;
  view.reserved = state.reserved;
  view.version = loaded->version;
  return view;
}

Result<CommandResult> QuotaService::Set(const std::string& customer_id, domain::QuotaLevel level,
                                        const domain::QuotaOverrides& overrides,
                                        const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(customer_id, "customer"));
  domain::QuotaCommand command;
  command.mutable_set()->set_level(level);
  *command.mutable_set()->mutable_overrides() = overrides;
  return ExecuteOne<QuotaTraits>(store_, quotas_, clock_, "quota-" + customer_id, command, meta);
}

}  // namespace remotegpu::commands
