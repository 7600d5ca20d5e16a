#include "api/http/request_metrics.h"

#include <cstdio>

namespace remotegpu::api {

namespace {

// The methods routes use, else "OTHER": a label set no client can grow.
const char* MethodLabel(const std::string& method) {
  for (const char* known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

}  // namespace

void RequestMetrics::Record(const std::string& method, const std::string& route, int status,
                            double seconds) {
  const std::string label = MethodLabel(method);
  std::lock_guard lock(mu_);
  ++counts_[{label, route, status}];
  Histogram& h = latency_[{label, route}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string RequestMetrics::Prometheus() const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP remotegpu_http_requests_total HTTP requests by route and status.\n"
      "# TYPE remotegpu_http_requests_total counter\n";
  for (const auto& [key, count] : counts_) {
    const auto& [method, route, status] = key;
    out += "remotegpu_http_requests_total{method=\"" + method + "\",route=\"" + route +
           "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(count) + "\n";
  }
  out +=
      "# HELP remotegpu_http_request_seconds HTTP request latency by route.\n"
      "# TYPE remotegpu_http_request_seconds histogram\n";
  for (const auto& [key, h] : latency_) {
    const std::string labels = "method=\"" + key.first + "\",route=\"" + key.second + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      char le[32];
      std::snprintf(le, sizeof le, "%g", kBuckets[i]);
      out += "remotegpu_http_request_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "remotegpu_http_request_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "remotegpu_http_request_seconds_sum{" + labels + "} " + std::to_string(h.sum) + "\n";
    out += "remotegpu_http_request_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace remotegpu::api
