#include "api/read_store.h"

#include <thread>

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

Status ReadStore::WaitFor(const projections::ProjectionRunner& runner, uint64_t min_position,
                          std::chrono::milliseconds timeout) {
  // A position the log itself has not reached cannot be waited for: it may
  // never come, and a worker would sit out the whole timeout for nothing.
  if (const uint64_t head = runner.log_position(); min_position > head) {
    return Status::OutOfRange("X-Min-Position " + std::to_string(min_position) +
                              " is beyond the log's head, position " + std::to_string(head) +
                              "; send a position a command returned");
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (runner.checkpoint() < min_position) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("the " + runner.name() + " read model has reached position " +
                                 std::to_string(runner.checkpoint()) + ", not " +
                                 std::to_string(min_position) + " yet; retry shortly");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

}  // namespace remotegpu::api
