// Queries against the read models: a bounded pool of PostgreSQL connections
// (more concurrent queries than that wait for a free connection rather than
// make PostgreSQL fork a backend each).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"

namespace remotegpu::api {

class ReadStore {
 public:
  // A query waits at most `max_wait` for a connection; then it is
  // Unavailable (503 + Retry-After), not queued behind the others.
  ReadStore(std::string conninfo, std::string schema, size_t max_connections = 8,
            std::chrono::milliseconds max_wait = std::chrono::seconds(2))
      : conninfo_(std::move(conninfo)),
        schema_(std::move(schema)),
        max_connections_(std::max<size_t>(1, max_connections)),
        max_wait_(max_wait) {}

  const std::string& schema() const { return schema_; }

  // Runs `query` on a pooled connection, each statement on its own (no
  // BEGIN/COMMIT round trips: the read models are only read here).
  // Exceptions from libpqxx become IoError; Unavailable when no connection
  // came free within max_wait.
  Status Read(const std::function<void(pqxx::nontransaction&)>& query);

 private:
  // A pooled connection, or a new one while fewer than max_connections_
  // are open; waits up to max_wait_ otherwise (null then). Throws what
  // libpqxx throws on connecting.
  std::unique_ptr<pqxx::connection> Take();
  // Returns a healthy connection to the pool; null: it broke and is gone.
  void Give(std::unique_ptr<pqxx::connection> connection);

  const std::string conninfo_;
  const std::string schema_;
  const size_t max_connections_;
  const std::chrono::milliseconds max_wait_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // Guarded by mu_.
  size_t open_ = 0;  // Connections in idle_ or in use. Guarded by mu_.
};

}  // namespace remotegpu::api
