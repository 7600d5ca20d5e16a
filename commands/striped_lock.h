// In-process serialisation of writers to the same aggregate. Optimistic
// concurrency (expected versions) stays the arbiter, also across processes;
// the stripes only stop writers in this process from wasting attempts on
// conflicts they could have waited out, e.g. many placements on one host.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <string>

namespace remotegpu::commands {

class StripedLock {
 public:
  std::mutex& For(const std::string& stream_id) {
    return stripes_[std::hash<std::string>()(stream_id) % stripes_.size()];
  }

 private:
  std::array<std::mutex, 64> stripes_;
};

}  // namespace remotegpu::commands
