// How far something that moves through the log has got (a projection's
// checkpoint), and callbacks for those waiting until it reaches a position:
// a waiter holds no thread, only its callback (a parked HTTP request).
//
// Thread-safety: all methods, from any thread. Callbacks run on the thread
// that calls Advance (or on the caller of WhenReached, when reached already),
// outside the lock; they must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace remotegpu {

class ProgressSignal {
 public:
  // `head`: the position progress is heading for (the log's last), so that a
  // waiter for a position beyond it can be refused instead of waiting for
  // something that may never come.
  ProgressSignal(std::string name, std::function<uint64_t()> head)
      : name_(std::move(name)), head_(std::move(head)) {}
  ProgressSignal(const ProgressSignal&) = delete;
  ProgressSignal& operator=(const ProgressSignal&) = delete;

  const std::string& name() const { return name_; }
  uint64_t reached() const;
  uint64_t head() const { return head_ ? head_() : 0; }

  // Records that `position` is reached and runs every waiter at or below it.
  // A lower position than before (a rebuilt read model swapped in) is
  // recorded as it is; waiters only ever run once.
  void Advance(uint64_t position);

  // Runs `callback` once `position` is reached: at once, on this thread,
  // when it is already (returning 0), else from Advance (returning a ticket
  // for Cancel).
  using Ticket = uint64_t;
  Ticket WhenReached(uint64_t position, std::function<void()> callback);
  // Forgets a waiter; true when it had not run (and now never will), false
  // when it has run or is running.
  bool Cancel(Ticket ticket);
  size_t waiting() const;

 private:
  struct Waiter {
    uint64_t position;
    std::function<void()> callback;
  };
  const std::string name_;
  const std::function<uint64_t()> head_;
  mutable std::mutex mu_;
  uint64_t reached_ = 0;                       // Guarded by mu_.
  Ticket next_ticket_ = 1;                     // Guarded by mu_.
  std::map<Ticket, Waiter> waiters_;           // Guarded by mu_.
  std::set<std::pair<uint64_t, Ticket>> due_;  // (position, ticket). Guarded by mu_.
};

}  // namespace remotegpu
