#include "api/http/http_server.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "api/http/envelope.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/progress.h"
#include "common/uuid.h"

namespace remotegpu::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
// A connection lives on one io_context run by one thread: no strand is
// needed, and the concrete executor type avoids type-erased dispatch.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor>;

// A request parked until a read model reaches its X-Min-Position
// (HttpResponse::park): no thread, only this and a timer for its deadline.
// Resumed once, by whichever comes first: the position, the deadline or
// Shutdown.
struct Parked {
  explicit Parked(asio::io_context::executor_type executor) : timer(executor) {}
  asio::steady_timer timer;  // The deadline, on the connection's executor.
  std::mutex mu;
  std::function<void()> resume;  // Runs the handler again; null once taken. Guarded by mu.
  ProgressSignal* progress = nullptr;
  ProgressSignal::Ticket ticket = 0;  // Guarded by mu.
};

// What stream routes' producers hold instead of a connection: a connection
// lives on an io_context and must be gone before it is, while a producer
// (the event feed) may keep its peers longer than the server lives. Through
// the gate, a handle reaches its connection only while the server exists.
struct StreamGate {
  std::mutex mu;
  bool open = true;  // Guarded by mu; false once the server is being destroyed.
};

class PeerHandle final : public StreamPeer {
 public:
  PeerHandle(std::weak_ptr<StreamPeer> connection, std::shared_ptr<StreamGate> gate)
      : connection_(std::move(connection)), gate_(std::move(gate)) {}

  bool Send(std::shared_ptr<const std::string> message) override {
    return With([&](StreamPeer& c) { return c.Send(std::move(message)); }, false);
  }
  void Close() override {
    With(
        [](StreamPeer& c) {
          c.Close();
          return true;
        },
        true);
  }
  bool closed() const override {
    return With([](StreamPeer& c) { return c.closed(); }, true);
  }
  size_t queued_bytes() const override {
    return With([](StreamPeer& c) { return c.queued_bytes(); }, size_t{0});
  }

 private:
  // `use` on the connection while the server exists (the connection is
  // released under the gate too), else `gone`.
  template <typename Use, typename T>
  T With(Use use, T gone) const {
    std::lock_guard lock(gate_->mu);
    if (!gate_->open) return gone;
    std::shared_ptr<StreamPeer> connection = connection_.lock();
    return connection ? use(*connection) : gone;
  }

  std::weak_ptr<StreamPeer> connection_;
  std::shared_ptr<StreamGate> gate_;
};

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
  std::atomic<int> queued{0};  // Posted to workers, not yet started.
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> dropped{0};
  std::mutex mu;
  std::condition_variable idle;
  bool stopped = false;  // Guarded by mu.

  // Parked requests and open stream peers, so that Shutdown can wake and
  // close them. Entries remove themselves.
  std::mutex live_mu;
  std::unordered_set<std::shared_ptr<Parked>> parked;       // Guarded by live_mu.
  std::unordered_set<std::shared_ptr<StreamPeer>> streams;  // Guarded by live_mu.
  std::shared_ptr<StreamGate> gate = std::make_shared<StreamGate>();

  void Accept();
  // Takes `parked`'s resume and runs it, unless taken already.
  void Resume(const std::shared_ptr<Parked>& parked) {
    std::function<void()> resume;
    ProgressSignal::Ticket ticket = 0;
    {
      std::lock_guard lock(parked->mu);
      resume = std::move(parked->resume);
      parked->resume = nullptr;
      ticket = parked->ticket;
    }
    if (!resume) return;
    if (ticket != 0) parked->progress->Cancel(ticket);
    asio::post(parked->timer.get_executor(), [parked] { parked->timer.cancel(); });
    {
      std::lock_guard lock(live_mu);
      this->parked.erase(parked);
    }
    resume();
  }
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

// What a stream peer does whatever its wire: a bounded queue of messages
// written one at a time on the connection's executor. `Derived` writes one
// message (WriteOne) and tears the connection down (Teardown).
template <typename Derived>
class QueuedPeer : public StreamPeer, public std::enable_shared_from_this<Derived> {
 public:
  QueuedPeer(HttpServer::Impl& server, Executor executor)
      : server_(server), executor_(std::move(executor)) {}

  bool Send(std::shared_ptr<const std::string> message) override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return false;
      // A message larger than the bound still goes out alone; behind others
      // it means the reader is not keeping up.
      if (!queue_.empty() && queued_bytes_ + message->size() > server_.options.stream_queue_bytes) {
        server_.dropped.fetch_add(1);
        spdlog::warn("dropping a stream peer at {}: its reader is {} bytes behind", peer_,
                     queued_bytes_);
      } else {
        queued_bytes_ += message->size();
        queue_.push_back(std::move(message));
        if (!writing_ && started_) {
          writing_ = true;
          asio::post(executor_, [self = this->shared_from_this()] { self->WriteNext(); });
        }
        return true;
      }
    }
    Close();
    return false;
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    asio::post(executor_, [self = this->shared_from_this()] { self->Finish(); });
  }

  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t queued_bytes() const override {
    std::lock_guard lock(mu_);
    return queued_bytes_;
  }

 protected:
  // After the handshake: writes what was queued so far, from now on as it comes.
  void Started() {
    std::lock_guard lock(mu_);
    started_ = true;
    if (!queue_.empty() && !writing_ && !closed_) {
      writing_ = true;
      asio::post(executor_, [self = this->shared_from_this()] { self->WriteNext(); });
    }
  }

  // On the executor.
  void WriteNext() {
    std::shared_ptr<const std::string> next;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || closed_) {
        writing_ = false;
        return;
      }
      next = queue_.front();
    }
    static_cast<Derived*>(this)->WriteOne(
        next, [self = this->shared_from_this(), next](beast::error_code ec) {
          if (ec) return self->Close();
          {
            std::lock_guard lock(self->mu_);
            if (!self->queue_.empty() && self->queue_.front() == next) {
              self->queued_bytes_ -= next->size();
              self->queue_.pop_front();
            }
          }
          self->WriteNext();
        });
  }

  // On the executor, once: the connection goes, the server forgets the peer.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    static_cast<Derived*>(this)->Teardown();
    std::lock_guard lock(server_.live_mu);
    server_.streams.erase(this->shared_from_this());
  }

  HttpServer::Impl& server_;
  Executor executor_;
  std::string peer_;  // The client's address, for logs.

 private:
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> queue_;  // Guarded by mu_.
  size_t queued_bytes_ = 0;                               // Guarded by mu_.
  bool writing_ = false;                                  // Guarded by mu_.
  bool started_ = false;                                  // Guarded by mu_.
  bool closed_ = false;                                   // Guarded by mu_.
  bool finished_ = false;                                 // On the executor.
};

// A WebSocket: text frames out, the client's frames read and ignored (they
// carry its pongs and close), pings when idle.
class WebSocketPeer : public QueuedPeer<WebSocketPeer> {
 public:
  WebSocketPeer(HttpServer::Impl& server, Stream stream, std::string peer)
      : QueuedPeer(server, stream.get_executor()), ws_(std::move(stream)) {
    peer_ = std::move(peer);
  }

  // Completes the handshake for `request`, then hands the peer to `open`.
  void Accept(http::request<http::string_body> upgrade,
              std::function<void(std::shared_ptr<StreamPeer>)> open, std::string request_id) {
    // Kept until the handshake completes.
    auto request = std::make_shared<http::request<http::string_body>>(std::move(upgrade));
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(30);
    timeout.idle_timeout = server_.options.stream_idle;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator([request_id](websocket::response_type& r) {
      r.set(http::field::server, "remotegpu");
      r.set("x-request-id", request_id);
    }));
    ws_.read_message_max(64 * 1024);
    // One frame per message, written with one call: fragments cost a system
    // call each, which is most of a stream's cost under load.
    ws_.auto_fragment(false);
    auto self = shared_from_this();
    ws_.async_accept(*request, [self, request, open = std::move(open)](beast::error_code ec) {
      if (ec) return self->Close();
      open(std::make_shared<PeerHandle>(self, self->server_.gate));
      self->Started();
      self->Read();
    });
  }

  template <typename Done>
  void WriteOne(const std::shared_ptr<const std::string>& message, Done done) {
    ws_.text(true);
    ws_.async_write(asio::buffer(*message),
                    [done = std::move(done)](beast::error_code ec, size_t) { done(ec); });
  }

  void Teardown() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  void Read() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->read_buffer_.clear();
      self->Read();
    });
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer read_buffer_;
};

// Server-sent events: one "data:" event per message, a comment line as a
// ping every half of stream_idle, and a read that notices the client leave.
class EventSourcePeer : public QueuedPeer<EventSourcePeer> {
 public:
  EventSourcePeer(HttpServer::Impl& server, Stream stream, std::string peer)
      : QueuedPeer(server, stream.get_executor()),
        stream_(std::move(stream)),
        ping_timer_(executor_) {
    peer_ = std::move(peer);
  }

  void Start(std::function<void(std::shared_ptr<StreamPeer>)> open, const std::string& request_id) {
    stream_.expires_never();
    auto header = std::make_shared<std::string>(
        "HTTP/1.1 200 OK\r\nServer: remotegpu\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\nX-Request-Id: " +
        request_id + "\r\n\r\n");
    auto self = shared_from_this();
    asio::async_write(stream_, asio::buffer(*header),
                      [self, header, open = std::move(open)](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        open(std::make_shared<PeerHandle>(self, self->server_.gate));
                        self->Started();
                        self->Read();
                        self->Ping();
                      });
  }

  template <typename Done>
  void WriteOne(const std::shared_ptr<const std::string>& message, Done done) {
    auto event =
        std::make_shared<std::string>(message == PingComment() ? *message : EventOf(*message));
    asio::async_write(stream_, asio::buffer(*event),
                      [event, done = std::move(done)](beast::error_code ec, size_t) { done(ec); });
  }

  // Every line of the message its own data: line, so a newline inside
  // cannot end the event early.
  static std::string EventOf(const std::string& message) {
    std::string event;
    size_t start = 0;
    while (true) {
      const size_t end = message.find('\n', start);
      event += "data: ";
      event.append(message, start, end == std::string::npos ? std::string::npos : end - start);
      event += "\n";
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return event + "\n";
  }

  void Teardown() {
    ping_timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void Read() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Read();
                            });
  }
  // A comment line every half of stream_idle keeps proxies and the
  // client's timer content; through the queue, so that it never interleaves
  // with an event being written, and a reader that stopped reading fills
  // the queue with them and is dropped.
  void Ping() {
    ping_timer_.expires_after(server_.options.stream_idle / 2);
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed()) return;
      self->Send(PingComment());
      self->Ping();
    });
  }
  static const std::shared_ptr<const std::string>& PingComment() {
    static const auto ping = std::make_shared<const std::string>(": ping\n\n");
    return ping;
  }

  Stream stream_;
  asio::steady_timer ping_timer_;
  char scratch_[512];
};

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
      return Write(StatusResponse(bare, Status::InvalidArgument("malformed HTTP: " + ec.message())),
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
    // Kept in case the route is a stream (see Upgrade).
    upgrade_.reset();
    if (websocket::is_upgrade(request)) upgrade_.emplace(std::move(request));
    wants_event_stream_ = plain.Header("accept").find("text/event-stream") != std::string::npos;
    if (server_.try_inline) {
      if (auto answer = Answer(plain, server_.try_inline)) {
        return Write(std::move(*answer), plain.trace_id, keep_alive && !server_.draining.load(),
                     true);
      }
    }
    Work(std::move(plain), keep_alive, true);
  }

  // Runs the handler on a worker; `bounded`: unless max_queued requests
  // wait for one already (a resumed request was admitted before).
  void Work(HttpRequest plain, bool keep_alive, bool bounded) {
    if (bounded && server_.queued.load() >= server_.options.max_queued) {
      server_.refused.fetch_add(1);
      HttpResponse busy =
          StatusResponse(plain, Status::Unavailable("the server is busy; retry shortly"));
      busy.headers["Retry-After"] = "1";
      return PostWrite(std::move(busy), plain.trace_id, keep_alive);
    }
    server_.queued.fetch_add(1);
    asio::post(*server_.workers, [self = shared_from_this(), plain = std::move(plain),
                                  keep_alive]() mutable {
      self->server_.queued.fetch_sub(1);
      std::optional<HttpResponse> answer =
          self->Answer(plain, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
            return self->server_.handler(r);
          });
      if (answer->park && answer->park->progress != nullptr &&
          (!plain.resumed || std::chrono::steady_clock::now() < plain.park_deadline)) {
        return self->Park(std::move(plain), *answer->park, keep_alive);
      }
      if (answer->park) {  // Past its deadline a handler must answer; this one did not.
        spdlog::error("handler for {} {} parked a resumed request", plain.method, plain.path);
        answer = ErrorResponse(plain, 500, "INTERNAL", "internal error; see the server log");
      }
      if (answer->stream) {
        return self->WriteStreamed(std::move(*answer), plain.trace_id,
                                   keep_alive && !self->server_.draining.load());
      }
      self->PostWrite(std::move(*answer), plain.trace_id, keep_alive);
    });
  }

  // Write, from any thread.
  void PostWrite(HttpResponse answer, std::string request_id, bool keep_alive) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), answer = std::move(answer),
                                        id = std::move(request_id), keep_alive]() mutable {
      self->Write(std::move(answer), id, keep_alive && !self->server_.draining.load(), true);
    });
  }

  // Holds `request` (no thread) until `park.progress` reaches `park.position`
  // or `park.timeout` passes, then runs the handler again (see Parked).
  void Park(HttpRequest request, const HttpResponse::Park& park, bool keep_alive) {
    auto parked = std::make_shared<Parked>(stream_.get_executor());
    parked->progress = park.progress;
    if (!request.resumed) request.park_deadline = std::chrono::steady_clock::now() + park.timeout;
    request.resumed = true;
    const auto deadline = request.park_deadline;
    parked->resume = [self = shared_from_this(), request = std::move(request),
                      keep_alive]() mutable { self->Work(std::move(request), keep_alive, false); };
    HttpServer::Impl* server = &server_;
    {
      std::lock_guard lock(server->live_mu);
      server->parked.insert(parked);
    }
    // Shutdown wakes what is parked; one parked after its sweep wakes here.
    if (server->draining.load()) return server->Resume(parked);
    asio::post(stream_.get_executor(), [server, parked, deadline] {
      parked->timer.expires_at(deadline);
      parked->timer.async_wait([server, parked](beast::error_code ec) {
        if (!ec) server->Resume(parked);
      });
    });
    const ProgressSignal::Ticket ticket =
        park.progress->WhenReached(park.position, [server, parked] { server->Resume(parked); });
    std::lock_guard lock(parked->mu);
    if (parked->resume) {
      parked->ticket = ticket;
    } else if (ticket != 0) {
      park.progress->Cancel(ticket);  // Resumed by its deadline meanwhile.
    }
  }

  // Turns the connection into a stream peer for a stream route's answer
  // (HttpResponse::open). A stream is not an in-flight request: Shutdown
  // closes it instead of waiting for it.
  void Upgrade(HttpResponse response, const std::string& request_id, bool keep_alive,
               bool counted) {
    if (counted) server_.RequestDone();
    if (server_.draining.load()) {
      return Write(ErrorResponse(HttpRequest{.trace_id = request_id}, 503, "UNAVAILABLE",
                                 "the server is stopping"),
                   request_id, false);
    }
    if (!upgrade_ && !wants_event_stream_) {
      return Write(ErrorResponse(HttpRequest{.trace_id = request_id}, 400, "INVALID_ARGUMENT",
                                 "this route is a stream: open it as a WebSocket, or with "
                                 "Accept: text/event-stream"),
                   request_id, keep_alive);
    }
    beast::error_code ignored;
    const auto endpoint = stream_.socket().remote_endpoint(ignored);
    const std::string peer = endpoint.address().to_string();
    if (upgrade_) {
      auto ws = std::make_shared<WebSocketPeer>(server_, std::move(stream_), peer);
      Register(ws);
      ws->Accept(std::move(*upgrade_), std::move(response.open), request_id);
    } else {
      auto events = std::make_shared<EventSourcePeer>(server_, std::move(stream_), peer);
      Register(events);
      events->Start(std::move(response.open), request_id);
    }
  }
  // Known to Shutdown, or closed at once when Shutdown's sweep has passed.
  void Register(const std::shared_ptr<StreamPeer>& peer) {
    {
      std::lock_guard lock(server_.live_mu);
      if (!server_.draining.load()) {
        server_.streams.insert(peer);
        return;
      }
    }
    peer->Close();
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
    if (response.open && response.status == 200) {
      return Upgrade(std::move(response), request_id, keep_alive, counted);
    }
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
  std::optional<http::request<http::string_body>>
      upgrade_;                      // The last request, if it asked for a WebSocket.
  bool wants_event_stream_ = false;  // The last request accepts text/event-stream.
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
  {
    std::lock_guard lock(impl_->live_mu);  // Register's check sees it or the sweep sees the peer.
    impl_->draining = true;
  }
  asio::post(*impl_->contexts.front(), [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  // Parked requests are answered now (with what their read model has);
  // streams are closed (their clients reconnect elsewhere and resume).
  std::vector<std::shared_ptr<Parked>> parked;
  std::vector<std::shared_ptr<StreamPeer>> streams;
  {
    std::lock_guard lock(impl_->live_mu);
    parked.assign(impl_->parked.begin(), impl_->parked.end());
    streams.assign(impl_->streams.begin(), impl_->streams.end());
  }
  for (const auto& request : parked) impl_->Resume(request);
  for (const auto& peer : streams) peer->Close();
  {
    std::unique_lock lock(impl_->mu);
    impl_->idle.wait_for(lock, impl_->options.shutdown_grace,
                         [&] { return impl_->active_requests == 0; });
  }
  impl_->workers->stop();
  impl_->workers->join();
  // The closes posted above run before the threads stop (each context runs
  // its handlers in order, so a barrier after them is enough).
  for (auto& context : impl_->contexts) {
    auto passed = std::make_shared<std::promise<void>>();
    auto barrier = passed->get_future();
    asio::post(*context, [passed] { passed->set_value(); });
    barrier.wait_for(std::chrono::seconds(1));
  }
  impl_->keep_running.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
}

HttpServer::Stats HttpServer::stats() const {
  Stats stats;
  {
    std::lock_guard lock(impl_->live_mu);
    stats.parked = impl_->parked.size();
    stats.streams = impl_->streams.size();
  }
  stats.queued = static_cast<uint64_t>(std::max(0, impl_->queued.load()));
  stats.refused = impl_->refused.load();
  stats.dropped = impl_->dropped.load();
  return stats;
}

HttpServer::~HttpServer() {
  Shutdown();
  std::lock_guard lock(impl_->gate->mu);
  impl_->gate->open = false;  // Producers' handles no longer reach a connection.
}

}  // namespace remotegpu::api
