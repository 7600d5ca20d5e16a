// A hostile client against the real `remotegpu serve` over loopback: each
// class of attack from the hardening issue, with the fix's rule at the edge
// or on the command side. After every test the server is alive, /readyz is
// 200 and nothing a refused request carried was written; at the end the log's
// hash chain verifies with `remotegpu-replay verify`.
#include <chrono>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "api/http/envelope.h"
#include "api/http/gateway.h"
#include "api/http/router.h"
#include "eventstore/event_store.h"
#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

// One raw request, written as given (any method token, any header size), and
// the server's answer; status 0 when the connection failed.
Reply RawExchange(uint16_t port, const std::string& request_text) {
  boost::asio::io_context io;
  testing_http::beast::tcp_stream stream(io);
  stream.connect(testing_http::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  // The server may answer and close before it read everything (a header
  // over its limit): a failed write is not the test's failure, the answer is.
  testing_http::beast::error_code written;
  boost::asio::write(stream.socket(), boost::asio::buffer(request_text), written);
  testing_http::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  testing_http::beast::error_code ec;
  http::read(stream, buffer, response, ec);
  if (ec) return {};
  return {static_cast<int>(response.result_int()),
          json::parse(response.body(), nullptr, false),
          response.body(),
          {}};
}

// `depth` arrays nested in one another: "[[[…]]]".
std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---- The edge's rules on their own ----

TEST(EdgeRules, UnsafeJsonCountsDepthOutsideStringsAndFindsNuls) {
  EXPECT_FALSE(UnsafeJson(Nested(32), 32));
  EXPECT_TRUE(UnsafeJson(Nested(33), 32));
  EXPECT_TRUE(UnsafeJson(std::string(1'000'000, '{'), 32));  // Unbalanced: still counted.
  EXPECT_FALSE(UnsafeJson(R"({"a":")" + std::string(100, '[') + R"("})", 32));
  EXPECT_FALSE(UnsafeJson(R"({"a":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})", 32));
  EXPECT_TRUE(UnsafeJson(R"({"a":"x\u0000"})", 32));
  EXPECT_FALSE(UnsafeJson(R"({"a":"x\\u0000"})", 32));  // An escaped backslash, then text.
  EXPECT_FALSE(UnsafeJson(R"({"a":"\u0001"})", 32));
}

TEST(EdgeRules, Utf8IsCheckedStrictly) {
  EXPECT_TRUE(IsUtf8("plain ascii"));
  EXPECT_TRUE(IsUtf8("\xe5\x8d\x8e\xe4\xb8\x9c \xf0\x9f\x98\x80"));  // 华东 😀
  for (const std::string bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80", "\xe5\x8d", "\x80"}) {
    EXPECT_FALSE(IsUtf8(bad)) << bad;
  }
}

TEST(EdgeRules, OneGrammarForIdsAClientNames) {
  for (const char* id : {"env-1", "env-a_B-9", "env-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}) {
    EXPECT_TRUE(eventstore::ValidateNewStreamId(id, "env").ok()) << id;
  }
  for (const std::string& id :
       std::vector<std::string>{"env-", "env-a/b", "env-a?b", "env-a#b", "env-a%2F", "env-..",
                                "env-a.b", "env-a b", "env-\xc3\xa9", "host-1", "env",
                                "env-" + std::string(65, 'a'), std::string("env-a\0b", 7)}) {
    EXPECT_FALSE(eventstore::ValidateNewStreamId(id, "env").ok()) << id;
  }
  EXPECT_TRUE(eventstore::ValidateNewStreamId("env-" + std::string(64, 'a'), "env").ok());
  EXPECT_TRUE(UsablePathParameter("GPU-8f3c:00.0"));
  for (const char* segment : {"", ".", "..", "a%2Fb", "a b", "a\"b", "\x01"}) {
    EXPECT_FALSE(UsablePathParameter(segment)) << segment;
  }
}

TEST(EdgeRules, EveryUserAndKeyOfACustomerDrawsFromOneBucket) {
  ManualClock clock(1'000'000'000);
  RateLimiter limiter(/*per_second=*/1, /*burst=*/2, clock);
  const Admission admit = RateLimitAdmission(limiter);
  auto request = [](const std::string& user, const std::string& key) {
    HttpRequest r;
    r.identity = {
        .authenticated = true, .user_id = user, .customer_id = "customer-acme", .api_key_id = key};
    return r;
  };
  EXPECT_FALSE(admit(request("user-1", ""), {}));
  EXPECT_FALSE(admit(request("user-2", "apikey-a"), {}));
  EXPECT_TRUE(admit(request("user-3", "apikey-b"), {}));  // A new key adds no tokens.
  HttpRequest other = request("user-9", "");
  other.identity.customer_id = "customer-globex";
  EXPECT_FALSE(admit(other, {}));
}

// ---- Against the real server ----

class HostileApiTest : public ApiTest {
 protected:
  // Stops the server, then checks that the log written under attack still
  // verifies (hash chain, positions, versions).
  static void TearDownTestSuite() {
    // The read models caught up with the log first: a server stops its
    // projections where they are, and verify compares at the log's head.
    for (int i = 0; i < 500; ++i) {
      const Reply ready = Get("/readyz");
      const auto& data = ready.body["data"];
      bool caught_up = ready.status == 200;
      for (const auto& [name, projection] : data["projections"].items()) {
        caught_up &= projection["position"] == data["log_position"];
      }
      if (caught_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(WEXITSTATUS(testing_process::Terminate(*server_)), 0);
    // The log's chain, and every read model equal to a fresh fold of it.
    auto verify = Subprocess::Spawn(
        {REMOTEGPU_REPLAY_BIN, "verify", "--read-models", "--data-dir", dir_->Sub("data")},
        {.capture_stdout = true, .merge_stderr = true});
    ASSERT_TRUE(verify.ok());
    std::string output = testing_process::ReadUntil(*verify, "log ok");
    const int status = verify->Wait();
    output += verify->ReadAllStdout();
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("log ok"), std::string::npos) << output;
    delete server_;
    delete dir_;
  }

  void TearDown() override {
    // Whatever the test threw at it: alive, ready, answering.
    EXPECT_EQ(Get("/healthz").status, 200);
    Reply ready = Get("/readyz");
    EXPECT_EQ(ready.status, 200) << ready.raw;
  }

  static Reply PostRaw(const std::string& target, const std::string& body,
                       const std::map<std::string, std::string>& headers = {}) {
    return Call(port_, http::verb::post, target, body, headers);
  }

  // A host with two A100s whose UUIDs the metrics tests name.
  static void RegisterHost(const std::string& id) {
    json form = HostForm(id);
    form["gpus"][0]["uuid"] = "GPU-" + id + "-0";
    form["gpus"][1]["uuid"] = "GPU-" + id + "-1";
    Reply registered = Post("/api/cmdb/hosts", form);
    ASSERT_EQ(registered.status, 201) << registered.raw;
  }

  static json SpecForm(const std::string& id) {
    return {{"spec_id", id},  {"name", "A100 x1"},        {"gpu_model", "A100"},
            {"gpu_count", 1}, {"cpu_cores", 8},           {"memory_gb", 64},
            {"listed", true}, {"price_per_hour", "12.50"}};
  }

  static int64_t NowMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // A metrics batch of one sample of `host`'s GPU 0, with `gpu` merged in.
  static json Batch(const std::string& host, const json& gpu = json::object(),
                    const json& sample = json::object()) {
    json g = {{"index", 0},         {"uuid", "GPU-" + host + "-0"},
              {"accessible", true}, {"utilizationPercent", 40},
              {"temperatureC", 50}, {"hasTemperature", true}};
    if (gpu.is_object()) g.update(gpu);
    json s = {{"collectedAtUs", std::to_string(NowMicros())},
              {"cpuUsagePercent", 12.5},
              {"memoryTotalBytes", "1073741824"},
              {"memoryAvailableBytes", "536870912"},
              {"gpus", json::array({g})}};
    if (sample.is_object()) s.update(sample);
    return {{"samples", json::array({s})}};
  }
};

TEST_F(HostileApiTest, BodiesNestedDeeplyAreRefusedBeforeAnyHandlerOnEveryRoute) {
  const uint64_t before = LogPosition();
  // 300,000 levels overflowed a worker's stack before the bound; 33 is the
  // first depth past it.
  const std::string deep = Nested(300'000);
  const std::string env_body =
      R"({"env_id":"env-deep","name":"x","image":"i","command":)" + deep + "}";
  for (const std::string& body :
       std::vector<std::string>{env_body, Nested(33), R"({"a":)" + Nested(40) + "}"}) {
    for (const char* target : {"/api/environments", "/api/cmdb/hosts", "/api/auth/login",
                               "/api/billing/recharge", "/internal/hosts/host-x/metrics"}) {
      Reply refused = PostRaw(target, body);
      EXPECT_EQ(refused.status, 400) << target << ": " << refused.raw.substr(0, 200);
      EXPECT_EQ(refused.body["reason"], "INVALID_ARGUMENT") << target;
    }
  }
  EXPECT_EQ(LogPosition(), before);
  // Brackets inside strings are text, not depth; within the bound a body is
  // read as before.
  json brackets = HostForm("host-brackets");
  brackets["name"] = std::string(200, '[');
  EXPECT_EQ(Post("/api/cmdb/hosts", brackets).status, 201);
  EXPECT_EQ(PostRaw("/api/environments", R"({"unknown":)" + Nested(20) + "}").body["message"],
            "unknown field 'unknown'");
}

TEST_F(HostileApiTest, NulCharactersNeverReachStorage) {
  const uint64_t before = LogPosition();
  json form = HostForm("host-nul");
  form["name"] = std::string("a\0b", 3);  // Dumped as "a\u0000b".
  Reply nul = Post("/api/cmdb/hosts", form);
  EXPECT_EQ(nul.status, 400) << nul.raw;
  EXPECT_NE(nul.body["message"].get<std::string>().find("NUL"), std::string::npos) << nul.raw;
  EXPECT_EQ(LogPosition(), before);
  form["name"] = "ab";
  EXPECT_EQ(Post("/api/cmdb/hosts", form).status, 201);
}

TEST_F(HostileApiTest, IdsWithUrlSyntaxAreRefusedEverywhereAClientNamesOne) {
  RegisterHost("host-ids");
  const uint64_t before = LogPosition();
  const std::vector<std::string> bad_suffixes = {
      "a/b", "a?b", "a#b", "a%2Fb", "..", "a.b", "a b", std::string(65, 'x'), "", "\xc3\xa9"};
  for (const std::string& suffix : bad_suffixes) {
    Reply env = Post("/api/environments", {{"env_id", "env-" + suffix},
                                           {"name", "x"},
                                           {"owner", "acme"},
                                           {"image", "i"},
                                           {"cpu_cores", 1},
                                           {"memory_mb", 64}});
    EXPECT_TRUE(env.status == 400 || env.status == 422) << suffix << ": " << env.raw;
    Reply host = Post("/api/cmdb/hosts", HostForm("host-" + suffix));
    EXPECT_TRUE(host.status == 400 || host.status == 422) << suffix << ": " << host.raw;
    Reply spec = Post("/api/specs", SpecForm("spec-" + suffix));
    EXPECT_TRUE(spec.status == 400 || spec.status == 422) << suffix << ": " << spec.raw;
  }
  EXPECT_EQ(LogPosition(), before) << "a refused id wrote something";
  // In a path, URL syntax never reaches a handler: 400, not a lookup.
  for (const char* target : {"/api/environments/env-a%2Fb", "/api/environments/env-a%3Fb",
                             "/api/cmdb/hosts/..", "/api/environments/env-%00"}) {
    Reply refused = Get(target);
    EXPECT_EQ(refused.status, 400) << target << ": " << refused.raw;
    EXPECT_EQ(refused.body["reason"], "INVALID_ARGUMENT") << target;
  }
  // The agent's status report, the path a crafted id once turned against
  // another tenant's environment.
  Reply status = Post("/internal/environments/env-a%2F..%2Fx/status", {{"status", "failed"}});
  EXPECT_EQ(status.status, 400) << status.raw;
  EXPECT_EQ(status.body["reason"], "INVALID_ARGUMENT");
  // Query values are decoded: bytes that are not text never reach a query.
  for (const char* target : {"/api/cmdb/hosts?region=%FF", "/api/cmdb/hosts?region=a%00b",
                             "/api/environments?owner=%C0%AF", "/api/cmdb/hosts?%FF=1"}) {
    Reply refused = Get(target);
    EXPECT_EQ(refused.status, 400) << target << ": " << refused.raw;
  }
  EXPECT_EQ(Get("/api/cmdb/hosts?region=%E5%8D%8E%E4%B8%9C").status, 200);  // 华东
  // Well-formed ids still work.
  Reply fine = Post("/api/environments", {{"env_id", "env-Fine_id-1"},
                                          {"name", "x"},
                                          {"owner", "acme"},
                                          {"image", "i"},
                                          {"cpu_cores", 1},
                                          {"memory_mb", 64}});
  EXPECT_EQ(fine.status, 201) << fine.raw;
  EXPECT_EQ(Post("/api/specs", SpecForm("spec-Fine_id-1")).status, 201);
  EXPECT_EQ(Post("/api/cmdb/hosts", HostForm("host-Fine_id-1")).status, 201);
}

// Every route with an id in its path, from the OpenAPI document, with URL
// syntax in each id: 400 before any handler, nothing written.
TEST_F(HostileApiTest, EveryRoutesPathIdsWithUrlSyntaxAre400) {
  Reply document = Get("/api/openapi.json");
  ASSERT_EQ(document.status, 200);
  const uint64_t before = LogPosition();
  int swept = 0;
  for (const auto& [path, operations] : document.body["paths"].items()) {
    if (path.find('{') == std::string::npos) continue;
    for (const char* id : {"a%2F..%2Fb", "a%3Fb", "..", "a%23b", "%00"}) {
      std::string target;
      for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '{') {
          target += path[i];
          continue;
        }
        i = path.find('}', i);
        target += id;
      }
      for (const auto& [method, operation] : operations.items()) {
        const http::verb verb = http::string_to_verb(method == "get"      ? "GET"
                                                     : method == "post"   ? "POST"
                                                     : method == "put"    ? "PUT"
                                                     : method == "delete" ? "DELETE"
                                                                          : "PATCH");
        Reply answer = Call(port_, verb, target, verb == http::verb::get ? "" : "{}");
        EXPECT_EQ(answer.status, 400) << method << " " << target << ": " << answer.raw;
        ++swept;
      }
    }
  }
  EXPECT_GT(swept, 100);
  EXPECT_EQ(LogPosition(), before);
}

TEST_F(HostileApiTest, MethodsNoRouteUsesGetAFixedAnswerAndNoNewMetricsLabels) {
  std::mt19937 random(7);
  for (int i = 0; i < 300; ++i) {
    std::string method;
    for (int c = 0; c < 12; ++c) method += static_cast<char>('A' + random() % 26);
    Reply answer = RawExchange(port_, method + " /api/cmdb/hosts HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(answer.status, 501) << method << ": " << answer.raw;
    EXPECT_EQ(answer.body["reason"], "NOT_IMPLEMENTED");
  }
  // Methods HTTP defines but no route uses count under one label.
  EXPECT_EQ(RawExchange(port_, "PROPFIND /api/cmdb/hosts HTTP/1.1\r\nHost: x\r\n\r\n").status, 405);
  const std::string metrics = Get("/metrics").raw;
  EXPECT_EQ(metrics.find("method=\"PROPFIND\""), std::string::npos);
  EXPECT_NE(metrics.find("method=\"OTHER\""), std::string::npos);
  size_t labels = 0;
  for (size_t at = metrics.find("remotegpu_http_requests_total{"); at != std::string::npos;
       at = metrics.find("remotegpu_http_requests_total{", at + 1)) {
    ++labels;
  }
  EXPECT_LT(labels, 40u) << "label sets grew with the client's methods";
}

TEST_F(HostileApiTest, HeadersOverTheLimitGet431) {
  Reply answer = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                        std::string(64 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(answer.status, 431) << answer.raw.substr(0, 200);
}

TEST_F(HostileApiTest, PoisonedTelemetryIsRefusedNamingTheFieldAndGoodSamplesFlow) {
  RegisterHost("host-tele");
  const std::string target = "/internal/hosts/host-tele/metrics";
  struct Case {
    json gpu, sample;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{}, {{"memoryTotalBytes", "18446744073709551615"}}, "samples[0].memory_total_bytes"},
      {{{"temperatureC", 1e300}}, {}, "samples[0].gpus[0].temperature_c"},
      {{{"utilizationPercent", -1}}, {}, "samples[0].gpus[0].utilization_percent"},
      {{{"powerW", 1e39}}, {}, "samples[0].gpus[0].power_w"},
      {{{"eccCorrectedErrors", "9223372036854775808"}}, {}, "samples[0].gpus[0].ecc_corrected"},
      {{{"xidErrors", {4294967295u}}}, {}, "samples[0].gpus[0].xid_errors"},
      {{}, {{"cpuCores", 4294967295u}}, "samples[0].cpu_cores"},
      {{{"uuid", "GPU-someone-elses"}}, {}, "samples[0].gpus[0].uuid is not a GPU of this host"},
      {{{"index", 4000000000u}}, {}, "samples[0].gpus[0].index"},
  };
  for (const Case& c : cases) {
    Reply refused = Post(target, Batch("host-tele", c.gpu, c.sample));
    EXPECT_EQ(refused.status, 400) << c.field << ": " << refused.raw;
    EXPECT_NE(refused.body["message"].get<std::string>().find(c.field), std::string::npos)
        << refused.raw;
  }
  // A NUL in a UUID is refused at the edge, before protobuf sees it.
  std::string nul = Batch("host-tele").dump();
  nul.replace(nul.find("GPU-host-tele-0"), 15, "GPU-\\u0000");
  EXPECT_EQ(PostRaw(target, nul).status, 400);
  // Another host's GPU is refused too.
  RegisterHost("host-tele-2");
  EXPECT_EQ(Post(target, Batch("host-tele", {{"uuid", "GPU-host-tele-2-0"}})).status, 400);

  // A GPU the driver stopped answering for comes without its UUID: taken by
  // its index (and judged: the host is unhealthy), an unknown index refused.
  json lost = Batch("host-tele");
  lost["samples"][0]["gpus"] = {{{"index", 0}}, {{"index", 1}}};
  Reply unanswered = Post(target, lost);
  ASSERT_EQ(unanswered.status, 200) << unanswered.raw;
  EXPECT_EQ(unanswered.body["data"]["health_reported"], true) << unanswered.raw;
  lost["samples"][0]["gpus"] = {{{"index", 7}}};
  EXPECT_EQ(Post(target, lost).status, 400);

  // None of that stopped the fleet's metrics: a good batch is stored.
  Reply good = Post(target, Batch("host-tele"));
  ASSERT_EQ(good.status, 200) << good.raw;
  EXPECT_EQ(good.body["data"]["samples"], 1);
  for (int i = 0; i < 100; ++i) {
    Reply series = Get("/api/monitoring/gpus/GPU-host-tele-0/metrics");
    ASSERT_EQ(series.status, 200) << series.raw;
    if (series.body["data"]["count"] == 1) break;  // The UUID-less samples are not this GPU's.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Get("/api/monitoring/gpus/GPU-host-tele-0/metrics").body["data"]["count"], 1);
  EXPECT_NE(Get("/metrics").raw.find("remotegpu_metrics_dead_letter_batches_total 0"),
            std::string::npos);
}

TEST_F(HostileApiTest, AnOrderIdIsUniqueAcrossCustomersAndTheBillingProjectionKeepsGoing) {
  std::string acme, globex;
  CustomerUser("Acme", "acme-order", &acme);
  CustomerUser("Globex", "globex-order", &globex);
  auto recharge = [](const std::string& customer, const std::string& order) {
    return Post("/api/billing/recharge", {{"customer_id", customer},
                                          {"amount", "100.00"},
                                          {"payment_method", "manual"},
                                          {"order_id", order}});
  };
  Reply first = recharge(acme, "order-shared-1");
  ASSERT_EQ(first.status, 201) << first.raw;
  const uint64_t before = LogPosition();
  Reply second = recharge(globex, "order-shared-1");
  EXPECT_EQ(second.status, 409) << second.raw;
  EXPECT_EQ(second.body["reason"], "ALREADY_EXISTS");
  EXPECT_EQ(LogPosition(), before) << "the refused recharge wrote something";
  for (const char* order : {"order/1", "order?1", "order%1", "order.1"}) {
    EXPECT_EQ(recharge(globex, order).status, 400) << order;
  }
  EXPECT_EQ(LogPosition(), before);
  // The billing read model took the first and is not stuck on the second.
  Reply third = recharge(globex, "order-globex-2");
  ASSERT_EQ(third.status, 201) << third.raw;
  Reply payment =
      Get("/api/billing/payments/order-globex-2", third.body["data"]["position"].get<uint64_t>());
  EXPECT_EQ(payment.status, 200) << payment.raw;
  Reply projections = Get("/api/admin/projections");
  for (const auto& projection : projections.body["data"]["projections"]) {
    EXPECT_FALSE(projection["failing"].get<bool>()) << projection.dump();
  }
}

TEST_F(HostileApiTest, APositionBeyondTheLogIsAnsweredAtOnceNamingTheHead) {
  const uint64_t head = LogPosition();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  std::vector<Reply> replies(80);
  // More waiters than the server has workers: none may hold one.
  for (size_t i = 0; i < replies.size(); ++i) {
    clients.emplace_back([&, i] {
      replies[i] = Call(port_, http::verb::get, "/api/environments", "",
                        {{"X-Min-Position", std::to_string(head + 1'000'000)}});
    });
  }
  for (auto& client : clients) client.join();
  const auto took = std::chrono::steady_clock::now() - start;
  for (const Reply& reply : replies) {
    EXPECT_EQ(reply.status, 412) << reply.raw;
    EXPECT_EQ(reply.body["reason"], "PRECONDITION_FAILED");
    EXPECT_NE(reply.body["message"].get<std::string>().find("head"), std::string::npos);
  }
  // Each used to sleep out the 5 s wait on a worker.
  EXPECT_LT(took, std::chrono::seconds(4));
  for (const char* bad : {"abc", "-1", "99999999999999999999999", "1e3", "0x10"}) {
    Reply refused =
        Call(port_, http::verb::get, "/api/environments", "", {{"X-Min-Position", bad}});
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.raw;
  }
  // A position the log has reached is still waited for and served.
  EXPECT_EQ(Get("/api/environments", head).status, 200);
}

TEST_F(HostileApiTest, MalformedTokensAreAlways401) {
  auto b64 = [](const std::string& text) {
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    int value = 0, bits = -6;
    for (unsigned char c : text) {
      value = (value << 8) + c;
      bits += 8;
      while (bits >= 0) {
        out.push_back(kAlphabet[(value >> bits) & 0x3F]);
        bits -= 6;
      }
    }
    if (bits > -6) out.push_back(kAlphabet[((value << 8) >> (bits + 8)) & 0x3F]);
    return out;
  };
  const std::string payload = b64(R"({"sub":"user-x","sid":"s","exp":9999999999,"iat":1})");
  for (const std::string& header : std::vector<std::string>{
           R"({"alg":7,"kid":"k"})", R"({"alg":"HS256","kid":{"a":1}})", R"({"alg":null})",
           R"({"alg":["HS256"],"kid":"k"})", R"({"alg":"none"})", R"([1,2])", R"("x")"}) {
    const std::string token = b64(header) + "." + payload + "." + b64("sig");
    Reply answer = As("Bearer " + token, http::verb::get, "/api/users/me");
    EXPECT_EQ(answer.status, 401) << header << ": " << answer.raw;
  }
  for (const std::string& junk :
       std::vector<std::string>{"Bearer", "Bearer a.b", "Bearer ...", "Basic x", "Bearer ..x",
                                "Bearer " + std::string(4'000, 'a'), "Bearer a.b.c.d"}) {
    EXPECT_EQ(As(junk, http::verb::get, "/api/users/me").status, 401) << junk.substr(0, 20);
  }
}

TEST_F(HostileApiTest, RequestIdsEnterTheLogOnlyWhenTheyAreSafe) {
  const std::string id = "host-reqid";
  Reply created = Call(port_, http::verb::post, "/api/cmdb/hosts", HostForm(id).dump(),
                       {{"X-Request-Id", "=cmd|' /C calc'!A0"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  Reply changed = Call(port_, http::verb::put, "/api/cmdb/assets/" + id + "/status",
                       json{{"operational_status", "maintenance"}, {"reason", "x"}}.dump(),
                       {{"X-Request-Id", "ok-42.x"}});
  ASSERT_EQ(changed.status, 200) << changed.raw;
  Reply events = Get("/api/audit/events?stream_prefix=" + id + "&order=asc");
  ASSERT_EQ(events.status, 200) << events.raw;
  const auto& list = events.body["data"]["list"];
  ASSERT_GE(list.size(), 1u) << events.raw;
  const std::string first = list[0]["correlation_id"].get<std::string>();
  EXPECT_EQ(first.find('='), std::string::npos) << first;
  EXPECT_EQ(first, list[0]["trace_id"].get<std::string>());
  EXPECT_EQ(list.back()["correlation_id"], "ok-42.x");
}

TEST_F(HostileApiTest, ResetAndMembershipAnswersDoNotRevealOtherTenantsUsernames) {
  std::string acme;
  const std::string acme_token = CustomerUser("Acme", "acme-enum", &acme);
  CustomerUser("Globex", "globex-enum");
  auto confirm = [](const std::string& username) {
    return Anonymous(
        http::verb::post, "/api/auth/password-reset/confirm",
        {{"username", username}, {"code", "12345678"}, {"password", "a good password 8"}});
  };
  Reply known = confirm("globex-enum");
  Reply unknown = confirm("nobody-here");
  EXPECT_EQ(known.status, 401);
  EXPECT_EQ(known.status, unknown.status);
  EXPECT_EQ(known.body["message"], unknown.body["message"]);
  // Five wrong codes void a pending one; the answer stays the same words.
  ASSERT_EQ(
      Anonymous(http::verb::post, "/api/auth/password-reset", {{"username", "globex-enum"}}).status,
      202);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(confirm("globex-enum").body["message"], unknown.body["message"]);

  Reply workspace = As(acme_token, http::verb::post, "/api/workspaces", {{"name", "team"}});
  ASSERT_EQ(workspace.status, 201) << workspace.raw;
  const std::string ws = workspace.body["data"]["workspace_id"].get<std::string>();
  auto invite = [&](const std::string& username) {
    return As(acme_token, http::verb::post, "/api/workspaces/" + ws + "/members",
              {{"username", username}, {"role", "member"}});
  };
  Reply other_tenant = invite("globex-enum");
  Reply nobody = invite("nobody-here");
  EXPECT_EQ(other_tenant.status, 404) << other_tenant.raw;
  EXPECT_EQ(other_tenant.status, nobody.status);
  EXPECT_EQ(other_tenant.body["message"], nobody.body["message"]);
}

// Regression: the outbox kept reset codes in clear in PostgreSQL, which any
// local user could read through the embedded server's trusted socket.
TEST_F(HostileApiTest, ResetCodesAreNeverInPostgresInClear) {
  CustomerUser("Acme", "acme-forgets");
  ASSERT_EQ(Anonymous(http::verb::post, "/api/auth/password-reset", {{"username", "acme-forgets"}})
                .status,
            202);
  Reply queued = Get("/api/admin/notifications");
  ASSERT_EQ(queued.status, 200) << queued.raw;
  const std::string body = queued.body["data"]["list"][0]["body"].get<std::string>();
  ASSERT_NE(body.find("code is "), std::string::npos) << body;
  const std::string code = body.substr(body.find("code is ") + 8, 8);
  std::string password;
  std::getline(std::ifstream(dir_->Sub("data") + "/pg/password"), password);
  pqxx::connection connection("host=" + dir_->Sub("data") +
                              "/pg/run user=postgres dbname=postgres" + " password=" + password);
  pqxx::nontransaction tx(connection);
  const auto rows = tx.exec("SELECT subject || ' ' || body FROM rg_notify.outbox");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::string(rows[0][0].c_str()).find(code), std::string::npos) << rows[0][0].c_str();
}

TEST_F(HostileApiTest, AnApiKeyCannotMintAnother) {
  const std::string token = CustomerUser("Acme", "acme-keys");
  Reply key =
      As(token, http::verb::post, "/api/auth/api-keys", {{"name", "ci"}, {"expires_in", 3600}});
  ASSERT_EQ(key.status, 201) << key.raw;
  const std::string secret = key.body["data"]["key"].get<std::string>();
  Reply minted = Call(port_, http::verb::post, "/api/auth/api-keys",
                      json{{"name", "forever"}}.dump(), {{"X-Api-Key", secret}});
  EXPECT_EQ(minted.status, 403) << minted.raw;
  EXPECT_EQ(minted.body["reason"], "FORBIDDEN");
}

TEST_F(HostileApiTest, HostileBodiesGetSpecific4xxAndWriteNothing) {
  RegisterHost("host-bodies");
  const uint64_t before = LogPosition();
  const json env = {{"env_id", "env-bodies"}, {"name", "x"},    {"owner", "acme"},
                    {"image", "i"},           {"cpu_cores", 1}, {"memory_mb", 64}};
  struct Case {
    std::string target;
    std::string body;
  };
  std::vector<Case> cases;
  auto with = [](json base, const std::string& key, const json& value) {
    base[key] = value;
    return base.dump();
  };
  for (const auto& [target, base] : std::vector<std::pair<std::string, json>>{
           {"/api/environments", env},
           {"/api/cmdb/hosts", HostForm("host-bodies-2")},
           {"/api/admin/customers", {{"name", "n"}, {"quota_level", "pro"}}},
           {"/api/specs", SpecForm("spec-bodies")}}) {
    cases.push_back({target, with(base, "surprise", 1)});
    cases.push_back({target, with(base, "name", 7)});
    cases.push_back({target, with(base, "name", std::string(100'000, 'n'))});
    cases.push_back({target, with(base, "cpu_cores", -1)});
    cases.push_back({target, with(base, "cpu_cores", 1e300)});
    cases.push_back({target, with(base, "cpu_cores", "18446744073709551616")});
    cases.push_back({target, with(base, "memory_mb", 18446744073709551615u)});
    cases.push_back({target, "{\"name\":\"\xff\xfe\"}"});
    cases.push_back({target, "{\"name\":\"x\""});
    cases.push_back({target, "[]"});
    cases.push_back({target, "null"});
  }
  for (const Case& c : cases) {
    Reply answer = PostRaw(c.target, c.body);
    EXPECT_GE(answer.status, 400) << c.target << " " << c.body.substr(0, 80) << ": " << answer.raw;
    EXPECT_LT(answer.status, 500) << c.target << " " << c.body.substr(0, 80) << ": " << answer.raw;
    // Seed 02's envelope: the code is the status, a number as on success,
    // and the reason a word.
    EXPECT_TRUE(answer.body.is_object() && answer.body["code"] == answer.status &&
                answer.body["reason"].is_string())
        << answer.raw;
  }
  EXPECT_EQ(LogPosition(), before) << "a refused body wrote something";
}

TEST_F(HostileApiTest, AFloodOfLoginsAndResetsLeavesTheServerAnswering) {
  std::vector<std::thread> clients;
  std::atomic<int> answered{0}, server_errors{0};
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        const json body = {{"username", "admin"},
                           {"password", "wrong " + std::to_string(t * 100 + i)}};
        Reply login = Anonymous(http::verb::post, "/api/auth/login", body);
        Reply reset = Anonymous(http::verb::post, "/api/auth/password-reset",
                                {{"username", "nobody-" + std::to_string(i)}});
        for (const Reply* r : {&login, &reset}) {
          if (r->status != 0) ++answered;
          if (r->status >= 500) ++server_errors;
        }
      }
    });
  }
  // The server keeps answering cheap requests while argon2 runs.
  int healthy = 0;
  for (int i = 0; i < 20; ++i) healthy += Get("/healthz").status == 200;
  for (auto& client : clients) client.join();
  EXPECT_EQ(healthy, 20);
  EXPECT_EQ(answered.load(), 16 * 8 * 2);
  EXPECT_EQ(server_errors.load(), 0);
  // The anonymous bucket refills; the admin logs in again.
  int login = 0;
  for (int i = 0; i < 100 && login != 200; ++i) {
    login = testing_http::LogInAsAdmin(port_).status;
    if (login != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(login, 200);
}

}  // namespace
}  // namespace remotegpu::api
