// Plain request and response values, so that handlers, routing and their
// tests never include Beast (which only http_server.cc does).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace remotegpu {
class ProgressSignal;
}

namespace remotegpu::api {

// Who sent a request, as the authentication middleware established it
// (api/routes/auth.h); `authenticated` false: nobody yet.
struct Identity {
  bool authenticated = false;
  std::string user_id;  // "user-…"
  std::string username;
  std::string customer_id;  // Empty for a platform admin.
  bool admin = false;
  std::string session_id;  // From an access token.
  std::string api_key_id;  // From an API key.
  std::string host_id;     // From an agent token.
};

struct HttpRequest {
  std::string method;                          // "GET", "POST", …
  std::string path;                            // Without the query: "/api/cmdb/hosts".
  std::map<std::string, std::string> query;    // Decoded query parameters.
  std::map<std::string, std::string> headers;  // Names in lower case.
  std::string body;
  std::map<std::string, std::string> params;  // Filled by the router: ":id" -> "42".
  // The request's id: the client's X-Request-Id when usable, else one the
  // server makes; in the envelope's traceId, the X-Request-Id response
  // header and every log line written while it is served.
  std::string trace_id;
  std::string remote_address;  // The peer's IP address.
  Identity identity;           // Set by the authentication middleware.
  // The handler parked this request (HttpResponse::park) and is now called
  // again: woken, or because the wait timed out. It may park it again until
  // `park_deadline` (set when it was first parked), and must answer after.
  bool resumed = false;
  std::chrono::steady_clock::time_point park_deadline{};

  // A query parameter, or `fallback` when absent.
  std::string Query(const std::string& name, const std::string& fallback = "") const {
    auto it = query.find(name);
    return it == query.end() ? fallback : it->second;
  }
  std::string Header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A connection the server turned into a stream of text messages: a
// WebSocket, or server-sent events for clients that asked for
// text/event-stream. Ping/pong (or SSE comments) keep it alive.
//
// Thread-safety: all methods, from any thread; none blocks.
class StreamPeer {
 public:
  virtual ~StreamPeer() = default;
  // Queues one message. False, and the peer is closed, when it is closed
  // already or its queue would pass its bound: a reader too slow for its
  // stream is dropped (it may reconnect and resume), never buffered without
  // end.
  virtual bool Send(std::shared_ptr<const std::string> message) = 0;
  // Closes the connection; queued messages are dropped.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // Bytes queued, not yet written (a producer may pace itself on it).
  virtual size_t queued_bytes() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;

  // A body too large to hold in memory (an export): when set, `body` is
  // ignored and the server sends the answer chunked, calling `stream` once,
  // on a worker thread (it may block on a database). `stream` hands each
  // chunk to `emit`, which returns once the chunk is written, false when the
  // client is gone (stop then). A non-OK Status ends the body without its
  // last chunk: the client sees a broken transfer, never a short file that
  // looks whole. Only for routes answered on workers (not never_blocks).
  using Emit = std::function<bool(std::string_view chunk)>;
  std::function<Status(const Emit& emit)> stream;

  // A handler whose read model has not reached the request's
  // X-Min-Position yet answers with `park` set instead: the server holds the
  // request without a thread until `progress` reaches `position` or
  // `timeout` passes, then calls the handler again with `request.resumed`
  // set. Parked again (waiting for a second read model), the request keeps
  // its first deadline; after it the handler must answer. Nothing else of
  // the response is sent.
  struct Park {
    ProgressSignal* progress = nullptr;
    uint64_t position = 0;
    std::chrono::milliseconds timeout{5000};
  };
  std::optional<Park> park;

  // A stream route's answer: the server upgrades the connection (a
  // WebSocket when the client asked for one, else server-sent events when it
  // accepts text/event-stream, else 400) and hands the peer to `open`, on an
  // I/O thread: it must not block. Nothing else of the response is sent.
  std::function<void(std::shared_ptr<StreamPeer>)> open;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Answers without blocking when it can, else nullopt (see HttpServer).
using InlineHandler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

// Splits "a=1&b=x%20y" into decoded pairs; '+' is a space.
std::map<std::string, std::string> ParseQuery(const std::string& query);

// Fills `out`'s path and query from a request target ("/a/b?c=1"): the path
// as sent (not percent-decoded, so routing sees '%' and refuses it in an
// id), the query decoded.
void SplitTarget(const std::string& target, HttpRequest* out);

}  // namespace remotegpu::api
