#include "api/app/notification_outbox.h"

#include <pqxx/pqxx>

#include "commands/credentials.h"

namespace remotegpu::api {
namespace {

// Every message is sealed under this one data key, whatever its user: the
// outbox is the platform's, and shredding the key voids every queued code.
constexpr char kKeyTenant[] = "notifications";

// Authenticated with the message's row, so a sealed body does not open as
// another user's.
std::string ContextOf(const std::string& user_id) { return "outbox:" + user_id; }

}  // namespace

Status NotificationOutbox::Open() {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema_);
    tx.exec("CREATE TABLE IF NOT EXISTS " + schema_ +
            ".outbox (id bigserial PRIMARY KEY, user_id text NOT NULL, channel text NOT NULL, "
            "address text NOT NULL, subject text NOT NULL, body text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz)");
    // Bodies (reset codes) are sealed: `body` holds base64url of the sealed
    // bytes under data key `key_id`. Rows an earlier version kept in clear
    // are sealed now.
    tx.exec("ALTER TABLE " + schema_ +
            ".outbox ADD COLUMN IF NOT EXISTS key_id text NOT NULL "
            "DEFAULT ''");
    for (const auto& row :
         tx.exec("SELECT id, user_id, body FROM " + schema_ + ".outbox WHERE key_id = ''")) {
      commands::Notification clear;
      clear.user_id = row[1].as<std::string>();
      clear.body = row[2].as<std::string>();
      auto sealed = SealBody(clear);
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

Result<std::pair<std::string, std::string>> NotificationOutbox::SealBody(
    const commands::Notification& n) const {
  auto key = keys_.KeyFor(kKeyTenant);
  if (!key.ok()) return key.status();
  auto sealed = commands::Seal(*key, n.body, ContextOf(n.user_id));
  if (!sealed.ok()) return sealed.status();
  return std::make_pair(commands::Base64UrlEncode(*sealed), key->key_id);
}

Status NotificationOutbox::Send(const commands::Notification& n) {
  auto sealed = SealBody(n);
  if (!sealed.ok()) return sealed.status();
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    tx.exec_params0("INSERT INTO " + schema_ +
                        ".outbox (user_id, channel, address, subject, body, key_id) VALUES ($1, "
                        "$2, $3, $4, $5, $6)",
                    n.user_id, n.channel, n.address, n.subject, sealed->first, sealed->second);
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("queueing a notification: ") + e.what());
  }
}

Result<nlohmann::json> NotificationOutbox::List(const std::string& user_id, int limit) const {
  nlohmann::json list;
  try {
    pqxx::connection connection(conninfo_);
    pqxx::nontransaction tx(connection);
    std::string sql =
        "SELECT coalesce(json_agg(o ORDER BY id DESC), '[]')::text FROM (SELECT * FROM " + schema_ +
        ".outbox";
    if (!user_id.empty()) sql += " WHERE user_id = " + tx.quote(user_id);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit) + ") o";
    auto rows = tx.exec(sql);
    list = nlohmann::json::parse(rows[0][0].c_str());
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading the notification outbox: ") + e.what());
  }
  // Opened only here, for the admins who read the queue until a relay exists.
  for (auto& message : list) {
    const std::string key_id = message["key_id"].get<std::string>();
    message.erase("key_id");
    auto key = keys_.KeyById(key_id);
    auto sealed = commands::Base64UrlDecode(message["body"].get<std::string>());
    Result<std::string> body = Status::NotFound("the message's key is gone");
    if (key.ok() && sealed.ok()) {
      body = commands::Unseal(*key, *sealed, ContextOf(message["user_id"].get<std::string>()));
    }
    message["body"] = body.ok() ? *body : "(sealed; " + body.status().message() + ")";
  }
  return list;
}

}  // namespace remotegpu::api
