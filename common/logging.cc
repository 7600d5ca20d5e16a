#include "common/logging.h"

#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace remotegpu {
namespace {

// `%*` in a pattern: the message, escaped for use inside a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            dest.append(std::string_view(escaped));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

thread_local std::string current_request_id;

// `%q`: " req=<id>" while a thread serves a request, else nothing.
class RequestIdText final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (current_request_id.empty()) return;
    dest.append(std::string_view(" req="));
    dest.append(std::string_view(current_request_id));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdText>();
  }
};

// `%Q`: ,"request_id":"<id>" while a thread serves a request, else nothing.
// Request ids are checked to be [A-Za-z0-9._-] (http_server.cc): no escaping.
class RequestIdJson final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (current_request_id.empty()) return;
    dest.append(std::string_view(R"(,"request_id":")"));
    dest.append(std::string_view(current_request_id));
    dest.push_back('"');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdJson>();
  }
};

}  // namespace

RequestIdScope::RequestIdScope(std::string id) : previous_(std::move(current_request_id)) {
  current_request_id = std::move(id);
}

RequestIdScope::~RequestIdScope() { current_request_id = std::move(previous_); }

const std::string& CurrentRequestId() { return current_request_id; }

Result<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return Status::InvalidArgument("log format must be text or json, not '" + std::string(name) +
                                 "'");
}

void ConfigureLogging(LogFormat format) {
  auto logger = spdlog::get("remotegpu");
  if (!logger) logger = spdlog::stderr_logger_mt("remotegpu");
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonEscapedMessage>('*');
  formatter->add_flag<RequestIdText>('q');
  formatter->add_flag<RequestIdJson>('Q');
  if (format == LogFormat::kJson) {
    formatter->set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t%Q,"msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$%q %v");
  }
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
}

}  // namespace remotegpu
