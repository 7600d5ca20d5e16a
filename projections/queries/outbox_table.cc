#include "projections/queries/outbox_table.h"

#include <pqxx/pqxx>

namespace remotegpu::queries {

Status OutboxTable::Open(const Seal& seal) {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema_);
    tx.exec("CREATE TABLE IF NOT EXISTS " + schema_ +
            ".outbox (id bigserial PRIMARY KEY, user_id text NOT NULL, channel text NOT NULL, "
            "address text NOT NULL, subject text NOT NULL, body text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz)");
    // Bodies are sealed: `body` holds base64url of the sealed bytes under
    // data key `key_id`. Rows an earlier version kept in clear are sealed now.
    tx.exec("ALTER TABLE " + schema_ +
            ".outbox ADD COLUMN IF NOT EXISTS key_id text NOT NULL "
            "DEFAULT ''");
    for (const auto& row :
         tx.exec("SELECT id, user_id, body FROM " + schema_ + ".outbox WHERE key_id = ''")) {
      auto sealed = seal(row[1].as<std::string>(), row[2].as<std::string>());
      if (!sealed.ok()) return sealed.status();
      tx.exec_params0("UPDATE " + schema_ + ".outbox SET body = $1, key_id = $2 WHERE id = $3",
                      sealed->first, sealed->second, row[0].as<int64_t>());
    }
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("creating the notification outbox: ") + e.what());
  }
}

Status OutboxTable::Insert(const OutboxMessage& m) {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec_params0("INSERT INTO " + schema_ +
                        ".outbox (user_id, channel, address, subject, body, key_id) VALUES ($1, "
                        "$2, $3, $4, $5, $6)",
                    m.user_id, m.channel, m.address, m.subject, m.body, m.key_id);
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("queueing a notification: ") + e.what());
  }
}

Result<nlohmann::json> OutboxTable::Newest(const std::string& user_id, int limit) const {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::nontransaction tx(connection);
    std::string sql =
        "SELECT coalesce(json_agg(o ORDER BY id DESC), '[]')::text FROM (SELECT * FROM " + schema_ +
        ".outbox";
    if (!user_id.empty()) sql += " WHERE user_id = " + tx.quote(user_id);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit) + ") o";
    return nlohmann::json::parse(tx.exec(sql)[0][0].c_str());
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading the notification outbox: ") + e.what());
  }
}

}  // namespace remotegpu::queries
