#include "api/http/query_cache.h"

#include <mutex>

namespace remotegpu::api {

QueryCache::QueryCache(std::function<uint64_t()> version, size_t max_entries,
                       std::function<uint64_t()> position)
    : version_(std::move(version)),
      max_entries_per_shard_(std::max<size_t>(1, max_entries / kShards)),
      position_(std::move(position)) {}

std::string QueryCache::KeyFor(const HttpRequest& request) {
  std::string key = request.method;
  key += ' ';
  key += request.path;
  // Every part is length-prefixed, so no two different requests share a key.
  auto append = [&key](const std::string& part) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
  };
  for (const auto& [name, value] : request.query) {
    append(name);
    append(value);
  }
  for (const char* header : {"accept", "authorization", "x-api-key", "x-tenant-id"}) {
    key += '|';
    append(request.Header(header));
  }
  return key;
}

QueryCache::Shard& QueryCache::ShardFor(const std::string& key) const {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

std::optional<HttpResponse> QueryCache::Lookup(const HttpRequest& request) const {
  // A position the read models have not reached: the handler waits for it.
  if (const std::string min = request.Header("x-min-position"); !min.empty()) {
    const bool numeric =
        min.size() <= 19 && min.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric || !position_ || position_() < std::stoull(min)) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
  }
  const std::string key = KeyFor(request);
  const uint64_t now = version_();
  const Shard& shard = ShardFor(key);
  std::shared_lock lock(shard.mu);
  auto it = shard.version == now ? shard.entries.find(key) : shard.entries.end();
  if (it == shard.entries.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  const Entry& entry = it->second;
  HttpResponse out;
  out.status = entry.response.status;
  out.content_type = entry.response.content_type;
  out.headers = entry.response.headers;
  const std::string& body = entry.response.body;
  out.body.reserve(body.size() - entry.trace_size + request.trace_id.size());
  out.body.append(body, 0, entry.trace_at);
  out.body += request.trace_id;
  out.body.append(body, entry.trace_at + entry.trace_size);
  return out;
}

HttpResponse QueryCache::Compute(const HttpRequest& request, const HttpHandler& compute) {
  // Read before computing: the answer reflects at least this version, so it
  // may be served while the version stays here.
  const uint64_t version = version_();
  HttpResponse response = compute(request);
  if (response.status != 200 && response.status != 404) return response;
  // The envelope ends with the trace id; an answer without it (not an
  // envelope) is not kept, since it could not be replayed faithfully.
  const std::string marker = "\"traceId\":\"" + request.trace_id + "\"";
  const size_t at = request.trace_id.empty() ? std::string::npos : response.body.rfind(marker);
  if (at == std::string::npos) return response;

  const std::string key = KeyFor(request);
  Shard& shard = ShardFor(key);
  std::unique_lock lock(shard.mu);
  if (version < shard.version) return response;  // Already stale.
  if (version > shard.version) {
    shard.entries.clear();
    shard.version = version;
  }
  if (shard.entries.size() < max_entries_per_shard_) {
    shard.entries.insert_or_assign(
        key,
        Entry{response, at + marker.size() - 1 - request.trace_id.size(), request.trace_id.size()});
  }
  return response;
}

QueryCache::Stats QueryCache::stats() const {
  return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
}

}  // namespace remotegpu::api
