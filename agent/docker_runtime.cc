#include "agent/docker_runtime.h"

#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "agent/http_client.h"

namespace remotegpu::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr const char* kApi = "/v1.43";
constexpr const char* kEnvLabel = "remotegpu.env_id";
constexpr const char* kGenerationLabel = "remotegpu.generation";

std::string ContainerName(const std::string& env_id) { return "remotegpu-" + env_id; }

// Writes `request` on `stream` and reads the answer.
template <typename Stream>
DockerReply Exchange(Stream& stream, const std::string& host, const std::string& method,
                     const std::string& target, const std::string& body) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "remotegpu-agent");
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser);
  return {static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

class UnixSocketClient final : public DockerClient {
 public:
  UnixSocketClient(std::string path, std::chrono::milliseconds timeout)
      : path_(std::move(path)), timeout_(timeout) {}
  Result<DockerReply> Request(const std::string& method, const std::string& target,
                              const std::string& body) override {
    try {
      asio::io_context io;
      beast::basic_stream<asio::local::stream_protocol> stream(io);
      stream.expires_after(timeout_);
      stream.connect(asio::local::stream_protocol::endpoint(path_));
      return Exchange(stream, "docker", method, target, body);
    } catch (const std::exception& e) {
      return Status::Unavailable("docker at " + path_ + ": " + method + " " + target + ": " +
                                 e.what());
    }
  }

 private:
  std::string path_;
  std::chrono::milliseconds timeout_;
};

class TcpClient final : public DockerClient {
 public:
  TcpClient(std::string host, std::string port, const DockerEndpoint& endpoint)
      : host_(std::move(host)), port_(std::move(port)), endpoint_(endpoint) {}

  Status Configure() {
    if (endpoint_.ca_file.empty()) return Status::Ok();
    try {
      tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      tls_->load_verify_file(endpoint_.ca_file);
      tls_->use_certificate_chain_file(endpoint_.cert_file);
      tls_->use_private_key_file(endpoint_.key_file, asio::ssl::context::pem);
      tls_->set_verify_mode(asio::ssl::verify_peer);
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("docker TLS files: ") + e.what());
    }
  }

  Result<DockerReply> Request(const std::string& method, const std::string& target,
                              const std::string& body) override {
    try {
      asio::io_context io;
      asio::ip::tcp::resolver resolver(io);
      const auto addresses = resolver.resolve(host_, port_);
      if (!tls_) {
        beast::tcp_stream stream(io);
        stream.expires_after(endpoint_.timeout);
        stream.connect(addresses);
        return Exchange(stream, host_, method, target, body);
      }
      beast::ssl_stream<beast::tcp_stream> stream(io, *tls_);
      beast::get_lowest_layer(stream).expires_after(endpoint_.timeout);
      beast::get_lowest_layer(stream).connect(addresses);
      stream.set_verify_callback(asio::ssl::host_name_verification(host_));
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) {
        return Status::Unavailable("docker TLS: cannot set the server name");
      }
      stream.handshake(asio::ssl::stream_base::client);
      DockerReply reply = Exchange(stream, host_, method, target, body);
      beast::error_code ignored;
      stream.shutdown(ignored);
      return reply;
    } catch (const std::exception& e) {
      return Status::Unavailable("docker at " + host_ + ":" + port_ + ": " + method + " " + target +
                                 ": " + e.what());
    }
  }

 private:
  std::string host_, port_;
  DockerEndpoint endpoint_;
  std::unique_ptr<asio::ssl::context> tls_;
};

// The engine's {"message": …} or the start of the body.
std::string EngineSays(const DockerReply& reply) {
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (body.is_object() && body["message"].is_string()) return body["message"].get<std::string>();
  return reply.body.substr(0, 200);
}

}  // namespace

Result<std::unique_ptr<DockerClient>> DockerClient::Connect(const DockerEndpoint& endpoint) {
  if (endpoint.host.starts_with("unix://")) {
    return std::unique_ptr<DockerClient>(
        std::make_unique<UnixSocketClient>(endpoint.host.substr(7), endpoint.timeout));
  }
  if (endpoint.host.starts_with("tcp://")) {
    const std::string rest = endpoint.host.substr(6);
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
      return Status::InvalidArgument("docker host must be tcp://host:port, not " + endpoint.host);
    }
    const bool some_tls =
        !endpoint.ca_file.empty() || !endpoint.cert_file.empty() || !endpoint.key_file.empty();
    const bool all_tls =
        !endpoint.ca_file.empty() && !endpoint.cert_file.empty() && !endpoint.key_file.empty();
    if (some_tls && !all_tls) {
      return Status::InvalidArgument("docker TLS needs a CA, a certificate and a key");
    }
    auto client =
        std::make_unique<TcpClient>(rest.substr(0, colon), rest.substr(colon + 1), endpoint);
    RGPU_RETURN_IF_ERROR(client->Configure());
    return std::unique_ptr<DockerClient>(std::move(client));
  }
  return Status::InvalidArgument("docker host must be unix://path or tcp://host:port, not " +
                                 endpoint.host);
}

nlohmann::json ContainerCreateBody(const WorkloadSpec& spec) {
  nlohmann::json env = nlohmann::json::array();
  for (const auto& [name, value] : spec.env) env.push_back(name + "=" + value);
  env.push_back("REMOTEGPU_ENV_ID=" + spec.env_id);
  nlohmann::json exposed = nlohmann::json::object();
  nlohmann::json bindings = nlohmann::json::object();
  for (const auto& port : spec.ports) {
    const std::string key = std::to_string(port.container_port) + "/tcp";
    exposed[key] = nlohmann::json::object();
    bindings[key] = {{{"HostPort", std::to_string(port.host_port)}}};
  }
  nlohmann::json host_config = {
      {"PortBindings", bindings}, {"RestartPolicy", {{"Name", "no"}}}, {"Init", true}};
  if (spec.cpu_cores > 0) host_config["NanoCpus"] = int64_t{spec.cpu_cores} * 1'000'000'000;
  if (spec.memory_mb > 0) host_config["Memory"] = int64_t(spec.memory_mb) * 1024 * 1024;
  if (!spec.gpu_indexes.empty()) {
    nlohmann::json ids = nlohmann::json::array();
    for (uint32_t gpu : spec.gpu_indexes) ids.push_back(std::to_string(gpu));
    host_config["DeviceRequests"] = {
        {{"Driver", "nvidia"}, {"DeviceIDs", ids}, {"Capabilities", {{"gpu"}}}}};
  }
  nlohmann::json body = {
      {"Image", spec.image},
      {"Env", env},
      {"Labels", {{kEnvLabel, spec.env_id}, {kGenerationLabel, std::to_string(spec.generation)}}},
      {"ExposedPorts", exposed},
      {"Volumes", {{"/workspace", nlohmann::json::object()}}},
      {"HostConfig", host_config}};
  if (!spec.command.empty()) body["Cmd"] = spec.command;
  return body;
}

std::string DemuxDockerLogs(const std::string& framed) {
  // [stream type, 0, 0, 0, size (4 bytes, big-endian)] then the payload.
  std::string out;
  size_t at = 0;
  while (at + 8 <= framed.size()) {
    const auto byte = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<unsigned char>(framed[at + i]));
    };
    if (byte(0) > 2 || byte(1) != 0 || byte(2) != 0 || byte(3) != 0)
      return framed;  // A TTY's raw text.
    const uint32_t size = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
    out.append(framed, at + 8, size);
    at += 8 + size;
  }
  return at == framed.size() ? out : framed;
}

Result<DockerReply> DockerRuntime::Call(const std::string& method, const std::string& target,
                                        const std::string& body) {
  return client_->Request(method, kApi + target, body);
}

Status DockerRuntime::Pull(const std::string& image) {
  spdlog::info("pulling {}", image);
  auto pulled = Call("POST", "/images/create?fromImage=" + PercentEncode(image));
  if (!pulled.ok()) return pulled.status();
  if (pulled->status != 200) {
    return Status::InvalidArgument("cannot pull " + image + ": " + EngineSays(*pulled));
  }
  // The progress stream ends with an {"error": …} line when the pull failed.
  size_t start = 0;
  while (start < pulled->body.size()) {
    size_t end = pulled->body.find('\n', start);
    if (end == std::string::npos) end = pulled->body.size();
    auto line = nlohmann::json::parse(pulled->body.substr(start, end - start), nullptr, false);
    if (line.is_object() && line["error"].is_string()) {
      return Status::InvalidArgument("cannot pull " + image + ": " +
                                     line["error"].get<std::string>());
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status DockerRuntime::Start(const WorkloadSpec& spec) {
  if (spec.image.empty()) return Status::InvalidArgument(spec.env_id + " names no image");
  RGPU_RETURN_IF_ERROR(Remove(spec.env_id));  // A leftover of an earlier generation.
  const std::string name = ContainerName(spec.env_id);
  const std::string body = ContainerCreateBody(spec).dump();
  auto created = Call("POST", "/containers/create?name=" + PercentEncode(name), body);
  if (created.ok() && created->status == 404) {
    RGPU_RETURN_IF_ERROR(Pull(spec.image));
    created = Call("POST", "/containers/create?name=" + PercentEncode(name), body);
  }
  if (!created.ok()) return created.status();
  if (created->status != 201) {
    return Status::InvalidArgument("docker refused to create " + name + ": " +
                                   EngineSays(*created));
  }
  auto started = Call("POST", "/containers/" + PercentEncode(name) + "/start");
  if (!started.ok()) return started.status();
  if (started->status != 204 && started->status != 304) {
    Status removed = Remove(spec.env_id);
    (void)removed;  // The start's error is the one to report.
    return Status::InvalidArgument("docker could not start " + name + ": " + EngineSays(*started));
  }
  restarted_to_.erase(spec.env_id);
  return Status::Ok();
}

Status DockerRuntime::Restart(const WorkloadSpec& spec) {
  const std::string name = ContainerName(spec.env_id);
  auto restarted = Call("POST", "/containers/" + PercentEncode(name) + "/restart?t=10");
  if (!restarted.ok()) return restarted.status();
  if (restarted->status == 404) return Start(spec);
  if (restarted->status != 204) {
    return Status::InvalidArgument("docker could not restart " + name + ": " +
                                   EngineSays(*restarted));
  }
  restarted_to_[spec.env_id] = spec.generation;
  return Status::Ok();
}

Status DockerRuntime::Remove(const std::string& env_id) {
  const std::string name = ContainerName(env_id);
  auto stopped = Call("POST", "/containers/" + PercentEncode(name) + "/stop?t=10");
  if (!stopped.ok()) return stopped.status();
  if (stopped->status == 404) return Status::Ok();
  auto removed = Call("DELETE", "/containers/" + PercentEncode(name) + "?v=1&force=1");
  if (!removed.ok()) return removed.status();
  if (removed->status != 204 && removed->status != 404) {
    return Status::IoError("docker could not remove " + name + ": " + EngineSays(*removed));
  }
  restarted_to_.erase(env_id);
  return Status::Ok();
}

Result<std::vector<WorkloadStatus>> DockerRuntime::List() {
  const std::string filters = nlohmann::json{{"label", {kEnvLabel}}}.dump();
  auto listed = Call("GET", "/containers/json?all=1&filters=" + PercentEncode(filters));
  if (!listed.ok()) return listed.status();
  auto containers = nlohmann::json::parse(listed->body, nullptr, false);
  if (listed->status != 200 || !containers.is_array()) {
    return Status::IoError("docker could not list containers: " + EngineSays(*listed));
  }
  std::vector<WorkloadStatus> out;
  for (const auto& container : containers) {
    const auto& labels = container.value("Labels", nlohmann::json::object());
    if (!labels.contains(kEnvLabel)) continue;
    WorkloadStatus status;
    status.env_id = labels[kEnvLabel].get<std::string>();
    status.generation = std::stoull(labels.value(kGenerationLabel, std::string("0")));
    if (auto it = restarted_to_.find(status.env_id); it != restarted_to_.end()) {
      status.generation = std::max(status.generation, it->second);
    }
    const std::string state = container.value("State", "");
    status.running = state == "running" || state == "restarting" || state == "created";
    if (!status.running) {
      auto inspected =
          Call("GET", "/containers/" + PercentEncode(ContainerName(status.env_id)) + "/json");
      if (!inspected.ok()) return inspected.status();
      auto detail = nlohmann::json::parse(inspected->body, nullptr, false);
      const auto& s = detail.is_object() ? detail.value("State", nlohmann::json::object())
                                         : nlohmann::json::object();
      status.exit_code = s.value("ExitCode", 0);
      const std::string error = s.value("Error", "");
      status.reason = "container " + state + " with status " + std::to_string(status.exit_code) +
                      (s.value("OOMKilled", false) ? " (out of memory)" : "") +
                      (error.empty() ? "" : ": " + error);
    }
    out.push_back(std::move(status));
  }
  return out;
}

Result<std::string> DockerRuntime::Logs(const std::string& env_id, int tail) {
  auto logs = Call("GET", "/containers/" + PercentEncode(ContainerName(env_id)) +
                              "/logs?stdout=1&stderr=1&tail=" + std::to_string(tail));
  if (!logs.ok()) return logs.status();
  if (logs->status == 404) return Status::NotFound("no workload " + env_id);
  if (logs->status != 200) return Status::IoError("docker logs: " + EngineSays(*logs));
  return DemuxDockerLogs(logs->body);
}

Result<nlohmann::json> DockerRuntime::Stats(const std::string& env_id) {
  auto stats =
      Call("GET", "/containers/" + PercentEncode(ContainerName(env_id)) + "/stats?stream=false");
  if (!stats.ok()) return stats.status();
  if (stats->status == 404) return Status::NotFound("no workload " + env_id);
  auto body = nlohmann::json::parse(stats->body, nullptr, false);
  if (stats->status != 200 || !body.is_object()) {
    return Status::IoError("docker stats: " + EngineSays(*stats));
  }
  return body;
}

}  // namespace remotegpu::agent
