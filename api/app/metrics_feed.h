// The live metrics behind GET /ws/admin/monitoring: every batch an agent
// posts (after it is accepted for storage) is handed to the subscribers
// watching its host, as {"type":"metrics","host_id":…,"samples":[…]} in
// protobuf's JSON form of the samples. Nothing is rendered while nobody
// watches. Delivery is at most once: a subscriber that falls behind is
// dropped by its peer's bounded queue and reads the stored series
// (/api/monitoring/…) for what it missed.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/http/http_types.h"

namespace remotegpu::domain {
class MetricsBatch;
}

namespace remotegpu::api {

class MetricsFeed {
 public:
  // `hosts` empty: every host.
  void Subscribe(std::shared_ptr<StreamPeer> peer, std::set<std::string> hosts);
  // An accepted batch of `host_id`'s samples.
  void Publish(const std::string& host_id, const domain::MetricsBatch& batch);
  size_t subscribers() const { return count_.load(); }

 private:
  struct Subscriber {
    std::shared_ptr<StreamPeer> peer;
    std::set<std::string> hosts;
  };
  mutable std::mutex mu_;
  std::vector<Subscriber> subscribers_;  // Guarded by mu_.
  std::atomic<size_t> count_{0};
};

}  // namespace remotegpu::api
