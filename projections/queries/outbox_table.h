// The notification outbox's table, <schema>_notify.outbox: messages waiting
// for a relay, beside the read models but outside their schema, so that
// rebuilding the read models never drops it. Not a read model (nothing here
// is folded from the log): the SQL lives here so that api/ holds none.
// Bodies arrive sealed; sealing and opening are the caller's
// (api/app/notification_outbox.h).
//
// Thread-safety: all methods, from any thread (a connection per call:
// notifications are rare).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace remotegpu::queries {

struct OutboxMessage {
  std::string user_id, channel, address, subject;
  std::string body;    // Sealed: base64url of the sealed bytes.
  std::string key_id;  // The data key that sealed it.
};

class OutboxTable {
 public:
  // {sealed body, key id} for a body kept in clear by an earlier version.
  using Seal = std::function<Result<std::pair<std::string, std::string>>(
      const std::string& user_id, const std::string& clear_body)>;

  OutboxTable(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema) + "_notify") {}

  // Creates the schema and table when missing, and seals with `seal` any
  // body an earlier version stored in clear. IoError when PostgreSQL fails.
  Status Open(const Seal& seal);
  Status Insert(const OutboxMessage& message);
  // The newest `limit` messages, of `user_id` only when not empty, as
  // [{id, user_id, channel, address, subject, body, key_id, created_at,
  // delivered_at}], bodies as stored.
  Result<nlohmann::json> Newest(const std::string& user_id, int limit) const;

 private:
  const std::string conninfo_;
  const std::string schema_;
};

}  // namespace remotegpu::queries
