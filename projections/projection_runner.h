// Feeds one projector from the log into PostgreSQL.
//
// Each step reads up to batch_size events after the projector's checkpoint,
// applies them and moves the checkpoint in the same transaction, which first
// locks the stored checkpoint and checks it is where this runner thinks: a
// crash at any point, or a second runner of the same projection, can neither
// skip an event nor apply one twice. Start() runs steps on a thread that waits for new
// commits when caught up; Step() and CatchUp() are for callers that drive it
// themselves (tests, rebuilds, benchmarks).
//
// Thread-safety: Start/Stop from one owner; checkpoint() and lag() from any
// thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/progress.h"
#include "eventstore/event_store.h"
#include "projections/projector.h"

namespace remotegpu::projections {

struct ProjectionRunnerOptions {
  std::string conninfo;       // libpq connection string.
  std::string schema = "rg";  // Where the read models live.
  size_t batch_size = 1000;   // Events per transaction.
  // Under a steady trickle of events, how long the runner waits for more
  // before applying a partial batch: fewer, larger transactions (far less
  // PostgreSQL CPU per event) for at most this much more projection delay.
  std::chrono::milliseconds linger{0};
};

class ProjectionRunner {
 public:
  ProjectionRunner(eventstore::EventStore& store, std::unique_ptr<Projector> projector,
                   ProjectionRunnerOptions options);
  ~ProjectionRunner();

  // Connects, migrates the schema and reads the checkpoint.
  Status Open();
  // Applies the next batch; returns how many events it applied (0: caught
  // up). VersionConflict when another runner of the same projection moved
  // the stored checkpoint: this runner then continues from there.
  Result<size_t> Step();
  // Steps until the checkpoint reaches the log's last position at the call.
  Status CatchUp();
  // Runs steps on a thread until Stop; failed steps are logged and retried.
  Status Start();
  void Stop();

  uint64_t checkpoint() const { return checkpoint_.load(); }
  // The checkpoint as a signal: requests waiting for a position
  // (X-Min-Position) park on it instead of polling.
  ProgressSignal& progress() const { return progress_; }
  // Grows whenever the read model may have changed: a new checkpoint, or a
  // reopen (a rebuild swapped the schema in), for answer caches.
  uint64_t read_model_version() const {
    return (opens_.load() << 44) | (checkpoint_.load() & ((uint64_t{1} << 44) - 1));
  }
  // Whether the last step failed (for /readyz); cleared by a good step.
  bool failing() const { return failing_.load(); }
  // Why the projection is stuck, for the admin's projections route and
  // /metrics: the batch it could not apply, PostgreSQL's error, and how many
  // attempts failed in a row. Empty error when the last step was good.
  struct Failure {
    uint64_t from = 0, to = 0;  // The batch that failed: an event in it cannot be applied.
    std::string error;
    uint64_t attempts = 0;
  };
  Failure failure() const {
    std::lock_guard lock(failure_mu_);
    return failure_;
  }
  // The log's last committed position (what the projection is heading for).
  uint64_t log_position() const { return store_.LastPosition(); }
  uint64_t lag() const;  // Events committed to the log but not yet projected.
  const std::string& name() const { return name_; }
  std::vector<std::string> tables() const { return projector_->tables(); }

 private:
  // Applies `batch` and moves the checkpoint in one transaction.
  Status ApplyBatch(const std::vector<eventstore::RecordedEvent>& batch);

  eventstore::EventStore& store_;
  std::unique_ptr<Projector> projector_;
  const ProjectionRunnerOptions options_;
  const std::string name_;
  std::unique_ptr<pqxx::connection> connection_;
  std::atomic<uint64_t> checkpoint_{0};
  mutable ProgressSignal progress_;  // Advanced after checkpoint_.
  std::atomic<uint64_t> opens_{0};  // Successful Open calls.
  std::atomic<bool> running_{false};
  std::atomic<bool> failing_{false};
  mutable std::mutex failure_mu_;
  Failure failure_;  // Guarded by failure_mu_.
  std::mutex subscription_mu_;
  std::unique_ptr<eventstore::Subscription> subscription_;  // Guarded by subscription_mu_.
  std::thread thread_;
};

}  // namespace remotegpu::projections
