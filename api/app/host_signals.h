// Which hosts' desired state the log has changed, for the agents' long-poll
// (GET /internal/hosts/:id/environments?after=P&wait_ms=W). One thread
// follows the log; each host has a ProgressSignal whose position is the last
// event that touched what its agent should run: an event of the host's own
// stream, or of an environment placed there (its placement, status changes,
// release). A parked poll wakes when its host's signal passes P, and not
// for the rest of the fleet's traffic.
//
// Before a host's signal moves, the scheduler index (from which the desired
// state is read) has applied that position, so a woken poll never reads an
// answer older than what woke it.
//
// Thread-safety: For from any thread; Start and Stop from one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/progress.h"
#include "eventstore/event_store.h"
#include "eventstore/log_follower.h"

namespace remotegpu::commands {
class EnvironmentService;
class SchedulerIndex;
}  // namespace remotegpu::commands

namespace remotegpu::api {

class HostSignals {
 public:
  HostSignals(eventstore::EventStore& store, commands::EnvironmentService& environments,
              commands::SchedulerIndex& index)
      : store_(store), environments_(environments), index_(index) {}
  ~HostSignals() { Stop(); }

  // Follows the log from its head on.
  Status Start();
  void Stop();

  // The host's signal, made on first use; it lives as long as this object.
  ProgressSignal& For(const std::string& host_id);

 private:
  Status Apply(const eventstore::RecordedEvent& event);
  // The host an environment event concerns, or "" (not placed anywhere).
  std::string HostOf(const eventstore::RecordedEvent& event);

  eventstore::EventStore& store_;
  commands::EnvironmentService& environments_;
  commands::SchedulerIndex& index_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<ProgressSignal>> signals_;  // Guarded by mu_.
  // Where each environment seen runs ("": not placed). Follower thread only.
  std::unordered_map<std::string, std::string> env_hosts_;
  bool warned_lag_ = false;  // Follower thread only.
  std::unique_ptr<eventstore::LogFollower> follower_;
};

}  // namespace remotegpu::api
