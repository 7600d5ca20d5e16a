// The read models' connections: a bounded pool of PostgreSQL connections
// (more concurrent queries than that wait for a free connection rather than
// make PostgreSQL fork a backend each). The typed queries beside this file
// run on it; callers outside projections/ never see libpqxx.
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

#include "common/status.h"

namespace pqxx {
class nontransaction;
}  // namespace pqxx

namespace remotegpu::queries {

class ReadStore {
 public:
  // A query waits at most `max_wait` for a connection; then it is
  // Unavailable (503 + Retry-After), not queued behind the others.
  ReadStore(std::string conninfo, std::string schema, size_t max_connections = 8,
            std::chrono::milliseconds max_wait = std::chrono::seconds(2));
  ~ReadStore();

  const std::string& schema() const { return schema_; }

  // Runs `query` on a pooled connection, each statement on its own (no
  // BEGIN/COMMIT round trips: the read models are only read here).
  // Exceptions from libpqxx become IoError; Unavailable when no connection
  // came free within max_wait.
  Status Read(const std::function<void(pqxx::nontransaction&)>& query);

 private:
  struct Connection;  // A pqxx::connection (a typedef there, so not declared here).

  // A pooled connection, or a new one while fewer than max_connections_
  // are open; waits up to max_wait_ otherwise (null then). Throws what
  // libpqxx throws on connecting.
  std::unique_ptr<Connection> Take();
  // Returns a healthy connection to the pool; null: it broke and is gone.
  void Give(std::unique_ptr<Connection> connection);

  const std::string conninfo_;
  const std::string schema_;
  const size_t max_connections_;
  const std::chrono::milliseconds max_wait_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // Guarded by mu_.
  size_t open_ = 0;  // Connections in idle_ or in use. Guarded by mu_.
};

}  // namespace remotegpu::queries
