// Counts and latency histograms of HTTP requests by route and status, in
// Prometheus text format.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace remotegpu::api {

class RequestMetrics {
 public:
  // `route` is the matched pattern ("/api/cmdb/hosts/:id"), or "unmatched";
  // a method no route uses is counted as "OTHER", so every label comes from
  // a fixed set whatever clients send.
  void Record(const std::string& method, const std::string& route, int status, double seconds);
  // remotegpu_http_requests_total and remotegpu_http_request_seconds.
  std::string Prometheus() const;

 private:
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,  0.1,    0.25,  0.5,  1.0};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // Cumulative at render time.
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> counts_;  // Guarded by mu_.
  std::map<std::pair<std::string, std::string>, Histogram> latency_;      // Guarded by mu_.
};

}  // namespace remotegpu::api
