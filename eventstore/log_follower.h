// Follows the log on a thread of its own: every event committed from a
// position on is handed to a callback, in order, until Stop. What in-memory
// indexes (the scheduler's, the identity index) use to stay current.
//
// Thread-safety: Start and Stop from one owner; `apply` runs on the
// follower's thread only. The store must outlive the follower.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "eventstore/event_store.h"

namespace remotegpu::eventstore {

class LogFollower {
 public:
  // `apply` sees each event; an error it returns is logged under `name` and
  // following goes on.
  static Result<std::unique_ptr<LogFollower>> Start(
      EventStore& store, uint64_t from_position, std::string name,
      std::function<Status(const RecordedEvent&)> apply);
  ~LogFollower() { Stop(); }
  void Stop();

 private:
  LogFollower() = default;
  std::unique_ptr<Subscription> subscription_;
  std::thread thread_;
};

}  // namespace remotegpu::eventstore
