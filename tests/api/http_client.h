// A blocking HTTP/1.1 client over loopback for API tests (Beast).
#pragma once

#include <cstdlib>
#include <map>
#include <string>
#include <utility>  // Boost 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

namespace remotegpu::api::testing_http {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// Every `remotegpu serve` a test starts inherits this as the first admin's
// password (REMOTEGPU_ADMIN_PASSWORD), set once when the test binary loads.
inline constexpr char kAdminPassword[] = "test-admin-password-1";
inline const bool kAdminPasswordExported = [] {
  setenv("REMOTEGPU_ADMIN_PASSWORD", kAdminPassword, 1);
  return true;
}();

// The credentials sent with every call that names none (set by LogInAsAdmin);
// pass an empty "Authorization" header to send a call without any.
inline std::string& DefaultAuthorization() {
  static std::string value;
  return value;
}

struct Reply {
  int status = 0;
  nlohmann::json body;  // Discarded (is_discarded()) when not JSON.
  std::string raw;
  std::map<std::string, std::string> headers;  // Names in lower case.

  std::string Header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
  }
};

// One exchange on an open stream (kept open for keep-alive).
inline Reply Exchange(beast::tcp_stream& stream, http::verb method, const std::string& target,
                      const std::string& body = "",
                      const std::map<std::string, std::string>& headers = {}) {
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!DefaultAuthorization().empty() && headers.count("Authorization") == 0 &&
      headers.count("X-Api-Key") == 0) {
    request.set(http::field::authorization, DefaultAuthorization());
  }
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  Reply reply{static_cast<int>(response.result_int()),
              nlohmann::json::parse(response.body(), nullptr, false),
              response.body(),
              {}};
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    reply.headers[name] = std::string(field.value());
  }
  return reply;
}

// One exchange on a new connection.
inline Reply Call(uint16_t port, http::verb method, const std::string& target,
                  const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  return Exchange(stream, method, target, body, headers);
}

// Logs in as the first admin and makes its token the default credential;
// returns the login reply.
inline Reply LogInAsAdmin(uint16_t port) {
  Reply login = Call(port, http::verb::post, "/api/auth/login",
                     nlohmann::json{{"username", "admin"}, {"password", kAdminPassword}}.dump(),
                     {{"Authorization", ""}});
  if (login.status == 200) {
    DefaultAuthorization() = "Bearer " + login.body["data"]["token"].get<std::string>();
  }
  return login;
}

}  // namespace remotegpu::api::testing_http
