#include "api/app/read_store.h"


namespace remotegpu::api {

std::unique_ptr<pqxx::connection> ReadStore::Take() {
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [this] { return !idle_.empty() || open_ < max_connections_; });
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
