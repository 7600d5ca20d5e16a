#include "api/http/router.h"

#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/query_cache.h"

namespace remotegpu::api {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool UsablePathParameter(const std::string& value) {
  if (value.empty() || value.size() > 128 || value == "." || value == "..") return false;
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

const char* Name(Access access) {
  switch (access) {
    case Access::kPublic:
      return "public";
    case Access::kUser:
      return "user";
    case Access::kAdmin:
      return "admin";
    case Access::kAgent:
      return "agent";
  }
  return "admin";
}

void Router::Add(const std::string& method, const std::string& pattern, const std::string& summary,
                 HttpHandler handler, RouteOptions options) {
  routes_.push_back({method, pattern, summary, SplitPath(pattern), std::move(handler), options});
}

std::string Router::OpenApiJson(const std::string& title, const std::string& version) const {
  nlohmann::json envelope = {
      {"type", "object"},
      {"required", {"code", "message", "data", "traceId"}},
      {"properties",
       {{"code",
         {{"type", "integer"},
          {"description", "0 on success; on an error, the HTTP status (seed 02's codes)"}}},
        {"reason",
         {{"type", "string"},
          {"description",
           "errors only: a stable word for the cause (INVALID_ARGUMENT, NOT_FOUND, "
           "VERSION_CONFLICT, NO_CAPACITY, QUOTA_EXCEEDED, RATE_LIMITED, …)"}}},
        {"message", {{"type", "string"}}},
        {"data", {{"description", "the result; lists are {list, total, page, pageSize}"}}},
        {"traceId", {{"type", "string"}}}}}};
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& route : routes_) {
    std::string path;
    nlohmann::json parameters = nlohmann::json::array();
    for (const auto& segment : route.segments) {
      if (!segment.empty() && segment[0] == ':') {
        path += "/{" + segment.substr(1) + "}";
        parameters.push_back({{"name", segment.substr(1)},
                              {"in", "path"},
                              {"required", true},
                              {"schema", {{"type", "string"}}}});
      } else {
        path += "/" + segment;
      }
    }
    if (const queries::ListShape* shape = route.options.paged) {
      auto param = [](const char* name, const char* what, nlohmann::json schema) {
        return nlohmann::json{{"name", name},
                              {"in", "query"},
                              {"required", false},
                              {"description", what},
                              {"schema", std::move(schema)}};
      };
      parameters.push_back(
          param("page", "the page, from 1", {{"type", "integer"}, {"minimum", 1}, {"default", 1}}));
      parameters.push_back(
          param("pageSize", "rows per page",
                {{"type", "integer"}, {"minimum", 1}, {"maximum", 500}, {"default", 20}}));
      parameters.push_back(
          param("sortBy", "the column to sort on",
                {{"type", "string"}, {"enum", shape->sortable}, {"default", shape->default_sort}}));
      parameters.push_back(
          param("order", "the sort order",
                {{"type", "string"}, {"enum", {"asc", "desc"}}, {"default", "asc"}}));
    }
    for (const auto& [name, what] : route.options.query) {
      parameters.push_back({{"name", name},
                            {"in", "query"},
                            {"required", false},
                            {"description", what},
                            {"schema", {{"type", "string"}}}});
    }
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    nlohmann::json responses = {
        {"200",
         {{"description", "OK"},
          {"content",
           {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Envelope"}}}}}}}}},
        {"400", {{"description", "Invalid input; the message names the field"}}},
        {"404", {{"description", "Not found"}}},
        {"409", {{"description", "Conflict with the current state or no capacity"}}},
        {"413", {{"description", "Body larger than the limit"}}},
        {"415", {{"description", "A body that is not application/json"}}},
        {"422", {{"description", "Well-formed, but a domain rule refuses it"}}},
        {"412", {{"description", "X-Min-Position is beyond the log's head"}}},
        {"503", {{"description", "Not ready, or X-Min-Position not reached in time"}}}};
    if (!route.options.messages.empty()) {
      const nlohmann::json messages = nlohmann::json::parse(route.options.messages);
      responses.erase("200");
      responses["101"] = {{"description",
                           "Switching Protocols: a WebSocket; each text message is one of "
                           "x-messages"}};
      responses["200"] = {{"description",
                           "With Accept: text/event-stream, server-sent events; each event's "
                           "data is one of x-messages"},
                          {"content", {{"text/event-stream", {{"schema", {{"type", "string"}}}}}}}};
    }
    nlohmann::json operation = {{"summary", route.summary},
                                {"parameters", parameters},
                                {"responses", responses},
                                {"x-access", Name(route.options.access)}};
    if (!route.options.messages.empty()) {
      operation["x-messages"] = nlohmann::json::parse(route.options.messages);
    }
    if (route.options.access == Access::kPublic) {
      operation["security"] = nlohmann::json::array();
    } else {
      responses["401"] = {{"description", "No credentials, or credentials that do not verify"}};
      if (route.options.access == Access::kAdmin) {
        responses["403"] = {{"description", "Only platform admins may call this"}};
      } else if (route.options.access == Access::kAgent) {
        responses["403"] = {{"description", "Only a host agent's token or an admin"}};
      }
      operation["responses"] = responses;
    }
    paths[path][method] = operation;
  }
  nlohmann::json document = {
      {"openapi", "3.0.3"},
      {"info", {{"title", title}, {"version", version}}},
      {"paths", paths},
      {"security", {{{"bearer", nlohmann::json::array()}}, {{"apiKey", nlohmann::json::array()}}}},
      {"components",
       {{"schemas", {{"Envelope", envelope}}},
        {"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
          {"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-Api-Key"}}}}}}}};
  return document.dump(2);
}

bool Router::Match(const Route& route, const std::vector<std::string>& path,
                   std::map<std::string, std::string>* params) {
  if (route.segments.size() != path.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& want = route.segments[i];
    if (!want.empty() && want[0] == ':') {
      found[want.substr(1)] = path[i];
    } else if (want != path[i]) {
      return false;
    }
  }
  if (params != nullptr) *params = std::move(found);
  return true;
}

Router::Found Router::Find(HttpRequest& request) const {
  const auto path = SplitPath(request.path);
  bool path_known = false;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!Match(route, path, &params)) continue;
    path_known = true;
    if (route.method != request.method) continue;
    request.params = std::move(params);
    for (const auto& middleware : middleware_) {
      if (auto answer = middleware(request, route.options)) return {&route, std::move(answer)};
    }
    // Query values are percent-decoded: any byte may come out. Text that
    // is not UTF-8, or a NUL, is refused here, never handed to PostgreSQL.
    for (const auto& [name, value] : request.query) {
      if (!IsUtf8(name) || !IsUtf8(value) || name.find('\0') != std::string::npos ||
          value.find('\0') != std::string::npos) {
        return {&route,
                StatusResponse(request, Status::InvalidArgument(
                                            "query parameters must be UTF-8 text without NULs"))};
      }
    }
    for (const auto& [name, value] : request.params) {
      if (!UsablePathParameter(value)) {
        return {&route, StatusResponse(request,
                                       Status::InvalidArgument(
                                           name + " in the path must be 1 to 128 of A-Z, a-z, 0-9, "
                                                  "'_', '-', '.' and ':' (and not . or ..)"))};
      }
    }
    return {&route, std::nullopt};
  }
  if (path_known) {
    return {nullptr, ErrorResponse(request, 405, "METHOD_NOT_ALLOWED",
                                   request.method + " is not supported on " + request.path)};
  }
  return {nullptr, StatusResponse(request, Status::NotFound("no route for " + request.path))};
}

HttpResponse Router::Handle(HttpRequest request, std::string* pattern) const {
  Found found = Find(request);
  if (pattern != nullptr) *pattern = found.route != nullptr ? found.route->pattern : "";
  if (found.answer) return std::move(*found.answer);
  const Route& route = *found.route;
  // A resumed request was admitted when it first came (see HttpResponse::park).
  if (admission_ && !request.resumed) {
    if (auto refused = admission_(request, route.options)) return std::move(*refused);
  }
  if (route.options.cache != nullptr) return route.options.cache->Compute(request, route.handler);
  return route.handler(request);
}

std::optional<HttpResponse> Router::TryInline(HttpRequest request, std::string* pattern) const {
  Found found = Find(request);
  if (pattern != nullptr) *pattern = found.route != nullptr ? found.route->pattern : "";
  if (found.answer) return found.answer;
  const Route& route = *found.route;
  // Admission only once this path is sure to answer (Handle admits the rest).
  auto admit = [&]() -> std::optional<HttpResponse> {
    return admission_ ? admission_(request, route.options) : std::nullopt;
  };
  if (route.options.never_blocks) {
    if (auto refused = admit()) return refused;
    return route.handler(request);
  }
  if (route.options.cache == nullptr) return std::nullopt;
  auto hit = route.options.cache->Lookup(request);
  if (!hit) return std::nullopt;
  if (auto refused = admit()) return refused;
  return hit;
}

}  // namespace remotegpu::api
