// Routes by method and path pattern ("/api/cmdb/hosts/:id"). Middleware runs
// before every handler and may answer instead of it (authentication will
// plug in here without touching any route).
//
// Thread-safety: configure before serving; Handle is then safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/http_types.h"

namespace remotegpu::api {

using Middleware = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

class Router {
 public:
  // `summary` is a sentence for the OpenAPI document.
  void Add(const std::string& method, const std::string& pattern, const std::string& summary,
           HttpHandler handler);
  void Use(Middleware middleware) { middleware_.push_back(std::move(middleware)); }

  // The handler's response; 404 when no pattern matches the path, 405 when
  // one matches but not for this method. Fills request.params.
  HttpResponse Handle(HttpRequest request) const;
  // The pattern that matched, for metrics ("" when none).
  std::string PatternFor(const HttpRequest& request) const;

  // An OpenAPI 3 document of every route, in the order they were added.
  std::string OpenApiJson(const std::string& title, const std::string& version) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::string summary;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  static bool Match(const Route& route, const std::vector<std::string>& path,
                    std::map<std::string, std::string>* params);

  std::vector<Route> routes_;
  std::vector<Middleware> middleware_;
};

std::vector<std::string> SplitPath(const std::string& path);

}  // namespace remotegpu::api
