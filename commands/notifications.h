// Messages to people (password reset codes for now), handed to a sink that
// delivers them. The server's sink is an outbox table in PostgreSQL
// (api/app/notification_outbox.h) that a mail or SMS relay drains; nothing in
// the event log holds a message's secret.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace remotegpu::commands {

struct Notification {
  std::string user_id;
  std::string channel = "email";
  std::string address;  // The user's email; empty when it has none.
  std::string subject;
  std::string body;
};

class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  // Thread-safe. IoError when the message could not be queued.
  virtual Status Send(const Notification& notification) = 0;
};

// Keeps what it is sent, for tests.
class MemoryNotificationSink final : public NotificationSink {
 public:
  Status Send(const Notification& notification) override {
    std::lock_guard lock(mu_);
    sent_.push_back(notification);
    return Status::Ok();
  }
  std::vector<Notification> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Notification> sent_;
};

}  // namespace remotegpu::commands
