// The HTTP server: Boost.Beast over Asio, a pool of threads running one
// io_context, keep-alive, a read timeout on every request, a body limit
// (413), and a graceful shutdown that stops accepting, lets in-flight
// requests finish and then closes. Beast stays inside http_server.cc.
//
// Two kinds of threads: `io_threads` run the sockets (as many as cores), and
// `worker_threads` run handlers that may block (a durable append, a
// PostgreSQL query), so that a blocked handler never stalls another
// connection's I/O. A request goes first to `try_inline` on its I/O thread:
// when that answers (a cached query, /healthz) the worker pool is skipped;
// when it returns nullopt, `handler` answers on a worker. `worker_threads`
// bounds the blocking requests served at once, `max_queued` those waiting
// for one. A request whose read model is behind its X-Min-Position is parked
// (HttpResponse::park) holding no thread; a stream route's connection
// becomes a WebSocket or server-sent events (HttpResponse::open).
//
// Thread-safety: Shutdown from any thread, once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/http/http_types.h"
#include "common/status.h"

namespace remotegpu::api {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port()).
  int io_threads = 2;
  int worker_threads = 64;
  size_t body_limit = 1 << 20;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds shutdown_grace{10};
  // Requests waiting for a worker beyond which new ones are answered 503 +
  // Retry-After at once instead of queueing without bound.
  int max_queued = 4096;
  // A stream peer's send queue bound (see StreamPeer::Send).
  size_t stream_queue_bytes = 1 << 20;
  // A stream peer that answers no ping (WebSocket) for this long is closed.
  std::chrono::seconds stream_idle{60};
};

class HttpServer {
 public:
  // Binds, listens and starts the threads. IoError when the address cannot
  // be bound (in use, not local, …).
  // `try_inline` must not block; it may be empty (every request goes to a
  // worker).
  static Result<std::unique_ptr<HttpServer>> Start(HttpHandler handler, HttpServerOptions options,
                                                   InlineHandler try_inline = nullptr);
  ~HttpServer();

  uint16_t port() const;
  // Stops accepting, wakes parked requests, closes streams, waits up to
  // shutdown_grace for in-flight requests, then stops the threads.
  void Shutdown();

  struct Stats {
    uint64_t parked = 0;   // Requests parked now (HttpResponse::park).
    uint64_t streams = 0;  // Stream peers open now.
    uint64_t queued = 0;   // Requests waiting for a worker.
    uint64_t refused = 0;  // Requests refused 503 for a full worker queue.
    uint64_t dropped = 0;  // Stream peers dropped for a full send queue.
  };
  Stats stats() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace remotegpu::api
