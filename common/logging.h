// Process-wide logging set-up on spdlog: text for people, JSON lines for
// log collectors. Code logs through spdlog's free functions.
#pragma once

#include <string_view>

#include "common/status.h"

namespace remotegpu {

enum class LogFormat { kText, kJson };

// Parses "text" or "json".
Result<LogFormat> ParseLogFormat(std::string_view name);

// Replaces the default logger with one writing to stderr in `format`.
// Call once at start-up, before other threads log.
void ConfigureLogging(LogFormat format);

}  // namespace remotegpu
