// The notification outbox: messages waiting for a relay (mail, SMS), their
// bodies sealed, in the table projections/queries/outbox_table.h keeps.
// A relay takes rows whose delivered_at is null and sets it; until one is
// configured, admins read the queue through GET /api/admin/notifications.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "commands/notifications.h"
#include "commands/secrets.h"
#include "projections/queries/outbox_table.h"

namespace remotegpu::api {

class NotificationOutbox final : public commands::NotificationSink {
 public:
  // Bodies are sealed (AES-256-GCM) under a data key from `keys`, kept beside
  // the log: the table never holds a reset code in clear.
  NotificationOutbox(std::string conninfo, std::string schema, commands::DataKeyStore& keys)
      : table_(std::move(conninfo), std::move(schema)), keys_(keys) {}

  // Creates the schema and table when missing, and seals any body an
  // earlier version stored in clear. IoError when PostgreSQL fails.
  Status Open();
  Status Send(const commands::Notification& notification) override;
  // The newest `limit` messages, of `user_id` only when not empty, as
  // [{id, user_id, channel, address, subject, body, created_at, delivered_at}],
  // bodies opened (or "(sealed; …)" once their key is shredded).
  Result<nlohmann::json> List(const std::string& user_id, int limit) const;

 private:
  // {base64url of the sealed body, key id}.
  Result<std::pair<std::string, std::string>> SealBody(const commands::Notification& n) const;

  queries::OutboxTable table_;
  commands::DataKeyStore& keys_;
};

}  // namespace remotegpu::api
