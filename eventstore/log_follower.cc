#include "eventstore/log_follower.h"

#include <spdlog/spdlog.h>

namespace remotegpu::eventstore {

Result<std::unique_ptr<LogFollower>> LogFollower::Start(
    EventStore& store, uint64_t from_position, std::string name,
    std::function<Status(const RecordedEvent&)> apply) {
  auto subscription = store.Subscribe({.from_position = from_position});
  if (!subscription.ok()) return subscription.status();
  auto follower = std::unique_ptr<LogFollower>(new LogFollower());
  follower->subscription_ = std::move(*subscription);
  follower->thread_ = std::thread([subscription = follower->subscription_.get(),
                                   name = std::move(name), apply = std::move(apply)] {
    while (true) {
      auto events = subscription->Next(std::chrono::milliseconds(200));
      if (!events.ok()) return;  // Closed.
      for (const auto& event : *events) {
        Status applied = apply(event);
        if (!applied.ok()) spdlog::error("{}: {}", name, applied.ToString());
      }
    }
  });
  return follower;
}

void LogFollower::Stop() {
  if (subscription_) subscription_->Close();
  if (thread_.joinable()) thread_.join();
  subscription_.reset();
}

}  // namespace remotegpu::eventstore
