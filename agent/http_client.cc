#include "agent/http_client.h"

#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

namespace remotegpu::agent {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string ServerSays(const HttpReply& reply) {
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return std::to_string(reply.status) + " " + body["message"].get<std::string>();
  }
  return std::to_string(reply.status) + " " + reply.body.substr(0, 200);
}

Result<HttpClient> HttpClient::For(const std::string& server, std::string token,
                                   std::chrono::milliseconds timeout) {
  constexpr std::string_view kScheme = "http://";
  if (!server.starts_with(kScheme)) {
    return Status::InvalidArgument("--server must be http://host:port, not '" + server + "'");
  }
  std::string rest = server.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string::npos) {
    return Status::InvalidArgument("--server must be http://host:port, not '" + server + "'");
  }
  return HttpClient(rest.substr(0, colon), rest.substr(colon + 1), std::move(token), timeout);
}

Result<HttpReply> HttpClient::Get(const std::string& target) const {
  return Send("GET", target, "");
}

Result<HttpReply> HttpClient::Post(const std::string& target, const std::string& json_body) const {
  return Send("POST", target, json_body);
}

Result<HttpReply> HttpClient::Send(const char* method, const std::string& target,
                                   const std::string& body) const {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout_);
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, host_);
    request.set(http::field::user_agent, "remotegpu-agent");
    request.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return HttpReply{static_cast<int>(response.result_int()), std::move(response.body())};
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string(method) + " " + target + " on " + host_ + ":" + port_ +
                               ": " + e.what());
  }
}

}  // namespace remotegpu::agent
