// Answers of query routes, kept while the read models they came from have not
// moved, so that a repeated query is answered on the I/O thread without a
// PostgreSQL round trip.
//
// The cache is versioned, not timed: `version` is a number that grows
// whenever the read models behind the routes change (a projection's
// checkpoint, or the sum of several). An answer computed when the version was
// V is served again only while the version is still V; the first answer
// computed at a newer version drops every older one. A reader therefore never
// gets an answer older than the read models it could have queried itself.
// X-Min-Position keeps its meaning: a request naming a position the read
// models (`position`) have not reached yet is a miss, so that the handler
// waits for it; without `position`, every such request is a miss.
//
// The key is the method, path, decoded query and the headers that change an
// answer (Accept, Authorization, X-Api-Key), so callers with different
// credentials never share an entry. Only 200 and 404 answers are kept. A
// stored answer is replayed with the new request's trace id.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "api/http/http_types.h"

namespace remotegpu::api {

class QueryCache {
 public:
  // `max_entries` bounds the memory: past it, new answers are not kept until
  // the version moves.
  // `position`: the log position the read models behind the routes have
  // reached (may be empty).
  explicit QueryCache(std::function<uint64_t()> version, size_t max_entries = 20'000,
                      std::function<uint64_t()> position = nullptr);

  // The kept answer to `request` at the current version, if any.
  std::optional<HttpResponse> Lookup(const HttpRequest& request) const;

  // Runs `compute` and keeps its answer (see above); returns it.
  HttpResponse Compute(const HttpRequest& request, const HttpHandler& compute);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    HttpResponse response;
    size_t trace_at = 0;  // Where the trace id sits in response.body.
    size_t trace_size = 0;
  };
  struct Shard {
    mutable std::shared_mutex mu;
    uint64_t version = 0;                            // Guarded by mu.
    std::unordered_map<std::string, Entry> entries;  // Guarded by mu.
  };
  static constexpr size_t kShards = 16;

  static std::string KeyFor(const HttpRequest& request);
  Shard& ShardFor(const std::string& key) const;

  const std::function<uint64_t()> version_;
  const size_t max_entries_per_shard_;
  const std::function<uint64_t()> position_;  // May be empty.
  mutable std::array<Shard, kShards> shards_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace remotegpu::api
