// Process-wide logging set-up on spdlog: text for people, JSON lines for
// log collectors. Code logs through spdlog's free functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace remotegpu {

enum class LogFormat { kText, kJson };

// Parses "text" or "json".
Result<LogFormat> ParseLogFormat(std::string_view name);

// Replaces the default logger with one writing to stderr in `format`.
// Call once at start-up, before other threads log.
void ConfigureLogging(LogFormat format);

// While it lives, every line this thread logs carries `id` (" req=<id>" in
// text, "request_id" in JSON): the server opens one around each handler.
// `id` must hold only [A-Za-z0-9._-].
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string previous_;
};

// The id of the request this thread serves; empty outside one.
const std::string& CurrentRequestId();

}  // namespace remotegpu
