#include "projections/queries/read_store.h"

#include <pqxx/pqxx>

namespace remotegpu::queries {

struct ReadStore::Connection : pqxx::connection {
  using pqxx::connection::connection;
};

ReadStore::ReadStore(std::string conninfo, std::string schema, size_t max_connections,
                     std::chrono::milliseconds max_wait)
    : conninfo_(std::move(conninfo)),
      schema_(std::move(schema)),
      max_connections_(std::max<size_t>(1, max_connections)),
      max_wait_(max_wait) {}

// Out of line: the pooled connections' type is complete only here.
ReadStore::~ReadStore() = default;

std::unique_ptr<ReadStore::Connection> ReadStore::Take() {
  {
    std::unique_lock lock(mu_);
    if (!freed_.wait_for(lock, max_wait_,
                         [this] { return !idle_.empty() || open_ < max_connections_; })) {
      return nullptr;
    }
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++open_;
  }
  try {
    return std::make_unique<Connection>(conninfo_);
  } catch (...) {
    Give(nullptr);
    throw;
  }
}

void ReadStore::Give(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mu_);
    if (connection) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

Status ReadStore::Read(const std::function<void(pqxx::nontransaction&)>& query) {
  std::unique_ptr<Connection> connection;
  try {
    connection = Take();
    if (!connection) {
      return Status::Unavailable("every read-model connection (" +
                                 std::to_string(max_connections_) + ") stayed busy for " +
                                 std::to_string(max_wait_.count()) + " ms; retry shortly");
    }
    {
      pqxx::nontransaction tx(*connection);
      query(tx);
    }
    Give(std::move(connection));
    return Status::Ok();
  } catch (const std::exception& e) {
    if (connection) Give(nullptr);  // Possibly broken: closed, its slot freed.
    return Status::IoError(std::string("reading the read models: ") + e.what());
  }
}

}  // namespace remotegpu::queries
