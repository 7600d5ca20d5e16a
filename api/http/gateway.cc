#include "api/http/gateway.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "api/http/envelope.h"

namespace remotegpu::api {

RateLimiter::RateLimiter(double per_second, double burst, const Clock& clock)
    : per_second_(per_second), burst_(std::max(1.0, burst)), clock_(clock) {}

std::optional<int> RateLimiter::Admit(const std::string& key) {
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  const UnixMicros now = clock_.NowMicros();
  std::lock_guard lock(shard.mu);
  if (shard.buckets.size() >= kMaxBucketsPerShard) {
    // Forget buckets that have filled up again: they are as good as new.
    std::erase_if(shard.buckets, [&](const auto& entry) {
      const Bucket& b = entry.second;
      return b.tokens + (now - b.refilled_at) * per_second_ / 1e6 >= burst_;
    });
    // Still full (a flood of distinct callers): start over rather than scan
    // again on every new caller. Everyone gets a full bucket once.
    if (shard.buckets.size() >= kMaxBucketsPerShard) shard.buckets.clear();
  }
  auto [it, fresh] = shard.buckets.try_emplace(key, Bucket{burst_, now});
  Bucket& bucket = it->second;
  if (!fresh && now > bucket.refilled_at) {
    bucket.tokens =
        std::min(burst_, bucket.tokens + (now - bucket.refilled_at) * per_second_ / 1e6);
    bucket.refilled_at = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_seconds = (1.0 - bucket.tokens) / per_second_;
  return std::max(1, static_cast<int>(std::ceil(wait_seconds)));
}

Admission RateLimitAdmission(RateLimiter& limiter) {
  return
      [&limiter](const HttpRequest& request, const RouteOptions&) -> std::optional<HttpResponse> {
        const Identity& who = request.identity;
        if (who.admin) return std::nullopt;
        // One bucket per customer, whatever credential its users present: a
        // customer cannot multiply its rate by minting users or API keys.
        const std::string key = !who.customer_id.empty()  ? "customer:" + who.customer_id
                                : !who.api_key_id.empty() ? who.api_key_id
                                : who.authenticated       ? who.user_id
                                                          : "address:" + request.remote_address;
        const auto retry_after = limiter.Admit(key);
        if (!retry_after) return std::nullopt;
        HttpResponse response =
            ErrorResponse(request, 429, "RATE_LIMITED",
                          "too many requests; retry in " + std::to_string(*retry_after) + " s");
        response.headers["Retry-After"] = std::to_string(*retry_after);
        return response;
      };
}

bool Cors::Allowed(const std::string& origin) const {
  if (origin.empty()) return false;
  return std::any_of(origins_.begin(), origins_.end(), [&](const std::string& allowed) {
    return allowed == "*" || allowed == origin;
  });
}

std::optional<HttpResponse> Cors::Preflight(const HttpRequest& request) const {
  if (request.method != "OPTIONS" || request.Header("access-control-request-method").empty()) {
    return std::nullopt;
  }
  const std::string origin = request.Header("origin");
  if (!Allowed(origin)) return std::nullopt;
  HttpResponse response{204, "text/plain", "", {}};
  response.headers["Access-Control-Allow-Origin"] = origin;
  response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE";
  response.headers["Access-Control-Allow-Headers"] =
      "Authorization, Content-Type, X-Api-Key, X-Min-Position, X-Request-Id";
  response.headers["Access-Control-Max-Age"] = "600";
  response.headers["Vary"] = "Origin";
  return response;
}

void Cors::Decorate(const HttpRequest& request, HttpResponse& response) const {
  const std::string origin = request.Header("origin");
  if (!Allowed(origin)) return;
  response.headers["Access-Control-Allow-Origin"] = origin;
  response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After, X-Next-Position";
  response.headers["Vary"] = "Origin";
}

}  // namespace remotegpu::api
