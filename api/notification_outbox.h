// The notification outbox: messages waiting for a relay (mail, SMS) in the
// PostgreSQL table <schema>_notify.outbox, beside the read models but
// outside their schema, so that rebuilding the read models never drops it.
// A relay takes rows whose delivered_at is null and sets it; until one is
// configured, admins read the queue through GET /api/admin/notifications.
//
// Thread-safety: all methods, from any thread (a connection per call:
// notifications are rare).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "commands/notifications.h"

namespace remotegpu::api {

class NotificationOutbox final : public commands::NotificationSink {
 public:
  NotificationOutbox(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema) + "_notify") {}

  // Creates the schema and table when missing. IoError when PostgreSQL fails.
  Status Open();
  Status Send(const commands::Notification& notification) override;
  // The newest `limit` messages, of `user_id` only when not empty, as
  // [{id, user_id, channel, address, subject, body, created_at, delivered_at}].
  Result<nlohmann::json> List(const std::string& user_id, int limit) const;

 private:
  std::string conninfo_;
  std::string schema_;
};

}  // namespace remotegpu::api
