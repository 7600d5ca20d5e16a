#include "api/notification_outbox.h"

#include <pqxx/pqxx>

namespace remotegpu::api {

Status NotificationOutbox::Open() {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema_);
    tx.exec("CREATE TABLE IF NOT EXISTS " + schema_ +
            ".outbox (id bigserial PRIMARY KEY, user_id text NOT NULL, channel text NOT NULL, "
            "address text NOT NULL, subject text NOT NULL, body text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz)");
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("creating the notification outbox: ") + e.what());
  }
}

Status NotificationOutbox::Send(const commands::Notification& n) {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec("INSERT INTO " + schema_ +
            ".outbox (user_id, channel, address, subject, body) VALUES (" + tx.quote(n.user_id) +
            ", " + tx.quote(n.channel) + ", " + tx.quote(n.address) + ", " + tx.quote(n.subject) +
            ", " + tx.quote(n.body) + ")");
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("queueing a notification: ") + e.what());
  }
}

Result<nlohmann::json> NotificationOutbox::List(const std::string& user_id, int limit) const {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::nontransaction tx(connection);
    std::string sql =
        "SELECT coalesce(json_agg(o ORDER BY id DESC), '[]')::text FROM (SELECT * FROM " + schema_ +
        ".outbox";
    if (!user_id.empty()) sql += " WHERE user_id = " + tx.quote(user_id);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit) + ") o";
    auto rows = tx.exec(sql);
    return nlohmann::json::parse(rows[0][0].c_str());
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading the notification outbox: ") + e.what());
  }
}

}  // namespace remotegpu::api
