#include "api/http_server.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <spdlog/spdlog.h>

#include "api/envelope.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/uuid.h"

namespace remotegpu::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// A connection lives on one io_context run by one thread: no strand is
// needed, and the concrete executor type avoids type-erased dispatch.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor>;

struct HttpServer::Impl {
  HttpHandler handler;
  InlineHandler try_inline;
  HttpServerOptions options;
  // One io_context per I/O thread; the acceptor lives on the first and hands
  // connections out round-robin.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<Executor>> keep_running;
  size_t next_context = 0;  // Only the acceptor's thread touches it.
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> threads;
  UuidV7Generator trace_ids{SystemClock::Instance()};

  std::atomic<bool> draining{false};
  std::atomic<int> active_requests{0};
  std::mutex mu;
  std::condition_variable idle;
  bool stopped = false;  // Guarded by mu.

  void Accept();
  void RequestDone() {
    if (active_requests.fetch_sub(1) == 1 && draining.load()) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }
};

namespace {

// A client's X-Request-Id is kept when it is 1 to 64 of [A-Za-z0-9._-]
// (safe in logs and headers); otherwise the server's own id stands.
bool UsableRequestId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

HttpRequest ToRequest(const http::request<http::string_body>& in, const std::string& trace_id) {
  HttpRequest out;
  out.method = std::string(in.method_string());
  SplitTarget(std::string(in.target()), &out);
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    out.headers[name] = std::string(field.value());
  }
  out.body = in.body();
  const std::string client_id = out.Header("x-request-id");
  out.trace_id = UsableRequestId(client_id) ? client_id : trace_id;
  return out;
}

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_.options.body_limit);
    stream_.expires_after(server_.options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    HttpRequest bare;
    bare.trace_id = server_.trace_ids.NewId().ToString();
    if (ec == http::error::body_limit) {
      return Write(ErrorResponse(bare, 413, "BODY_TOO_LARGE",
                                 "the body is larger than " +
                                     std::to_string(server_.options.body_limit) + " bytes"),
                   bare.trace_id, false);
    }
    if (ec == http::error::header_limit) {
      return Write(ErrorResponse(bare, 431, "HEADERS_TOO_LARGE",
                                 "the request's headers are larger than the server accepts"),
                   bare.trace_id, false);
    }
    if (ec) {
      return Write(ErrorResponse(bare, 400, "INVALID_ARGUMENT", "malformed HTTP: " + ec.message()),
                   bare.trace_id, false);
    }
    http::request<http::string_body> request = parser_->release();
    // A method token HTTP does not define never reaches routing, metrics or
    // logs: one fixed answer, whatever the client invented.
    if (request.method() == http::verb::unknown) {
      return Write(ErrorResponse(bare, 501, "NOT_IMPLEMENTED",
                                 "the method is not one this server implements"),
                   bare.trace_id, false);
    }
    const bool keep_alive = request.keep_alive();
    server_.active_requests.fetch_add(1);
    // The request stays active until its answer is written (see Write).
    HttpRequest plain = ToRequest(request, bare.trace_id);
    beast::error_code peer_error;
    const auto peer = stream_.socket().remote_endpoint(peer_error);
    if (!peer_error) plain.remote_address = peer.address().to_string();
    if (server_.try_inline) {
      if (auto answer = Answer(plain, server_.try_inline)) {
        return Write(std::move(*answer), plain.trace_id, keep_alive && !server_.draining.load(),
                     true);
      }
    }
    asio::post(*server_.workers, [self = shared_from_this(), plain = std::move(plain),
                                  keep_alive]() mutable {
      std::optional<HttpResponse> answer =
          self->Answer(plain, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
            return self->server_.handler(r);
          });
      if (answer->stream) {
        return self->WriteStreamed(std::move(*answer), plain.trace_id,
                                   keep_alive && !self->server_.draining.load());
      }
      asio::post(
          self->stream_.get_executor(), [self, answer = std::move(*answer),
                                         id = std::move(plain.trace_id), keep_alive]() mutable {
            self->Write(std::move(answer), id, keep_alive && !self->server_.draining.load(), true);
          });
    });
  }

  // `handler`'s answer, with the request's id on every line it logs; a
  // handler must not throw, but if one does the client still gets an answer.
  template <typename Handler>
  std::optional<HttpResponse> Answer(const HttpRequest& request, const Handler& handler) {
    RequestIdScope logged_as(request.trace_id);
    try {
      return handler(request);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", request.method, request.path, e.what());
      return ErrorResponse(request, 500, "INTERNAL", "internal error; see the server log");
    }
  }

  // The status line and headers every answer carries.
  template <typename Body>
  static void SetHeader(http::response<Body>& out, const HttpResponse& response,
                        const std::string& request_id, bool keep_alive) {
    out.result(static_cast<http::status>(response.status));
    out.version(11);
    out.set(http::field::server, "remotegpu");
    out.set(http::field::content_type, response.content_type);
    out.set("x-request-id", request_id);
    for (const auto& [name, value] : response.headers) out.set(name, value);
    out.keep_alive(keep_alive);
  }

  // `counted`: the request was counted active and is finished once written.
  void Write(HttpResponse response, const std::string& request_id, bool keep_alive,
             bool counted = false) {
    auto out = std::make_shared<http::response<http::string_body>>();
    SetHeader(*out, response, request_id, keep_alive);
    out->body() = std::move(response.body);
    out->prepare_payload();
    http::async_write(
        stream_, *out,
        [self = shared_from_this(), out, keep_alive, counted](beast::error_code ec, size_t) {
          if (counted) self->server_.RequestDone();
          if (ec || !keep_alive) return self->Close();
          self->Read();
        });
  }

  // Sends a streamed answer (HttpResponse::stream) chunked. Runs on a
  // worker thread, which it holds while the producer runs: each write is
  // started on the connection's executor and waited for here, so at most one
  // chunk is in memory and a slow reader slows the producer instead of
  // filling a buffer (each write has the read timeout).
  void WriteStreamed(HttpResponse response, const std::string& request_id, bool keep_alive) {
    http::response<http::empty_body> header;
    SetHeader(header, response, request_id, keep_alive);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer(header);
    // Starts `write` on the connection's executor and waits for its end.
    // The promise is shared with the completion, which may still be inside
    // set_value when this thread wakes and leaves.
    auto wait = [this](auto write) {
      auto done = std::make_shared<std::promise<beast::error_code>>();
      auto ended = done->get_future();
      asio::post(stream_.get_executor(), [this, &write, done] {
        stream_.expires_after(server_.options.read_timeout);
        write([done](beast::error_code ec, size_t) { done->set_value(ec); });
      });
      return ended.get();
    };
    beast::error_code ec =
        wait([&](auto handler) { http::async_write_header(stream_, serializer, handler); });
    Status produced = Status::Ok();
    if (!ec) {
      RequestIdScope logged_as(request_id);
      try {
        produced = response.stream([&](std::string_view chunk) {
          if (ec) return false;
          if (chunk.empty()) return true;
          ec = wait([&](auto handler) {
            asio::async_write(stream_, http::make_chunk(asio::buffer(chunk.data(), chunk.size())),
                              handler);
          });
          return !ec;
        });
      } catch (const std::exception& e) {
        produced = Status::Internal(std::string("the producer threw: ") + e.what());
      }
      if (!produced.ok()) spdlog::error("streaming the answer failed: {}", produced.ToString());
    }
    const bool whole = produced.ok() && !ec;
    if (whole)
      ec =
          wait([&](auto handler) { asio::async_write(stream_, http::make_chunk_last(), handler); });
    asio::post(stream_.get_executor(), [self = shared_from_this(), whole, ec, keep_alive] {
      self->server_.RequestDone();
      if (!whole || ec || !keep_alive) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  asio::io_context& context = *contexts[next_context++ % contexts.size()];
  auto socket = std::make_shared<Socket>(context.get_executor());
  acceptor->async_accept(*socket, [this, socket](beast::error_code ec) {
    if (ec) {
      if (ec != asio::error::operation_aborted) spdlog::warn("accept: {}", ec.message());
      if (!acceptor->is_open()) return;
    } else {
      std::make_shared<Session>(std::move(*socket), *this)->Run();
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpHandler handler,
                                                      HttpServerOptions options,
                                                      InlineHandler try_inline) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->try_inline = std::move(try_inline);
  impl->workers = std::make_unique<asio::thread_pool>(std::max(1, options.worker_threads));
  impl->options = options;
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    impl->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl->keep_running.push_back(asio::make_work_guard(impl->contexts.back()->get_executor()));
  }
  impl->acceptor = std::make_unique<tcp::acceptor>(*impl->contexts.front());
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + options.address);
  tcp::endpoint endpoint(address, options.port);
  impl->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(endpoint, ec);
  if (!ec) impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen on " + options.address + ":" +
                           std::to_string(options.port) + ": " + ec.message());
  }
  impl->Accept();
  for (auto& context : impl->contexts) {
    impl->threads.emplace_back([io = context.get()] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->acceptor->local_endpoint().port(); }

void HttpServer::Shutdown() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->draining = true;
  asio::post(*impl_->contexts.front(), [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  {
    std::unique_lock lock(impl_->mu);
    impl_->idle.wait_for(lock, impl_->options.shutdown_grace,
                         [&] { return impl_->active_requests == 0; });
  }
  impl_->workers->stop();
  impl_->workers->join();
  impl_->keep_running.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
}

HttpServer::~HttpServer() { Shutdown(); }

}  // namespace remotegpu::api
