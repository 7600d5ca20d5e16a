// The scheduler's capacity index, kept current from the event stream.
//
// Every committed host event is folded into a per-host state and the
// capacity index is updated from it. The index is rebuilt from the log on
// start (CatchUp) and then follows new commits (Follow). Command handlers
// also hand it the state they just committed, so a placement right after an
// allocation already sees it; a version check keeps the two feeds from
// applying anything twice.
//
// A placement reserves what it chose until the handler commits or gives up
// (Release), so concurrent placements see those GPUs as taken and spread
// out instead of all choosing the same best-fit host ("resource locking" in
// seed 01 §2.2).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "domain/scheduler.h"
#include "domain/scheduling_policy.h"
#include "eventstore/event_store.h"
#include "eventstore/log_follower.h"

namespace remotegpu::commands {

class SchedulerIndex {
 public:
  explicit SchedulerIndex(uint64_t random_seed = 1);
  ~SchedulerIndex();

  // Applies one committed event; events of other aggregates are skipped.
  Status Apply(const eventstore::RecordedEvent& event);
  // A host's state as of `version`, from a handler that just committed it.
  void ApplyHostState(const std::string& host_id, uint64_t version, const domain::HostState& state);

  // Reads the log from where the index stopped to its end.
  Status CatchUp(eventstore::EventStore& store);
  // Starts a thread that applies every new commit; Stop (or the destructor)
  // ends it. The store must outlive the index or Stop.
  Status Follow(eventstore::EventStore& store);
  void Stop();

  struct Choice {
    domain::PlacementChoice placement;
    uint64_t host_version;  // The chosen host's version the index decided on.
    uint64_t reservation;   // Hand to Release once committed or abandoned.
  };
  // Chooses and reserves.
  Result<Choice> Place(const domain::PlacementRequest& request);
  // Drops a reservation; after a commit, call it after ApplyHostState.
  void Release(uint64_t reservation);
  void SetDefaultStrategy(domain::SchedulingStrategy strategy);

  // The scheduling policies as the log has them (events of "policy-*"
  // streams), which set the default strategy (domain::EffectiveStrategy).
  struct PolicyView {
    std::string id;
    domain::SchedulingPolicy policy;
    uint64_t version = 0;  // 0: never changed, the built-in default.
    bool effective = false;
  };
  std::vector<PolicyView> Policies();
  // What a policy command just committed, before Follow gets there.
  void ApplyPolicyState(const std::string& id, uint64_t version, const domain::PolicyState& state);

  // Host ids, and a copy of one host's state, for process managers.
  std::vector<std::string> HostIds();
  std::optional<domain::HostState> HostState(const std::string& host_id);
  uint64_t position();
  // The host version the index reflects; 0 for an unknown host.
  uint64_t HostVersion(const std::string& host_id);

 private:
  std::mutex mu_;
  domain::CapacityIndex index_;  // Guarded by mu_.
  std::unordered_map<std::string, std::pair<domain::HostState, uint64_t>>
      hosts_;               // Guarded by mu_.
  std::mt19937_64 random_;  // Guarded by mu_.
  uint64_t position_ = 0;   // Guarded by mu_.
  // Policy id -> (state, version); every built-in id. Guarded by mu_.
  std::map<std::string, std::pair<domain::PolicyState, uint64_t>> policies_;
  Status ApplyPolicyEvent(const eventstore::RecordedEvent& recorded);  // Needs mu_.
  void UsePolicies();                                                  // Needs mu_.
  struct Reservation {
    std::string host_id;
    std::vector<uint32_t> gpus;
    uint32_t cpu_cores;
    uint64_t memory_mb;
  };
  std::unordered_map<uint64_t, Reservation> reservations_;  // Guarded by mu_.
  uint64_t next_reservation_ = 1;                           // Guarded by mu_.

  // Re-indexes a host from its state with its reservations added. Needs mu_.
  void Reindex(const std::string& host_id);

  std::unique_ptr<eventstore::LogFollower> follower_;
};

}  // namespace remotegpu::commands
