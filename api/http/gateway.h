// Gateway protections at the API's edge (seed 01 module 10): token-bucket
// rate limits per caller with 429 and Retry-After, and CORS for the
// console's origins. (Request ids are the server's: http_server.cc.)
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/http/router.h"
#include "common/clock.h"

namespace remotegpu::api {

// One token bucket per key: `per_second` tokens flow in, up to `burst`; a
// request takes one. Thread-safe; the buckets are sharded by key so callers
// rarely share a lock. Idle full buckets are forgotten, so memory follows
// the callers active in the last few seconds.
class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, const Clock& clock);

  // Nullopt: admitted (a token taken). Otherwise the whole seconds to wait
  // until a token is there (at least 1), for Retry-After.
  std::optional<int> Admit(const std::string& key);

 private:
  struct Bucket {
    double tokens = 0;
    UnixMicros refilled_at = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // Guarded by mu.
  };
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxBucketsPerShard = 50'000;

  const double per_second_;
  const double burst_;
  const Clock& clock_;
  Shard shards_[kShards];
};

// Runs once per request, after authentication and before the handler:
// callers are keyed by their customer (every user and API key of one
// customer share a bucket), else API key or agent token, else user, else
// remote address (anonymous calls such as login). Platform admins (tokens and keys) are not
// limited, so an operator's console and scripts keep working while customers are throttled.
Admission RateLimitAdmission(RateLimiter& limiter);

// CORS for browser consoles served from `origins` ("https://console.example.com";
// "*" allows any). Requests from other origins get no CORS headers, which
// browsers then refuse; non-browser clients are unaffected.
class Cors {
 public:
  explicit Cors(std::vector<std::string> origins) : origins_(std::move(origins)) {}

  bool enabled() const { return !origins_.empty(); }
  // The answer to a preflight (OPTIONS with Origin and
  // Access-Control-Request-Method) from an allowed origin: 204 with the
  // methods, headers and max age; nullopt for anything else.
  std::optional<HttpResponse> Preflight(const HttpRequest& request) const;
  // Adds Access-Control-Allow-Origin (and what goes with it) to an answer
  // for an allowed origin.
  void Decorate(const HttpRequest& request, HttpResponse& response) const;

 private:
  bool Allowed(const std::string& origin) const;

  std::vector<std::string> origins_;
};

}  // namespace remotegpu::api
