// Bytes off a socket through what the server does with them: Beast's
// request parser with the server's limits, the target split into path and
// decoded query, routing with path parameters, the JSON body rule
// (CheckJsonBodies), and the strict mapping of a body to fields (JsonFields:
// strings, integers, money, lists, nested objects). Every input gets an
// answer in the envelope; none crashes.
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/http/router.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

namespace http = boost::beast::http;
using remotegpu::Status;
using namespace remotegpu::api;

// A route body read like every route reads one.
HttpResponse MapBody(const HttpRequest& request) {
  auto body = ParseJsonObject(request);
  if (!body.ok()) return StatusResponse(request, body.status());
  JsonFields f(*body);
  std::string name;
  int64_t count = 0, fen = 0;
  bool flag = false;
  std::vector<std::string> list;
  nlohmann::json nested;
  Status read = f.OnlyAllowed({"name", "count", "amount", "flag", "list", "nested"});
  if (read.ok()) read = f.String("name", &name);
  if (read.ok()) read = f.Integer("count", &count, 0, 1'000'000);
  if (read.ok()) read = f.Yuan("amount", &fen);
  if (read.ok()) read = f.Boolean("flag", &flag);
  if (read.ok()) read = f.StringList("list", &list);
  if (read.ok()) read = f.Object("nested", &nested);
  if (read.ok() && nested.is_object()) read = JsonFields(nested, "nested.").String("name", &name);
  if (!read.ok()) return StatusResponse(request, read);
  return OkResponse(request, {{"id", request.params.at("id")}, {"name", name}, {"fen", fen}});
}

const Router& TheRouter() {
  static const Router* router = [] {
    auto* r = new Router;
    r->Use(CheckJsonBodies);
    const RouteOptions open{.access = Access::kPublic};
    r->Add("POST", "/api/things/:id", "map a body", MapBody, open);
    r->Add("PUT", "/api/things/:id/parts/:part", "map a body", MapBody, open);
    r->Add(
        "GET", "/api/things", "a page",
        [](const HttpRequest& request) {
          auto paging = ParsePaging(request, {"name", "created_at"}, "name");
          if (!paging.ok()) return StatusResponse(request, paging.status());
          return OkResponse(request, {{"page", paging->page}, {"q", request.Query("q")}});
        },
        open);
    return r;
  }();
  return *router;
}

}  // namespace

FUZZ_TARGET(http_request) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t offset = 0;
  while (offset < size && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;  // The server answers 400 or 431 and closes.
    if (used == 0) break;
    offset += used;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  const auto& in = parser.get();
  if (in.method() == http::verb::unknown) return 0;  // 501 before routing.
  HttpRequest request;
  request.method = std::string(in.method_string());
  SplitTarget(std::string(in.target()), &request);
  for (const auto& field : in) {
    std::string header(field.name_string());
    for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[header] = std::string(field.value());
  }
  request.body = in.body();
  request.trace_id = "fuzz";
  const HttpResponse response = TheRouter().Handle(request);
  FUZZ_CHECK(response.status >= 200 && response.status < 600);
  FUZZ_CHECK(response.status != 500);
  const auto answer = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(answer.is_object() && answer.contains("code") && answer.contains("traceId"));
  // The code is a number either way: 0, or the status with a reason beside it.
  FUZZ_CHECK(answer["code"] == (response.status < 300 ? 0 : response.status));
  FUZZ_CHECK(response.status < 300 || answer["reason"].is_string());
  return 0;
}
