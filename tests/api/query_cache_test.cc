// The versioned answer cache, and the router's inline path over it.
#include "api/http/query_cache.h"

#include <atomic>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/router.h"

namespace remotegpu::api {
namespace {

HttpRequest Get(const std::string& path, const std::string& trace_id) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  request.trace_id = trace_id;
  return request;
}

class QueryCacheTest : public ::testing::Test {
 protected:
  // Answers with the call count, so a test sees whether it ran.
  HttpHandler Counting(int status = 200) {
    return [this, status](const HttpRequest& r) {
      ++computed_;
      if (status == 200) return OkResponse(r, {{"n", computed_.load()}});
      return ErrorResponse(r, status, "X", "failed");
    };
  }

  std::atomic<uint64_t> version_{1};
  std::atomic<int> computed_{0};
  QueryCache cache_{[this] { return version_.load(); }};
};

TEST_F(QueryCacheTest, RepeatsAnAnswerWithTheNewTraceIdWhileTheVersionStays) {
  EXPECT_FALSE(cache_.Lookup(Get("/a", "trace-1")));
  HttpResponse first = cache_.Compute(Get("/a", "trace-1"), Counting());
  auto again = cache_.Lookup(Get("/a", "trace-2"));
  ASSERT_TRUE(again);
  const auto body = nlohmann::json::parse(again->body);
  EXPECT_EQ(body["data"]["n"], 1);
  EXPECT_EQ(body["traceId"], "trace-2");
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(computed_, 1);
  EXPECT_EQ(cache_.stats().hits, 1u);
  EXPECT_EQ(cache_.stats().misses, 1u);
}

// Regression: a cached answer was served to a request whose X-Min-Position
// the read models had not reached yet (a read-your-writes miss under load).
TEST_F(QueryCacheTest, AHitNeverAnswersAPositionTheReadModelsHaveNotReached) {
  std::atomic<uint64_t> position{10};
  QueryCache cache([this] { return version_.load(); }, 100, [&] { return position.load(); });
  cache.Compute(Get("/a", "t1"), Counting());
  HttpRequest fresh = Get("/a", "t2");
  fresh.headers["x-min-position"] = "10";
  EXPECT_TRUE(cache.Lookup(fresh));
  fresh.headers["x-min-position"] = "11";
  EXPECT_FALSE(cache.Lookup(fresh));  // The handler waits for position 11.
  fresh.headers["x-min-position"] = "eleven";
  EXPECT_FALSE(cache.Lookup(fresh));  // The handler says what is wrong with it.
  position = 11;
  fresh.headers["x-min-position"] = "11";
  EXPECT_TRUE(cache.Lookup(fresh));
  // Without a position to compare with, such a request always misses.
  cache_.Compute(Get("/a", "t3"), Counting());
  EXPECT_FALSE(cache_.Lookup(fresh));
}

TEST_F(QueryCacheTest, AMovedVersionMissesAndTheNewAnswerReplacesTheOld) {
  cache_.Compute(Get("/a", "t1"), Counting());
  version_ = 2;
  EXPECT_FALSE(cache_.Lookup(Get("/a", "t2")));
  cache_.Compute(Get("/a", "t3"), Counting());
  auto hit = cache_.Lookup(Get("/a", "t4"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(nlohmann::json::parse(hit->body)["data"]["n"], 2);
}

TEST_F(QueryCacheTest, AnAnswerComputedBeforeTheVersionMovedIsNotServedAfter) {
  // The version moves while the answer is computed: it was read before, so
  // the answer is kept under the old version and never served at the new.
  cache_.Compute(Get("/a", "t1"), [this](const HttpRequest& r) {
    version_ = 5;
    return OkResponse(r, "old");
  });
  EXPECT_FALSE(cache_.Lookup(Get("/a", "t2")));
}

TEST_F(QueryCacheTest, QueryHeadersAndCredentialsArePartOfTheKey) {
  HttpRequest plain = Get("/a", "t1");
  cache_.Compute(plain, Counting());
  HttpRequest other_query = Get("/a", "t2");
  other_query.query["page"] = "2";
  EXPECT_FALSE(cache_.Lookup(other_query));
  HttpRequest other_caller = Get("/a", "t3");
  other_caller.headers["authorization"] = "Bearer someone-else";
  EXPECT_FALSE(cache_.Lookup(other_caller));
  HttpRequest post = Get("/a", "t4");
  post.method = "POST";
  EXPECT_FALSE(cache_.Lookup(post));
  EXPECT_TRUE(cache_.Lookup(Get("/a", "t5")));
}

TEST_F(QueryCacheTest, KeepsOnly200And404) {
  cache_.Compute(Get("/missing", "t1"), Counting(404));
  EXPECT_TRUE(cache_.Lookup(Get("/missing", "t2")));
  cache_.Compute(Get("/broken", "t3"), Counting(500));
  EXPECT_FALSE(cache_.Lookup(Get("/broken", "t4")));
  cache_.Compute(Get("/busy", "t5"), Counting(503));
  EXPECT_FALSE(cache_.Lookup(Get("/busy", "t6")));
}

TEST_F(QueryCacheTest, AnAnswerWithoutTheEnvelopesTraceIdIsNotKept) {
  cache_.Compute(Get("/text", "t1"), [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "hello", {}};
  });
  EXPECT_FALSE(cache_.Lookup(Get("/text", "t2")));
}

TEST_F(QueryCacheTest, StopsKeepingNewAnswersPastItsBoundUntilTheVersionMoves) {
  QueryCache small([this] { return version_.load(); }, /*max_entries=*/16);  // One per shard.
  int kept = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string path = "/p" + std::to_string(i);
    small.Compute(Get(path, "t"), Counting());
    kept += small.Lookup(Get(path, "u")) ? 1 : 0;
  }
  EXPECT_LE(kept, 16);
  EXPECT_GT(kept, 0);
}

TEST(RouterInlineTest, AnswersNeverBlockingRoutesCacheHitsAnd404sInline) {
  std::atomic<uint64_t> version{1};
  QueryCache cache([&] { return version.load(); });
  Router router;
  router.Add("GET", "/fast", "", [](const HttpRequest& r) { return OkResponse(r, "fast"); },
             {.never_blocks = true});
  router.Add("GET", "/query/:id", "",
             [](const HttpRequest& r) { return OkResponse(r, r.params.at("id")); },
             {.cache = &cache});
  router.Add("POST", "/command", "", [](const HttpRequest& r) { return OkResponse(r, "done"); });

  std::string pattern;
  EXPECT_TRUE(router.TryInline(Get("/fast", "t"), &pattern));
  EXPECT_EQ(pattern, "/fast");
  auto missing = router.TryInline(Get("/nowhere", "t"), &pattern);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(pattern, "");

  HttpRequest command = Get("/command", "t");
  command.method = "POST";
  EXPECT_FALSE(router.TryInline(command));

  EXPECT_FALSE(router.TryInline(Get("/query/7", "t1")));  // Not yet computed.
  HttpResponse computed = router.Handle(Get("/query/7", "t2"), &pattern);
  EXPECT_EQ(pattern, "/query/:id");
  auto hit = router.TryInline(Get("/query/7", "t3"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(nlohmann::json::parse(hit->body)["data"], "7");
  version = 2;
  EXPECT_FALSE(router.TryInline(Get("/query/7", "t4")));
}

}  // namespace
}  // namespace remotegpu::api
