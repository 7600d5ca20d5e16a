#include "commands/spec_service.h"

namespace remotegpu::commands {

Status SpecService::Open() {
  RGPU_RETURN_IF_ERROR(catalog_.CatchUp(store_));
  return catalog_.Follow(store_);
}

Result<CommandResult> SpecService::Execute(const std::string& spec_id,
                                           const domain::SpecCommand& command,
                                           const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(command.has_create() ? eventstore::ValidateNewStreamId(spec_id, "spec")
                                            : eventstore::ValidateStreamIdOfKind(spec_id, "spec"));
  return ExecuteOne<SpecTraits>(
      store_, specs_, clock_, spec_id, command, meta,
      [&](const Loaded<SpecTraits>& after) { catalog_.Observe(spec_id, after); });
}

Result<CommandResult> SpecService::Create(const std::string& spec_id,
                                          const domain::ProductSpec& spec, int64_t fen_per_hour,
                                          const CommandMeta& meta) {
  domain::SpecCommand command;
  *command.mutable_create()->mutable_spec() = spec;
  command.mutable_create()->set_fen_per_hour(fen_per_hour);
  return Execute(spec_id, command, meta);
}

Result<CommandResult> SpecService::Update(const std::string& spec_id,
                                          const domain::ProductSpec& spec,
                                          const CommandMeta& meta) {
  domain::SpecCommand command;
  *command.mutable_update()->mutable_spec() = spec;
  return Execute(spec_id, command, meta);
}

Result<CommandResult> SpecService::ChangePrice(const std::string& spec_id, int64_t fen_per_hour,
                                               int64_t effective_at_us, const CommandMeta& meta) {
  domain::SpecCommand command;
  command.mutable_change_price()->set_fen_per_hour(fen_per_hour);
  command.mutable_change_price()->set_effective_at_us(effective_at_us);
  return Execute(spec_id, command, meta);
}

Result<Loaded<SpecTraits>> SpecService::Get(const std::string& spec_id) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamIdOfKind(spec_id, "spec"));
  auto loaded = specs_.Load(spec_id);
  if (!loaded.ok()) return loaded.status();
  if (loaded->version == 0) return Status::NotFound("no product spec " + spec_id);
  return loaded;
}

std::map<std::string, Loaded<SpecTraits>> SpecService::List(bool listed_only) const {
  auto all = catalog_.All();
  std::erase_if(all, [&](const auto& entry) {
    return !entry.second.state.created || (listed_only && !entry.second.state.spec.listed());
  });
  return all;
}

}  // namespace remotegpu::commands
