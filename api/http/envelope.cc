#include "api/http/envelope.h"

#include <algorithm>
#include <cstdint>

namespace remotegpu::api {

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  auto decode = [](const std::string& in) {
    std::string result;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '+') {
        result.push_back(' ');
      } else if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(in[i + 1]) &&
                 std::isxdigit(in[i + 2])) {
        result.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        result.push_back(in[i]);
      }
    }
    return result;
  };
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

void SplitTarget(const std::string& target, HttpRequest* out) {
  const size_t question = target.find('?');
  out->path = target.substr(0, question);
  if (question != std::string::npos) out->query = ParseQuery(target.substr(question + 1));
}

namespace {

// A client's bytes (a path, a query value, a field) may come back in a
// message; bytes that are not UTF-8 become U+FFFD instead of making the
// dump throw (which would turn a 4xx into a 500).
std::string Dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

HttpResponse OkResponse(const HttpRequest& request, nlohmann::json data, int status) {
  nlohmann::json body = {
      {"code", 0}, {"message", "ok"}, {"data", std::move(data)}, {"traceId", request.trace_id}};
  return {status, "application/json", Dump(body), {}};
}

HttpResponse ErrorResponse(const HttpRequest& request, int status, const std::string& reason,
                           const std::string& message, nlohmann::json data) {
  nlohmann::json body = {{"code", status},
                         {"reason", reason},
                         {"message", message},
                         {"data", std::move(data)},
                         {"traceId", request.trace_id}};
  return {status, "application/json", Dump(body), {}};
}

HttpResponse StatusResponse(const HttpRequest& request, const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(request, 400, "INVALID_ARGUMENT", status.message());
    case StatusCode::kNotFound:
      return ErrorResponse(request, 404, "NOT_FOUND", status.message());
    case StatusCode::kAlreadyExists:
      return ErrorResponse(request, 409, "ALREADY_EXISTS", status.message());
    case StatusCode::kVersionConflict:
      return ErrorResponse(request, 409, "VERSION_CONFLICT", status.message());
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(request, 409, "FAILED_PRECONDITION", status.message());
    case StatusCode::kResourceExhausted:
      return ErrorResponse(request, 409, "NO_CAPACITY", status.message());
    case StatusCode::kUnavailable: {
      HttpResponse busy = ErrorResponse(request, 503, "UNAVAILABLE", status.message());
      busy.headers["Retry-After"] = "1";  // Every 503 is worth retrying shortly.
      return busy;
    }
    case StatusCode::kUnauthenticated:
      return ErrorResponse(request, 401, "UNAUTHENTICATED", status.message());
    case StatusCode::kPermissionDenied:
      return ErrorResponse(request, 403, "FORBIDDEN", status.message());
    case StatusCode::kQuotaExceeded:
      return ErrorResponse(request, 403, "QUOTA_EXCEEDED", status.message());
    case StatusCode::kOutOfRange:
      return ErrorResponse(request, 412, "PRECONDITION_FAILED", status.message());
    default:
      return ErrorResponse(request, 500, "INTERNAL", status.ToString());
  }
}

Result<Paging> ParsePaging(const HttpRequest& request, const std::vector<std::string>& sortable,
                           const std::string& default_sort) {
  Paging paging;
  auto parse_int = [&](const std::string& name, int fallback, int min, int max) -> Result<int> {
    std::string text = request.Query(name);
    if (text.empty()) return fallback;
    int value = 0;
    for (char c : text) {
      if (c < '0' || c > '9' || value > 1'000'000) {
        return Status::InvalidArgument(name + " must be a whole number, not '" + text + "'");
      }
      value = value * 10 + (c - '0');
    }
    if (value < min || value > max) {
      return Status::InvalidArgument(name + " must be between " + std::to_string(min) + " and " +
                                     std::to_string(max));
    }
    return value;
  };
  auto page = parse_int("page", 1, 1, 1'000'000);
  if (!page.ok()) return page.status();
  auto size = parse_int("pageSize", 20, 1, 500);
  if (!size.ok()) return size.status();
  paging.page = *page;
  paging.page_size = *size;
  paging.sort_by = request.Query("sortBy", default_sort);
  if (std::find(sortable.begin(), sortable.end(), paging.sort_by) == sortable.end()) {
    std::string allowed;
    for (const auto& s : sortable) allowed += (allowed.empty() ? "" : ", ") + s;
    return Status::InvalidArgument("sortBy must be one of " + allowed);
  }
  std::string order = request.Query("order", "asc");
  if (order != "asc" && order != "desc") {
    return Status::InvalidArgument("order must be asc or desc");
  }
  paging.descending = order == "desc";
  return paging;
}

HttpResponse RefusedResponse(const HttpRequest& request, const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument) {
    return ErrorResponse(request, 422, "UNPROCESSABLE", status.message());
  }
  return StatusResponse(request, status);
}

bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0, min = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

std::optional<std::string> UnsafeJson(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < text.size()) {
        if (text.compare(i + 1, 5, "u0000") == 0) {
          return std::string("the body holds a NUL character (\\u0000)");
        }
        ++i;  // The escaped character, whatever it is.
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return "the body nests arrays and objects deeper than " + std::to_string(max_depth) +
               " levels";
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> CheckJsonBodies(HttpRequest& request, const RouteOptions&) {
  if (request.body.empty()) return std::nullopt;
  std::string type = request.Header("content-type");
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type.rfind("application/json", 0) != 0) {
    return ErrorResponse(request, 415, "UNSUPPORTED_MEDIA_TYPE",
                         "send the body as JSON with Content-Type: application/json" +
                             (type.empty() ? std::string() : ", not " + type));
  }
  if (!IsUtf8(request.body)) {
    return StatusResponse(request, Status::InvalidArgument("the body is not UTF-8"));
  }
  if (auto unsafe = UnsafeJson(request.body, kMaxJsonDepth)) {
    return StatusResponse(request, Status::InvalidArgument(*unsafe));
  }
  return std::nullopt;
}

Result<nlohmann::json> ParseJsonObject(const HttpRequest& request) {
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Status::InvalidArgument("the body is not valid JSON");
  if (!body.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return body;
}

}  // namespace remotegpu::api
