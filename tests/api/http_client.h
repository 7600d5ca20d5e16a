// A blocking HTTP/1.1 client over loopback for API tests (Beast).
#pragma once

#include <utility>  // Boost 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace remotegpu::api::testing_http {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  nlohmann::json body;  // Discarded (is_discarded()) when not JSON.
  std::string raw;
};

// One exchange on an open stream (kept open for keep-alive).
inline Reply Exchange(beast::tcp_stream& stream, http::verb method, const std::string& target,
                      const std::string& body = "",
                      const std::map<std::string, std::string>& headers = {}) {
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {static_cast<int>(response.result_int()),
          nlohmann::json::parse(response.body(), nullptr, false), response.body()};
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

}  // namespace remotegpu::api::testing_http
