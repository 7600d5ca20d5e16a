// Routes by method and path pattern ("/api/cmdb/hosts/:id"). Middleware runs
// before every handler and may answer instead of it (authentication); it
// must not block, since it also runs on the server's I/O threads
// (TryInline), and it may run twice for one request (TryInline, then Handle
// on a worker). Admission runs after it exactly once per request that
// reaches a handler or a cached answer, so it is where requests are counted
// (rate limits).
//
// Thread-safety: configure before serving; Handle is then safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/http/http_types.h"
#include "projections/queries/paging.h"

namespace remotegpu::api {

class QueryCache;

// Who may call a route. Every route declares it; the default is the
// narrowest, so a route nobody thought about is an admin's.
enum class Access {
  kPublic,  // Anyone, without credentials (health, login).
  kUser,    // Any authenticated caller; the handler keeps tenants apart.
  kAdmin,   // Platform admins only.
  kAgent,   // A host agent's token (for its own host; the handler checks) or an admin.
};
const char* Name(Access access);  // "public", "user", "admin".

// How the server may run a route's handler.
struct RouteOptions {
  Access access = Access::kAdmin;
  // The handler never blocks: it may run on an I/O thread.
  bool never_blocks = false;
  // The route is a query whose answers `cache` keeps (see query_cache.h).
  QueryCache* cache = nullptr;
  // The query parameters it reads, for the OpenAPI document: {name, what}.
  std::vector<std::pair<std::string, std::string>> query;
  // A paged list: the OpenAPI document names page, pageSize, sortBy (these
  // columns) and order.
  const queries::ListShape* paged = nullptr;
  // A stream route: the JSON Schema (as JSON text) of the messages it sends
  // once upgraded, for the OpenAPI document (x-messages, with 101 and a
  // text/event-stream 200 as its answers).
  std::string messages;
};

// Runs before a route's handler with the route's options; may fill in the
// request (its identity) and may answer instead of the handler.
using Middleware = std::function<std::optional<HttpResponse>(HttpRequest&, const RouteOptions&)>;
// Runs once per answered request, after middleware; may refuse it.
using Admission =
    std::function<std::optional<HttpResponse>(const HttpRequest&, const RouteOptions&)>;

class Router {
 public:
  // `summary` is a sentence for the OpenAPI document.
  void Add(const std::string& method, const std::string& pattern, const std::string& summary,
           HttpHandler handler, RouteOptions options = {});
  void Use(Middleware middleware) { middleware_.push_back(std::move(middleware)); }
  void Admit(Admission admission) { admission_ = std::move(admission); }

  // The handler's response; 404 when no pattern matches the path, 405 when
  // one matches but not for this method. `*pattern` (when given) is set to
  // the pattern that matched, or "" when none did.
  HttpResponse Handle(HttpRequest request, std::string* pattern = nullptr) const;
  // The answer when it can be given without blocking: a never_blocks route,
  // a cache hit, a 404 or 405; nullopt otherwise (call Handle on a thread
  // that may block).
  std::optional<HttpResponse> TryInline(HttpRequest request, std::string* pattern = nullptr) const;

  // An OpenAPI 3 document of every route, in the order they were added.
  std::string OpenApiJson(const std::string& title, const std::string& version) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::string summary;
    std::vector<std::string> segments;
    HttpHandler handler;
    RouteOptions options;
  };
  // The route for request.method and .path (filling request.params), or the
  // 404/405 answer; middleware has run when a route is returned.
  struct Found {
    const Route* route = nullptr;
    std::optional<HttpResponse> answer;
  };
  Found Find(HttpRequest& request) const;
  static bool Match(const Route& route, const std::vector<std::string>& path,
                    std::map<std::string, std::string>* params);

  std::vector<Route> routes_;
  std::vector<Middleware> middleware_;
  Admission admission_;  // May be empty.
};

std::vector<std::string> SplitPath(const std::string& path);

// Whether a path segment may fill a route's ":param": 1 to 128 of
// [A-Za-z0-9_.:-], never "." or "..". Path segments are not percent-decoded,
// so an id holding '%', '/', '?' or '#' can never reach a handler; every
// id a client can choose is narrower still (eventstore::ValidateIdText).
bool UsablePathParameter(const std::string& value);

}  // namespace remotegpu::api
