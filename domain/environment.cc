#include "domain/environment.h"

namespace remotegpu::domain {
namespace {

using Events = std::vector<EnvironmentEvent>;

Status ValidateSpec(const EnvironmentSpec& spec) {
  RGPU_RETURN_IF_ERROR(ValidateEnvironmentName(spec.name()));
  if (spec.owner().empty()) return Status::InvalidArgument("owner is required");
  if (spec.image().empty()) return Status::InvalidArgument("image is required");
  if (spec.cpu_cores() == 0) return Status::InvalidArgument("cpu_cores must be above 0");
  if (spec.memory_mb() == 0) return Status::InvalidArgument("memory_mb must be above 0");
  if (spec.gpu_count() > 64) return Status::InvalidArgument("gpu_count must be at most 64");
  for (const auto& var : spec.env()) {
    if (var.name().empty()) return Status::InvalidArgument("env: a variable has no name");
  }
  for (const auto& port : spec.ports()) {
    if (port.service() == PORT_SERVICE_UNSPECIFIED || port.count() == 0 || port.count() > 16) {
      return Status::InvalidArgument("ports: each request needs a service and 1 to 16 ports");
    }
  }
  return Status::Ok();
}

EnvironmentEvent StatusChange(EnvironmentStatus from, EnvironmentStatus to,
                              const std::string& reason) {
  EnvironmentEvent event;
  auto* changed = event.mutable_status_changed();
  changed->set_from(from);
  changed->set_to(to);
  changed->set_reason(reason);
  return event;
}

}  // namespace

Status ValidateEnvironmentName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("name must be 1 to 64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) {
      return Status::InvalidArgument("name '" + name +
                                     "' may hold only letters, digits, '-' and '_'");
    }
  }
  return Status::Ok();
}

bool CanMove(EnvironmentStatus from, EnvironmentStatus to) {
  if (to == DELETED) return from != DELETED && from != ENVIRONMENT_STATUS_UNSPECIFIED;
  switch (from) {
    case CREATING:
      return to == SCHEDULED || to == FAILED;
    case SCHEDULED:
      return to == STARTING || to == STOPPING || to == FAILED;
    case STARTING:
      return to == RUNNING || to == STOPPING || to == FAILED;
    case RUNNING:
      return to == STOPPING || to == RESTARTING || to == FAILED;
    case RESTARTING:
      return to == RUNNING || to == FAILED;
    case STOPPING:
      return to == STOPPED || to == FAILED;
    case STOPPED:
      return to == SCHEDULED;
    case FAILED:
      return to == SCHEDULED || to == STOPPED;
    default:
      return false;
  }
}

void Apply(EnvironmentState& state, const EnvironmentEvent& event) {
  switch (event.event_case()) {
    case EnvironmentEvent::kCreated:
      state.created = true;
      state.spec = event.created().spec();
      state.status = CREATING;
      break;
    case EnvironmentEvent::kScheduled:
      state.placed = true;
      state.placement = event.scheduled().placement();
      state.status = SCHEDULED;
      ++state.attempts;
      break;
    case EnvironmentEvent::kSchedulingFailed:
      state.status = FAILED;
      ++state.attempts;
      break;
    case EnvironmentEvent::kAccessSet:
      state.access = event.access_set().access();
      break;
    case EnvironmentEvent::kStatusChanged:
      state.status = event.status_changed().to();
      if (state.status == RESTARTING) ++state.restarts;
      break;
    case EnvironmentEvent::kPlacementReleased:
      state.placed = false;
      state.placement.Clear();
      break;
    case EnvironmentEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<EnvironmentEvent>> Decide(const EnvironmentState& state,
                                             const EnvironmentCommand& command,
                                             const DecideContext& context) {
  if (command.command_case() == EnvironmentCommand::kCreate) {
    if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
    RGPU_RETURN_IF_ERROR(ValidateSpec(command.create().spec()));
    Events events(1);
    *events[0].mutable_created()->mutable_spec() = command.create().spec();
    return events;
  }
  if (!state.created) return Status::NotFound(context.stream_id + " does not exist");
  if (state.status == DELETED) return Status::FailedPrecondition(context.stream_id + " is deleted");

  switch (command.command_case()) {
    case EnvironmentCommand::kRecordPlacement: {
      if (!CanMove(state.status, SCHEDULED)) {
        return Status::FailedPrecondition(std::string("cannot place an environment that is ") +
                                          Name(state.status));
      }
      const auto& record = command.record_placement();
      if (record.placement().host_id().empty() || record.placement().allocation_id().empty()) {
        return Status::InvalidArgument("placement needs a host and an allocation id");
      }
      if (static_cast<uint32_t>(record.placement().gpu_indexes_size()) != state.spec.gpu_count()) {
        return Status::InvalidArgument(
            "placement holds " + std::to_string(record.placement().gpu_indexes_size()) +
            " GPUs, the environment needs " + std::to_string(state.spec.gpu_count()));
      }
      Events events(1);
      auto* scheduled = events[0].mutable_scheduled();
      *scheduled->mutable_placement() = record.placement();
      scheduled->set_strategy(record.strategy());
      scheduled->set_duration_us(record.duration_us());
      scheduled->set_candidates(record.candidates());
      return events;
    }
    case EnvironmentCommand::kRecordFailure: {
      if (state.status != CREATING && state.status != STOPPED && state.status != FAILED) {
        return Status::FailedPrecondition(std::string("no placement is pending for an environment "
                                                      "that is ") +
                                          Name(state.status));
      }
      Events events(1);
      auto* failed = events[0].mutable_scheduling_failed();
      failed->set_reason(command.record_failure().reason());
      failed->set_strategy(command.record_failure().strategy());
      failed->set_duration_us(command.record_failure().duration_us());
      return events;
    }
    case EnvironmentCommand::kSetAccess: {
      Events events(1);
      *events[0].mutable_access_set()->mutable_access() = command.set_access().access();
      return events;
    }
    case EnvironmentCommand::kChangeStatus: {
      const EnvironmentStatus to = command.change_status().to();
      if (to == SCHEDULED) {
        return Status::InvalidArgument("an environment is scheduled by placing it, not by status");
      }
      if (!EnvironmentStatus_IsValid(to) || to == ENVIRONMENT_STATUS_UNSPECIFIED ||
          to == CREATING) {
        return Status::InvalidArgument("unknown target status");
      }
      if (!CanMove(state.status, to)) {
        return Status::FailedPrecondition(std::string("an environment cannot go from ") +
                                          Name(state.status) + " to " + Name(to));
      }
      Events events;
      events.push_back(StatusChange(state.status, to, command.change_status().reason()));
      if ((to == STOPPED || to == FAILED || to == DELETED) && state.placed) {
        auto* released = events.emplace_back().mutable_placement_released();
        *released->mutable_placement() = state.placement;
        released->set_reason(std::string("environment ") + Name(to));
      }
      return events;
    }
    default:
      break;
  }
  return Status::InvalidArgument("empty environment command");
}

const char* Name(EnvironmentStatus status) {
  switch (status) {
    case CREATING:
      return "creating";
    case SCHEDULED:
      return "scheduled";
    case STARTING:
      return "starting";
    case RUNNING:
      return "running";
    case STOPPING:
      return "stopping";
    case STOPPED:
      return "stopped";
    case RESTARTING:
      return "restarting";
    case FAILED:
      return "failed";
    case DELETED:
      return "deleted";
    default:
      return "unspecified";
  }
}

}  // namespace remotegpu::domain
