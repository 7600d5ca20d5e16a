#include "api/app/notification_outbox.h"

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
  return table_.Open([this](const std::string& user_id, const std::string& body) {
    commands::Notification clear;
    clear.user_id = user_id;
    clear.body = body;
    return SealBody(clear);
  });
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
  return table_.Insert({n.user_id, n.channel, n.address, n.subject, sealed->first, sealed->second});
}

Result<nlohmann::json> NotificationOutbox::List(const std::string& user_id, int limit) const {
  auto newest = table_.Newest(user_id, limit);
  if (!newest.ok()) return newest.status();
  nlohmann::json list = std::move(*newest);
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
