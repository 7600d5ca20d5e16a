// A WebSocket client over loopback for tests (Beast), with timeouts on
// every read so that a missing message fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>

namespace remotegpu::api::testing_ws {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

class WsClient {
 public:
  // Opens `target`; the HTTP status of the answer (101 when upgraded).
  int Connect(uint16_t port, const std::string& target,
              const std::map<std::string, std::string>& headers = {}) {
    ws_.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
      for (const auto& [name, value] : headers) r.set(name, value);
    }));
    beast::error_code ec;
    ws_.handshake("127.0.0.1", target, ec);
    if (!ec) return 101;
    // Refused: Beast (1.74) keeps the answer to itself, so the same upgrade
    // request again as plain HTTP, for its status and body.
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::upgrade, "websocket");
    request.set(http::field::connection, "Upgrade");
    request.set(http::field::sec_websocket_version, "13");
    request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    for (const auto& [name, value] : headers) request.set(name, value);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response, ec);
    if (ec) return 0;
    refusal_ = response.body();
    return static_cast<int>(response.result_int());
  }
  // The body of a refused handshake.
  const std::string& refusal() const { return refusal_; }

  // The next text message, or nullopt on timeout, close or error.
  std::optional<std::string> Read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::optional<std::string> message;
    bool done = false;
    buffer_.clear();
    ws_.async_read(buffer_, [&](beast::error_code ec, size_t) {
      done = true;
      if (!ec)
        message = beast::buffers_to_string(buffer_.data());
      else
        error_ = ec;
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {  // Timed out: give up on this stream.
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      io_.restart();
      io_.run();
    }
    return message;
  }
  beast::error_code error() const { return error_; }
  tcp::socket& socket() { return ws_.next_layer(); }

 private:
  boost::asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  beast::flat_buffer buffer_;
  beast::error_code error_;
  std::string refusal_;
};

}  // namespace remotegpu::api::testing_ws
