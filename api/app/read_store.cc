#include "api/app/read_store.h"


namespace remotegpu::api {

std::unique_ptr<pqxx::connection> ReadStore::Take() {
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
    return std::make_unique<pqxx::connection>(conninfo_);
  } catch (...) {
    Give(nullptr);
    throw;
  }
}

void ReadStore::Give(std::unique_ptr<pqxx::connection> connection) {
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
  std::unique_ptr<pqxx::connection> connection;
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

}  // namespace remotegpu::api
