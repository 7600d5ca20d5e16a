// The HTTP core's non-blocking parts over real loopback sockets: requests
// parked on a progress signal (no thread each), the worker queue's bound,
// and stream routes as WebSocket and server-sent events, with a slow reader
// dropped while others keep up.
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/http_server.h"
#include "api/http/router.h"
#include "common/progress.h"
#include "tests/api/http_client.h"
#include "tests/api/ws_client.h"

namespace remotegpu::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using testing_http::Call;
using testing_http::Reply;
using testing_ws::WsClient;

// This process's thread count, from /proc.
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Many requests at once from one thread: each on its own connection, all
// written before any answer is awaited.
class ManyRequests {
 public:
  ManyRequests(uint16_t port, const std::vector<std::string>& targets) {
    for (const auto& target : targets) {
      auto call = std::make_shared<OneCall>(io_);
      calls_.push_back(call);
      call->request = {http::verb::get, target, 11};
      call->request.set(http::field::host, "127.0.0.1");
      call->stream.async_connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [call](beast::error_code ec) {
            if (ec) return;
            http::async_write(call->stream, call->request, [call](beast::error_code ec, size_t) {
              if (ec) return;
              http::async_read(call->stream, call->buffer, call->response,
                               [call](beast::error_code ec, size_t) {
                                 call->answered_at = std::chrono::steady_clock::now();
                                 call->done = !ec;
                               });
            });
          });
    }
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~ManyRequests() {
    io_.stop();
    thread_.join();
  }
  // Waits until every call was answered (or `timeout`); how many were.
  size_t WaitAll(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Answered() == calls_.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Answered();
  }
  size_t Answered() const {
    size_t n = 0;
    for (const auto& call : calls_) n += call->done.load();
    return n;
  }
  std::vector<int> Statuses() const {
    std::vector<int> statuses;
    for (const auto& call : calls_)
      statuses.push_back(static_cast<int>(call->response.result_int()));
    return statuses;
  }
  // The latest answer's time.
  std::chrono::steady_clock::time_point LastAnswer() const {
    std::chrono::steady_clock::time_point last{};
    for (const auto& call : calls_) last = std::max(last, call->answered_at.load());
    return last;
  }

 private:
  struct OneCall {
    explicit OneCall(asio::io_context& io) : stream(io) {}
    beast::tcp_stream stream;
    http::request<http::empty_body> request;
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    std::atomic<bool> done{false};
    std::atomic<std::chrono::steady_clock::time_point> answered_at{};
  };
  asio::io_context io_;
  std::vector<std::shared_ptr<OneCall>> calls_;
  std::thread thread_;
};

class StreamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // GET /wait/:position[?timeout_ms=]: answers once progress_ reached it.
    router_.Add("GET", "/wait/:position", "test route", [this](const HttpRequest& r) {
      ++calls_;
      const uint64_t wanted = std::stoull(r.params.at("position"));
      if (progress_.reached() >= wanted) return OkResponse(r, {{"resumed", r.resumed}});
      if (r.resumed) return StatusResponse(r, Status::Unavailable("not yet"));
      HttpResponse parked;
      parked.park = HttpResponse::Park{
          &progress_, wanted, std::chrono::milliseconds(std::stoi(r.Query("timeout_ms", "10000")))};
      return parked;
    });
    router_.Add("GET", "/slow", "test route", [](const HttpRequest& r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return OkResponse(r, "done");
    });
    // A stream route: the peers are kept for the test to write to.
    router_.Add("GET", "/events", "test route", [this](const HttpRequest&) {
      HttpResponse response;
      response.open = [this](std::shared_ptr<StreamPeer> peer) {
        std::lock_guard lock(mu_);
        peers_.push_back(std::move(peer));
      };
      return response;
    });
    Start({.port = 0, .io_threads = 1, .worker_threads = 2, .stream_queue_bytes = 64 * 1024});
  }

  void Start(HttpServerOptions options) {
    server_.reset();
    auto server =
        HttpServer::Start([this](const HttpRequest& r) { return router_.Handle(r); }, options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  // Waits for `n` stream peers to be open.
  std::vector<std::shared_ptr<StreamPeer>> Peers(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu_);
        if (peers_.size() >= n) return peers_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu_);
    return peers_;
  }

  template <typename Predicate>
  static bool Eventually(Predicate predicate,
                         std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (predicate()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return predicate();
  }

  std::atomic<uint64_t> head_{1000};
  ProgressSignal progress_{"test", [this] { return head_.load(); }};
  std::atomic<int> calls_{0};
  Router router_;
  std::mutex mu_;
  std::vector<std::shared_ptr<StreamPeer>> peers_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(StreamsTest, ProgressSignalRunsWaitersOnceInPositionOrderAndForgetsCancelled) {
  ProgressSignal signal("unit", [] { return uint64_t{100}; });
  std::vector<int> ran;
  signal.WhenReached(3, [&] { ran.push_back(3); });
  const auto cancelled = signal.WhenReached(2, [&] { ran.push_back(-2); });
  signal.WhenReached(1, [&] { ran.push_back(1); });
  EXPECT_EQ(signal.waiting(), 3u);
  EXPECT_TRUE(signal.Cancel(cancelled));
  EXPECT_FALSE(signal.Cancel(cancelled));
  signal.Advance(2);
  EXPECT_EQ(ran, std::vector<int>{1});
  signal.Advance(1);  // Lower (a rebuilt model swapped in): recorded, nothing runs twice.
  EXPECT_EQ(signal.reached(), 1u);
  signal.Advance(5);
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
  EXPECT_EQ(signal.WhenReached(4, [&] { ran.push_back(4); }), 0u);  // Reached: at once.
  EXPECT_EQ(ran, (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(signal.waiting(), 0u);
}

TEST_F(StreamsTest, AThousandParkedRequestsHoldNoThreadAndWakeWhenTheirPositionComes) {
  const int threads_before = ThreadCount();
  std::vector<std::string> targets;
  for (int i = 0; i < 1000; ++i) targets.push_back("/wait/" + std::to_string(i < 500 ? 10 : 20));
  ManyRequests requests(server_->port(), targets);
  ASSERT_TRUE(Eventually([&] { return server_->stats().parked == 1000; }))
      << server_->stats().parked << " parked";
  // The client's one thread is the only new one: parking took none.
  EXPECT_EQ(ThreadCount(), threads_before + 1);
  EXPECT_EQ(progress_.waiting(), 1000u);

  progress_.Advance(10);
  ASSERT_TRUE(Eventually([&] { return requests.Answered() == 500; }));
  EXPECT_EQ(server_->stats().parked, 500u);
  const auto woken = std::chrono::steady_clock::now();
  progress_.Advance(20);
  ASSERT_EQ(requests.WaitAll(), 1000u);
  for (int status : requests.Statuses()) EXPECT_EQ(status, 200);
  EXPECT_EQ(server_->stats().parked, 0u);
  EXPECT_EQ(progress_.waiting(), 0u);
  std::printf("500 parked requests answered %.1f ms after their position came\n",
              std::chrono::duration<double, std::milli>(requests.LastAnswer() - woken).count());
}

TEST_F(StreamsTest, AParkedRequestWhosePositionDoesNotComeIsAnsweredAtItsDeadline) {
  const auto start = std::chrono::steady_clock::now();
  Reply reply = Call(server_->port(), http::verb::get, "/wait/50?timeout_ms=150");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body["reason"], "UNAVAILABLE");
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_EQ(calls_.load(), 2);         // Parked once, then answered.
  EXPECT_EQ(progress_.waiting(), 0u);  // Its waiter is gone with it.
  EXPECT_EQ(server_->stats().parked, 0u);
}

TEST_F(StreamsTest, ShutdownAnswersParkedRequestsInsteadOfWaitingForThem) {
  ManyRequests requests(server_->port(), {"/wait/70", "/wait/80"});
  ASSERT_TRUE(Eventually([&] { return server_->stats().parked == 2; }));
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(requests.WaitAll(), 2u);
  for (int status : requests.Statuses()) EXPECT_EQ(status, 503);
  EXPECT_EQ(progress_.waiting(), 0u);
}

TEST_F(StreamsTest, AFullWorkerQueueIsAnswered503WithRetryAfter) {
  Start({.port = 0, .io_threads = 1, .worker_threads = 1, .max_queued = 2});
  ManyRequests requests(server_->port(), std::vector<std::string>(8, "/slow"));
  ASSERT_EQ(requests.WaitAll(), 8u);
  int ok = 0, busy = 0;
  for (int status : requests.Statuses()) {
    ok += status == 200;
    busy += status == 503;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(ok + busy, 8);
  EXPECT_EQ(server_->stats().refused, static_cast<uint64_t>(busy));
  Reply after = Call(server_->port(), http::verb::get, "/slow");
  EXPECT_EQ(after.status, 200);  // The queue drained: served again.
}

TEST_F(StreamsTest, AStreamRouteIsAWebSocket) {
  WsClient client;
  ASSERT_EQ(client.Connect(server_->port(), "/events"), 101);
  auto peers = Peers(1);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0]->Send(std::make_shared<const std::string>("hello")));
  EXPECT_TRUE(peers[0]->Send(std::make_shared<const std::string>("world")));
  EXPECT_EQ(client.Read().value_or(""), "hello");
  EXPECT_EQ(client.Read().value_or(""), "world");
  EXPECT_EQ(server_->stats().streams, 1u);
  peers[0]->Close();
  EXPECT_FALSE(client.Read(std::chrono::seconds(5)).has_value());  // Closed by the server.
  EXPECT_TRUE(Eventually([&] { return server_->stats().streams == 0; }));
}

TEST_F(StreamsTest, AClientThatLeavesClosesItsPeer) {
  {
    WsClient client;
    ASSERT_EQ(client.Connect(server_->port(), "/events"), 101);
    ASSERT_EQ(Peers(1).size(), 1u);
  }  // The client's socket closes.
  auto peer = Peers(1)[0];
  EXPECT_TRUE(Eventually([&] { return peer->closed(); }));
  EXPECT_FALSE(peer->Send(std::make_shared<const std::string>("anyone?")));
}

TEST_F(StreamsTest, ASlowReaderIsDroppedWhileAFastOneGetsEverything) {
  WsClient fast, slow;
  ASSERT_EQ(fast.Connect(server_->port(), "/events"), 101);
  ASSERT_EQ(Peers(1).size(), 1u);
  ASSERT_EQ(slow.Connect(server_->port(), "/events"), 101);  // Never reads.
  auto peers = Peers(2);
  ASSERT_EQ(peers.size(), 2u);
  // Enough to fill the slow client's socket buffers and then its 64 KiB
  // queue; paced on the fast one's queue, as a producer that keeps up does.
  constexpr int kMessages = 40'000;
  const auto kib = std::make_shared<const std::string>(1024, 'x');
  std::atomic<int> received{0};
  std::thread reader([&] {
    while (received < kMessages) {
      auto message = fast.Read();
      if (!message) break;
      ++received;
    }
  });
  bool slow_refused = false;
  for (int i = 0; i < kMessages; ++i) {
    while (peers[0]->queued_bytes() > 32 * 1024) std::this_thread::yield();
    if (!peers[0]->Send(kib)) {
      ADD_FAILURE() << "the fast reader was dropped at message " << i;
      break;
    }
    if (!peers[1]->Send(kib)) slow_refused = true;
  }
  reader.join();
  EXPECT_EQ(received.load(), kMessages);
  EXPECT_TRUE(slow_refused);
  EXPECT_TRUE(peers[1]->closed());
  EXPECT_EQ(server_->stats().dropped, 1u);
  EXPECT_FALSE(peers[0]->closed());
}

TEST_F(StreamsTest, AStreamRouteServesEventSourceClientsAndRefusesPlainRequests) {
  Reply plain = Call(server_->port(), http::verb::get, "/events");
  EXPECT_EQ(plain.status, 400);
  EXPECT_NE(plain.raw.find("WebSocket"), std::string::npos);

  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  const std::string request =
      "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  asio::write(stream.socket(), asio::buffer(request));
  auto peers = Peers(1);
  ASSERT_EQ(peers.size(), 1u);
  peers[0]->Send(std::make_shared<const std::string>("one\ntwo"));
  std::string received;
  char chunk[1024];
  stream.expires_after(std::chrono::seconds(10));
  while (received.find("data: two\n\n") == std::string::npos) {
    beast::error_code ec;
    const size_t n = stream.socket().read_some(asio::buffer(chunk), ec);
    if (ec) break;
    received.append(chunk, n);
  }
  EXPECT_NE(received.find("HTTP/1.1 200 OK"), std::string::npos) << received;
  EXPECT_NE(received.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(received.find("data: one\ndata: two\n\n"), std::string::npos) << received;
}

}  // namespace
}  // namespace remotegpu::api
