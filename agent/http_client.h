// The agent's HTTP client: one request per connection to the server, with a
// timeout, JSON bodies and the agent token. Beast stays inside the .cc.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace remotegpu::agent {

struct HttpReply {
  int status = 0;
  std::string body;
};

// `text` percent-encoded for a URL path segment or a query value: every byte
// but RFC 3986's unreserved ones (A-Z a-z 0-9 - _ . ~) as %XX, so an id never
// adds a segment, a query or a fragment to the URL it is spliced into.
std::string PercentEncode(const std::string& text);

// "<status> <the envelope's message>" (or the start of the raw body), for logs.
std::string ServerSays(const HttpReply& reply);

class HttpClient {
 public:
  // `server`: "http://host:port" (a trailing slash is fine). InvalidArgument
  // for anything else.
  static Result<HttpClient> For(const std::string& server, std::string token,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Unavailable when the server cannot be reached or does not answer in time.
  Result<HttpReply> Get(const std::string& target) const;
  Result<HttpReply> Post(const std::string& target, const std::string& json_body) const;
  void set_token(std::string token) { token_ = std::move(token); }

 private:
  HttpClient(std::string host, std::string port, std::string token,
             std::chrono::milliseconds timeout)
      : host_(std::move(host)),
        port_(std::move(port)),
        token_(std::move(token)),
        timeout_(timeout) {}
  Result<HttpReply> Send(const char* method, const std::string& target,
                         const std::string& body) const;

  std::string host_, port_, token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace remotegpu::agent
