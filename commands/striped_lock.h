// In-process serialisation of writers to the same aggregate. Optimistic
// concurrency (expected versions) stays the arbiter, also across processes;
// the stripes only stop writers in this process from wasting attempts on
// conflicts they could have waited out, e.g. many placements on one host.
#pragma once

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace remotegpu::commands {

class StripedLock {
 public:
  std::mutex& For(const std::string& stream_id) {
    return stripes_[std::hash<std::string>()(stream_id) % stripes_.size()];
  }

  // Locks the stripes of every stream, in one global order (no deadlock
  // between two callers with overlapping sets).
  std::vector<std::unique_lock<std::mutex>> LockAll(const std::vector<std::string>& stream_ids) {
    std::vector<std::mutex*> mutexes;
    for (const auto& id : stream_ids) mutexes.push_back(&For(id));
    std::sort(mutexes.begin(), mutexes.end());
    mutexes.erase(std::unique(mutexes.begin(), mutexes.end()), mutexes.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    for (std::mutex* m : mutexes) locks.emplace_back(*m);
    return locks;
  }

 private:
  std::array<std::mutex, 64> stripes_;
};

}  // namespace remotegpu::commands
