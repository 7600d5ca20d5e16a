#include "common/progress.h"

#include <vector>

namespace remotegpu {

uint64_t ProgressSignal::reached() const {
  std::lock_guard lock(mu_);
  return reached_;
}

void ProgressSignal::Advance(uint64_t position) {
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    reached_ = position;
    while (!due_.empty() && due_.begin()->first <= position) {
      auto waiter = waiters_.find(due_.begin()->second);
      due.push_back(std::move(waiter->second.callback));
      waiters_.erase(waiter);
      due_.erase(due_.begin());
    }
  }
  for (auto& callback : due) callback();
}

ProgressSignal::Ticket ProgressSignal::WhenReached(uint64_t position,
                                                   std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (reached_ < position) {
      const Ticket ticket = next_ticket_++;
      waiters_.emplace(ticket, Waiter{position, std::move(callback)});
      due_.emplace(position, ticket);
      return ticket;
    }
  }
  callback();
  return 0;
}

bool ProgressSignal::Cancel(Ticket ticket) {
  std::function<void()> forgotten;  // Destroyed after the lock is released.
  std::lock_guard lock(mu_);
  auto found = waiters_.find(ticket);
  if (found == waiters_.end()) return false;
  forgotten = std::move(found->second.callback);
  due_.erase({found->second.position, ticket});
  waiters_.erase(found);
  return true;
}

size_t ProgressSignal::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace remotegpu
