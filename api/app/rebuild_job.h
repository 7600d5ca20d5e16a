// A read-model rebuild (projections/rebuild.h) run by the server on request,
// one at a time, on its own thread, with its progress kept for the API.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/rebuild.h"

namespace remotegpu::api {

class RebuildJob {
 public:
  RebuildJob(eventstore::EventStore& store, projections::ProjectionRunnerOptions options,
             std::vector<projections::ProjectionRunner*> live)
      : store_(store), options_(std::move(options)), live_(std::move(live)) {}
  ~RebuildJob();

  // Starts a rebuild of `projections` (empty: all); FailedPrecondition while
  // one runs, InvalidArgument for a name no live projection has.
  Status Start(const std::string& requested_by, const std::vector<std::string>& projections = {});
  // {running, phase, position, target, events_per_second, started_at, finished_at, error}
  nlohmann::json Describe() const;
  // Refuses new rebuilds and waits for a running one to finish (it swaps the
  // live runners: the server stops them only after).
  void Close();

 private:
  eventstore::EventStore& store_;
  const projections::ProjectionRunnerOptions options_;
  const std::vector<projections::ProjectionRunner*> live_;

  mutable std::mutex mu_;
  std::thread thread_;                                           // Guarded by mu_.
  bool running_ = false;                                         // Guarded by mu_.
  bool closed_ = false;                                          // Guarded by mu_.
  projections::RebuildProgress progress_;                        // Guarded by mu_.
  std::string error_, started_at_, finished_at_, requested_by_;  // Guarded by mu_.
  std::vector<std::string> projections_;                         // Guarded by mu_.
};

}  // namespace remotegpu::api
