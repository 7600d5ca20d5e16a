#include "domain/quota.h"

namespace remotegpu::domain {
namespace {

QuotaAmounts Amounts(uint32_t cpu, uint64_t memory_mb, uint32_t gpus, uint64_t storage_gb,
                     uint32_t environments) {
  QuotaAmounts amounts;
  amounts.set_cpu_cores(cpu);
  amounts.set_memory_mb(memory_mb);
  amounts.set_gpu_count(gpus);
  amounts.set_storage_gb(storage_gb);
  amounts.set_environments(environments);
  return amounts;
}

void Add(QuotaAmounts& total, const QuotaAmounts& amounts, int sign) {
  total.set_cpu_cores(total.cpu_cores() + sign * amounts.cpu_cores());
  total.set_memory_mb(total.memory_mb() + sign * amounts.memory_mb());
  total.set_gpu_count(total.gpu_count() + sign * amounts.gpu_count());
  total.set_storage_gb(total.storage_gb() + sign * amounts.storage_gb());
  total.set_environments(total.environments() + sign * amounts.environments());
}

// "gpu_count 2 in use + 1 asked > 2 allowed" for the first resource the
// request would take past its limit (one already past it by a lowered limit
// refuses only requests that ask for more of it).
Status CheckFits(const QuotaAmounts& used, const QuotaAmounts& asked, const QuotaAmounts& limits,
                 QuotaLevel level) {
  struct Dimension {
    const char* name;
    uint64_t used, asked, limit;
  };
  const Dimension dimensions[] = {
      {"environments", used.environments(), asked.environments(), limits.environments()},
      {"cpu_cores", used.cpu_cores(), asked.cpu_cores(), limits.cpu_cores()},
      {"memory_mb", used.memory_mb(), asked.memory_mb(), limits.memory_mb()},
      {"gpu_count", used.gpu_count(), asked.gpu_count(), limits.gpu_count()},
      {"storage_gb", used.storage_gb(), asked.storage_gb(), limits.storage_gb()},
  };
  for (const Dimension& d : dimensions) {
    if (d.asked > 0 && d.used + d.asked > d.limit) {  // Nothing asked: no worse.
      return Status::QuotaExceeded(std::string("quota exceeded: ") + d.name + " " +
                                   std::to_string(d.used) + " in use + " + std::to_string(d.asked) +
                                   " asked > " + std::to_string(d.limit) + " allowed (level " +
                                   Name(level) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* Name(QuotaLevel level) {
  switch (level) {
    case QUOTA_FREE:
      return "free";
    case QUOTA_BASIC:
      return "basic";
    case QUOTA_PRO:
      return "pro";
    case QUOTA_ENTERPRISE:
      return "enterprise";
    default:
      return "unspecified";
  }
}

Result<QuotaLevel> ParseQuotaLevel(const std::string& name) {
  for (QuotaLevel level : {QUOTA_FREE, QUOTA_BASIC, QUOTA_PRO, QUOTA_ENTERPRISE}) {
    if (name == Name(level)) return level;
  }
  return Status::InvalidArgument("quota level must be free, basic, pro or enterprise");
}

QuotaAmounts LevelLimits(QuotaLevel level) {
  switch (level) {
    case QUOTA_FREE:
      return Amounts(8, 32 * 1024, 1, 100, 2);
    case QUOTA_BASIC:
      return Amounts(32, 128 * 1024, 4, 500, 5);
    case QUOTA_PRO:
      return Amounts(128, 512 * 1024, 16, 2000, 20);
    case QUOTA_ENTERPRISE:
      return Amounts(1024, 4096 * 1024, 128, 20000, 200);
    default:
      return Amounts(0, 0, 0, 0, 0);
  }
}

QuotaAmounts EffectiveLimits(QuotaLevel level, const QuotaOverrides& overrides) {
  QuotaAmounts limits = LevelLimits(level);
  if (overrides.has_cpu_cores()) limits.set_cpu_cores(overrides.cpu_cores());
  if (overrides.has_memory_mb()) limits.set_memory_mb(overrides.memory_mb());
  if (overrides.has_gpu_count()) limits.set_gpu_count(overrides.gpu_count());
  if (overrides.has_storage_gb()) limits.set_storage_gb(overrides.storage_gb());
  if (overrides.has_environments()) limits.set_environments(overrides.environments());
  return limits;
}

void Apply(QuotaState& state, const QuotaEvent& event) {
  switch (event.event_case()) {
    case QuotaEvent::kSet:
      state.set = true;
      state.level = event.set().level();
      state.overrides = event.set().overrides();
      break;
    case QuotaEvent::kReserved: {
      const auto& reserved = event.reserved();
      auto [it, inserted] = state.reserved.emplace(reserved.environment_id(), reserved.amounts());
      if (inserted) Add(state.used, reserved.amounts(), +1);
      break;
    }
    case QuotaEvent::kReleased:
      if (auto it = state.reserved.find(event.released().environment_id());
          it != state.reserved.end()) {
        Add(state.used, it->second, -1);
        state.reserved.erase(it);
      }
      break;
    case QuotaEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<QuotaEvent>> Decide(const QuotaState& state, const QuotaCommand& command,
                                       const DecideContext& context) {
  std::vector<QuotaEvent> out;
  switch (command.command_case()) {
    case QuotaCommand::kSet: {
      const SetQuota& set = command.set();
      if (set.level() == QUOTA_LEVEL_UNSPECIFIED) {
        return Status::InvalidArgument("a quota needs a level");
      }
      auto* event = out.emplace_back().mutable_set();
      event->set_level(set.level());
      *event->mutable_overrides() = set.overrides();
      return out;
    }
    case QuotaCommand::kReserve: {
      const ReserveQuota& reserve = command.reserve();
      if (reserve.environment_id().empty()) {
        return Status::InvalidArgument("a reservation needs an environment id");
      }
      if (!state.set) return Status::NotFound("no " + context.stream_id);
      if (state.reserved.contains(reserve.environment_id())) return out;
      QuotaAmounts asked = reserve.amounts();
      asked.set_environments(1);
      RGPU_RETURN_IF_ERROR(
          CheckFits(state.used, asked, EffectiveLimits(state.level, state.overrides), state.level));
      auto* event = out.emplace_back().mutable_reserved();
      event->set_environment_id(reserve.environment_id());
      *event->mutable_amounts() = asked;
      return out;
    }
    case QuotaCommand::kRelease:
      if (state.reserved.contains(command.release().environment_id())) {
        out.emplace_back().mutable_released()->set_environment_id(
            command.release().environment_id());
      }
      return out;
    case QuotaCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty quota command");
}

}  // namespace remotegpu::domain
