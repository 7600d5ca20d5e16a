// The Environment decider: lifecycle and placement of a container
// environment. Pure.
//
// Lifecycle (ChangeEnvironmentStatus, plus RecordPlacement for scheduled):
//
//   creating   -> scheduled | failed | deleted
//   scheduled  -> starting | stopping | failed | deleted
//   starting   -> running | stopping | failed | deleted
//   running    -> stopping | restarting | failed | deleted
//   restarting -> running | failed | deleted
//   stopping   -> stopped | failed | deleted
//   stopped    -> scheduled (start places it again) | deleted
//   failed     -> scheduled (placed again) | stopped | deleted
//   deleted    -> (final)
//
// Going to stopped, failed or deleted gives its placement back
// (PlacementReleased), which the command handler mirrors on the host stream
// in the same append.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/environment.pb.h"

namespace remotegpu::domain {

struct EnvironmentState {
  bool created = false;
  EnvironmentSpec spec;
  EnvironmentStatus status = ENVIRONMENT_STATUS_UNSPECIFIED;
  bool placed = false;
  Placement placement;
  AccessInfo access;
  int attempts = 0;  // Placements and failures recorded.
  // Restarts asked for: the host agent restarts its workload when this grows.
  uint64_t restarts = 0;
};

void Apply(EnvironmentState& state, const EnvironmentEvent& event);

// Events or why not: InvalidArgument, NotFound, AlreadyExists or
// FailedPrecondition (a move the table does not allow).
Result<std::vector<EnvironmentEvent>> Decide(const EnvironmentState& state,
                                             const EnvironmentCommand& command,
                                             const DecideContext& context);

bool CanMove(EnvironmentStatus from, EnvironmentStatus to);
const char* Name(EnvironmentStatus status);

// Letters, digits, '-' and '_', 1 to 64 of them.
Status ValidateEnvironmentName(const std::string& name);

}  // namespace remotegpu::domain
