// The HTTP server core over real loopback sockets.
#include "api/http/http_server.h"

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/router.h"
#include "tests/api/http_client.h"

namespace remotegpu::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

using testing_http::Call;
using testing_http::Exchange;
using testing_http::Reply;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/things/:id", "test route", [](const HttpRequest& r) {
      return OkResponse(r, {{"id", r.params.at("id")}, {"q", r.Query("q")}});
    });
    router_.Add("POST", "/things", "test route", [](const HttpRequest& r) {
      auto body = ParseJsonObject(r);
      if (!body.ok()) return StatusResponse(r, body.status());
      return OkResponse(r, *body, 201);
    });
    router_.Add("GET", "/list", "test route", [](const HttpRequest& r) {
      auto paging = ParsePaging(r, {"name", "created_at"}, "name");
      if (!paging.ok()) return StatusResponse(r, paging.status());
      return OkResponse(r, {{"page", paging->page}, {"pageSize", paging->page_size}});
    });
    router_.Add("GET", "/slow", "test route", [](const HttpRequest& r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return OkResponse(r, "done");
    });
    // 1,000 chunks of 1 KiB, or two and then a failure.
    router_.Add("GET", "/export/:how", "test route", [](const HttpRequest& r) {
      HttpResponse response;
      response.content_type = "text/csv";
      const bool breaks = r.params.at("how") == "broken";
      response.stream = [breaks](const HttpResponse::Emit& emit) -> Status {
        const std::string kib(1024, 'x');
        for (int i = 0; i < 1000; ++i) {
          if (breaks && i == 2) return Status::IoError("the database went away");
          if (!emit(kib)) return Status::Ok();
        }
        return Status::Ok();
      };
      return response;
    });
    auto server =
        HttpServer::Start([this](const HttpRequest& r) { return router_.Handle(r); },
                          {.port = 0, .io_threads = 1, .worker_threads = 2, .body_limit = 1024});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, RoutesWithParamsAndQueryInTheEnvelope) {
  Reply reply = Call(server_->port(), http::verb::get, "/things/42?q=a%20b");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["code"], 0);
  EXPECT_EQ(reply.body["data"]["id"], "42");
  EXPECT_EQ(reply.body["data"]["q"], "a b");
  EXPECT_EQ(reply.body["traceId"].get<std::string>().size(), 36u);
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  Reply missing = Call(server_->port(), http::verb::get, "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["reason"], "NOT_FOUND");
  Reply wrong = Call(server_->port(), http::verb::delete_, "/things/1");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body["reason"], "METHOD_NOT_ALLOWED");
}

TEST_F(HttpServerTest, MalformedJsonIs400AndHugeBodiesAre413) {
  Reply bad = Call(server_->port(), http::verb::post, "/things", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["reason"], "INVALID_ARGUMENT");
  EXPECT_NE(bad.body["message"].get<std::string>().find("not valid JSON"), std::string::npos);
  Reply array = Call(server_->port(), http::verb::post, "/things", "[1]");
  EXPECT_EQ(array.status, 400);
  Reply huge = Call(server_->port(), http::verb::post, "/things",
                    "{\"x\":\"" + std::string(4096, 'a') + "\"}");
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(huge.body["reason"], "BODY_TOO_LARGE");
  EXPECT_EQ(Call(server_->port(), http::verb::post, "/things", "{\"a\":1}").status, 201);
}

TEST_F(HttpServerTest, PagingParametersAreChecked) {
  EXPECT_EQ(Call(server_->port(), http::verb::get, "/list?page=2&pageSize=50").body["data"]["page"],
            2);
  for (const char* bad : {"/list?page=0", "/list?pageSize=x", "/list?pageSize=501",
                          "/list?sortBy=secret", "/list?order=up"}) {
    Reply reply = Call(server_->port(), http::verb::get, bad);
    EXPECT_EQ(reply.status, 400) << bad;
  }
  EXPECT_NE(Call(server_->port(), http::verb::get, "/list?sortBy=secret")
                .body["message"]
                .get<std::string>()
                .find("sortBy"),
            std::string::npos);
}

TEST_F(HttpServerTest, StreamedAnswersArriveChunkedAndWholeOnAKeptConnection) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
  Reply exported = Exchange(stream, http::verb::get, "/export/whole");
  EXPECT_EQ(exported.status, 200);
  EXPECT_EQ(exported.Header("transfer-encoding"), "chunked");
  EXPECT_EQ(exported.raw, std::string(1000 * 1024, 'x'));
  EXPECT_EQ(Exchange(stream, http::verb::get, "/things/7").status, 200);  // Same connection.
}

// A producer that fails after the headers went out cannot change the status:
// the body ends without its last chunk, so the client sees a broken transfer
// rather than a short file that looks whole.
TEST_F(HttpServerTest, AStreamThatFailsMidwayIsABrokenTransferNotAShortFile) {
  EXPECT_THROW(Call(server_->port(), http::verb::get, "/export/broken"),
               boost::system::system_error);
  EXPECT_EQ(Call(server_->port(), http::verb::get, "/things/7").status, 200);  // Still serving.
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Exchange(stream, http::verb::get, "/things/" + std::to_string(i)).status, 200);
  }
}

TEST_F(HttpServerTest, ShutdownFinishesInFlightRequestsThenRefusesNewOnes) {
  Reply slow;
  std::thread client([&] { slow = Call(server_->port(), http::verb::get, "/slow"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // The request is in the handler.
  const uint16_t port = server_->port();
  server_->Shutdown();
  client.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body["data"], "done");
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.socket().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_TRUE(ec) << "the listener should be closed";
}

TEST(HttpServerInlineTest, InlineAnswersDoNotWaitForBusyWorkers) {
  // Both workers are held inside a blocking handler; a request the inline
  // handler answers still gets through on the I/O thread.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> blocked{0};
  std::atomic<int> worker_calls{0};
  auto server = HttpServer::Start(
      [&](const HttpRequest& r) {
        ++worker_calls;
        if (r.path == "/block") {
          ++blocked;
          released.wait();
        }
        return OkResponse(r, "worker");
      },
      {.port = 0, .io_threads = 1, .worker_threads = 2},
      [](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.path == "/inline") return OkResponse(r, "inline");
        return std::nullopt;
      });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  std::vector<std::thread> clients;
  std::vector<Reply> blocked_replies(2);
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] { blocked_replies[i] = Call(port, http::verb::get, "/block"); });
  }
  while (blocked.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  Reply inline_reply = Call(port, http::verb::get, "/inline");
  EXPECT_EQ(inline_reply.status, 200);
  EXPECT_EQ(inline_reply.body["data"], "inline");
  EXPECT_EQ(worker_calls.load(), 2);  // Only the blocked ones.

  release.set_value();
  for (auto& client : clients) client.join();
  for (const auto& reply : blocked_replies) EXPECT_EQ(reply.body["data"], "worker");
  EXPECT_EQ(Call(port, http::verb::get, "/other").body["data"], "worker");
}

}  // namespace
}  // namespace remotegpu::api
