// Commands on environments. Creating or starting an environment places it
// with the scheduler and appends the environment's events and the host's
// allocation (GPUs, CPU, memory, ports) in one atomic multi-stream append;
// stopping, failing or deleting it releases the allocation the same way.
//
// Quotas: an environment of a customer with a quota ("quota-<customer id>",
// domain/quota.h) reserves its share (one environment, its CPU, memory, GPUs
// and storage) in the append that creates it, and gives it back in the
// append that deletes it; stopping keeps the share.
//
// Thread-safety: all methods, from any thread. Two creations racing for the
// same GPUs both decide against the host version they loaded; the store
// lets one append win and the other retries on fresh state.
#pragma once

#include <optional>
#include <string>

#include "commands/aggregate.h"
#include "commands/execute.h"
#include "commands/scheduler_index.h"
#include "commands/secrets.h"
#include "commands/striped_lock.h"
#include "commands/traits.h"

namespace remotegpu::commands {

// With a key store, every placement also records how to reach the
// environment: SSH host and port, user, and a generated password sealed
// under the owner's data key (see secrets.h).
struct AccessOptions {
  DataKeyStore* keys = nullptr;  // Not owned; null: no access info.
  std::string ssh_user = "root";
};

struct PlacementResult {
  domain::Placement placement;
  domain::SchedulingStrategy strategy;
  int64_t placement_micros = 0;  // Time spent choosing the host.
  CommandResult env;             // Positions of the append.
};

class EnvironmentService {
 public:
  EnvironmentService(eventstore::EventStore& store, const Clock& clock, SchedulerIndex& index,
                     AggregateCache<HostTraits>& hosts,
                     AggregateCache<EnvironmentTraits>& environments, StripedLock& host_locks,
                     AccessOptions access = {})
      : store_(store),
        clock_(clock),
        index_(index),
        hosts_(hosts),
        environments_(environments),
        host_locks_(host_locks),
        access_(std::move(access)),
        quotas_(store) {}

  // Creates `env_id` ("env-<id>") and places it. When nothing fits, the
  // environment is still created, with the failure in its scheduling
  // history, and the answer is ResourceExhausted naming what was missing.
  // QuotaExceeded (nothing appended) when the owner's quota has no room.
  // AlreadyExists when the id is taken; InvalidArgument for a bad spec.
  Result<PlacementResult> Create(const std::string& env_id, const domain::EnvironmentSpec& spec,
                                 const CommandMeta& meta);

  // Places a stopped, failed or never placed environment (again); on
  // `on_host` only, when given (the CMDB's allocate).
  Result<PlacementResult> Start(const std::string& env_id, const CommandMeta& meta,
                                const std::string& on_host = "");

  // Gives back the placement of `env_id` (stopping, then stopped), checking
  // that it is on `host_id` when given: FailedPrecondition when it is not
  // placed there.
  Result<CommandResult> Release(const std::string& env_id, const std::string& host_id,
                                const std::string& reason, const CommandMeta& meta);

  // Moves the lifecycle (starting, running, stopping, stopped, restarting,
  // failed, deleted); stopped, failed and deleted release the placement on
  // its host in the same append.
  Result<CommandResult> ChangeStatus(const std::string& env_id, domain::EnvironmentStatus to,
                                     const std::string& reason, const CommandMeta& meta);

  // How to reach an environment, read from its stream (not the read model,
  // which never holds the password).
  struct Access {
    std::string owner;
    domain::EnvironmentStatus status = domain::ENVIRONMENT_STATUS_UNSPECIFIED;
    domain::AccessInfo info;              // encrypted_password cleared.
    std::optional<std::string> password;  // Only when `may_see_password(owner)`.
  };
  // NotFound when the environment does not exist; FailedPrecondition when it
  // has never been placed (no access yet); Corruption when the sealed
  // password does not open (its key shredded or damaged).
  Result<Access> AccessOf(const std::string& env_id,
                          const std::function<bool(const std::string& owner)>& may_see_password);

  // Its folded state; NotFound when it does not exist.
  Result<domain::EnvironmentState> StateOf(const std::string& env_id);
  // What the environment was created with (owner, workspace); NotFound
  // when it does not exist.
  Result<domain::EnvironmentSpec> SpecOf(const std::string& env_id);
  // The host it is placed on now, empty when none; NotFound when it does
  // not exist.
  Result<std::string> PlacedOn(const std::string& env_id);

 private:
  // Places the environment whose folded state is `env` at `env_version`
  // (0: not yet in the log, `prefix` holds its creation event) and appends.
  Result<PlacementResult> PlaceAndAppend(const std::string& env_id,
                                         const domain::EnvironmentState& env, uint64_t env_version,
                                         const std::vector<domain::EnvironmentEvent>& prefix,
                                         const CommandMeta& meta);

  eventstore::EventStore& store_;
  const Clock& clock_;
  SchedulerIndex& index_;
  AggregateCache<HostTraits>& hosts_;
  AggregateCache<EnvironmentTraits>& environments_;
  // The access info of a placement, when access_ has a key store.
  Result<std::optional<domain::AccessInfo>> AccessFor(const std::string& env_id,
                                                      const domain::EnvironmentState& env,
                                                      const domain::HostState& host,
                                                      const domain::Placement& placement);

  // The quota stream's part of an append that creates (`reserve`) or deletes
  // an environment of a customer ("customer-…" owner with a quota set);
  // nullopt when no quota applies or nothing changes. QuotaExceeded when the
  // reservation does not fit. When a quota applies, `*lock` holds the
  // owner's quota stripe on return (taken here unless the caller already
  // holds it; keep it until the append is done); it comes before any host
  // stripe. Without a quota it is released.
  Result<std::optional<eventstore::StreamAppend>> QuotaChange(const std::string& env_id,
                                                              const domain::EnvironmentSpec& spec,
                                                              bool reserve, const CommandMeta& meta,
                                                              UnixMicros now,
                                                              std::unique_lock<std::mutex>* lock);

  StripedLock& host_locks_;  // Shared with HostService.
  // By owner; taken before any host lock. Not shared with host_locks_, so
  // that a quota stripe and a host stripe can never be the same mutex.
  StripedLock quota_locks_;
  AccessOptions access_;
  AggregateCache<QuotaTraits> quotas_;
};

}  // namespace remotegpu::commands
