// Queries against the read models: a small pool of PostgreSQL connections,
// and read-your-writes on demand (X-Min-Position).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"
#include "projections/projection_runner.h"

namespace remotegpu::api {

class ReadStore {
 public:
  ReadStore(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)) {}

  const std::string& schema() const { return schema_; }

  // Runs `query` on a pooled connection, each statement on its own (no
  // BEGIN/COMMIT round trips: the read models are only read here).
  // Exceptions from libpqxx become IoError.
  Status Read(const std::function<void(pqxx::nontransaction&)>& query);

  // Waits (up to `timeout`) until `runner` has projected position
  // `min_position`; Unavailable saying how far it got otherwise.
  static Status WaitFor(const projections::ProjectionRunner& runner, uint64_t min_position,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  std::unique_ptr<pqxx::connection> Take();
  void Give(std::unique_ptr<pqxx::connection> connection);

  const std::string conninfo_;
  const std::string schema_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // Guarded by mu_.
};

}  // namespace remotegpu::api
