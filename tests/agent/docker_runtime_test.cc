// The docker driver against a local HTTP server speaking the Engine API's
// shapes on a unix socket: what it asks the engine for (create with GPU
// device requests, ports, variables, limits and a volume; start, stop,
// restart, remove with volumes, pull of a missing image, logs, stats) and
// how it reads the answers.
#include "agent/docker_runtime.h"

#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>

#include "common/subprocess.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

// An engine with containers in memory, answering one request per connection.
class FakeEngine {
 public:
  explicit FakeEngine(const std::string& socket_path)
      : acceptor_(io_, asio::local::stream_protocol::endpoint(socket_path)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeEngine() {
    io_.stop();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }

  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  json created_body(const std::string& name) {
    std::lock_guard lock(mu_);
    return containers_.at(name).body;
  }
  void Exit(const std::string& name, int code) {
    std::lock_guard lock(mu_);
    containers_.at(name).state = "exited";
    containers_.at(name).exit_code = code;
  }
  std::set<std::string> images_missing = {"missing:1"};

 private:
  struct Container {
    json body;
    std::string state = "created";
    int exit_code = 0;
  };

  void Serve() {
    while (true) {
      asio::local::stream_protocol::socket socket(io_);
      beast::error_code error;
      acceptor_.accept(socket, error);
      if (error) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, error);
      if (error) continue;
      http::response<http::string_body> response = Answer(request);
      response.prepare_payload();
      http::write(socket, response, error);
    }
  }

  http::response<http::string_body> Answer(const http::request<http::string_body>& request) {
    std::lock_guard lock(mu_);
    const std::string method(request.method_string());
    std::string target(request.target());
    requests_.push_back(method + " " + target);
    http::response<http::string_body> out{http::status::ok, 11};
    auto reply = [&](int status, const std::string& body = "") {
      out.result(status);
      out.body() = body;
      return out;
    };
    const std::string api = "/v1.43";
    if (!target.starts_with(api)) return reply(400, R"({"message":"no version"})");
    target = target.substr(api.size());
    const std::string query =
        target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    const std::string path = target.substr(0, target.find('?'));
    if (method == "POST" && path == "/images/create") {
      images_missing.clear();
      return reply(200, "{\"status\":\"Pulling\"}\n{\"status\":\"Done\"}\n");
    }
    if (method == "POST" && path == "/containers/create") {
      const std::string name = query.substr(query.find("name=") + 5);
      json body = json::parse(request.body());
      if (images_missing.contains(body["Image"])) {
        return reply(404, R"({"message":"No such image"})");
      }
      if (containers_.contains(name)) return reply(409, R"({"message":"Conflict"})");
      containers_[name] = {body};
      return reply(201, R"({"Id":"c0ffee","Warnings":[]})");
    }
    if (method == "GET" && path == "/containers/json") {
      json list = json::array();
      for (const auto& [name, c] : containers_) {
        list.push_back({{"Id", "c0ffee"},
                        {"Names", {"/" + name}},
                        {"Labels", c.body["Labels"]},
                        {"State", c.state}});
      }
      return reply(200, list.dump());
    }
    // /containers/<name>/<verb>
    const std::string rest = path.substr(std::string("/containers/").size());
    const std::string name = rest.substr(0, rest.find('/'));
    const std::string verb =
        rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    auto it = containers_.find(name);
    if (it == containers_.end()) return reply(404, R"({"message":"No such container"})");
    Container& c = it->second;
    if (method == "POST" && verb == "start") return c.state = "running", reply(204);
    if (method == "POST" && verb == "stop") {
      if (c.state != "running") return reply(304);
      return c.state = "exited", c.exit_code = 143, reply(204);
    }
    if (method == "POST" && verb == "restart") return c.state = "running", reply(204);
    if (method == "DELETE" && verb.empty()) return containers_.erase(it), reply(204);
    if (method == "GET" && verb == "json") {
      return reply(
          200,
          json{{"State", {{"ExitCode", c.exit_code}, {"OOMKilled", false}, {"Error", ""}}}}.dump());
    }
    if (method == "GET" && verb == "logs") {
      // Two frames: stdout "hello\n", stderr "oops\n".
      std::string framed;
      for (auto [stream, text] : {std::pair{1, "hello\n"}, std::pair{2, "oops\n"}}) {
        const std::string payload = text;
        framed += std::string{static_cast<char>(stream),        0, 0, 0, 0, 0, 0,
                              static_cast<char>(payload.size())};
        framed += payload;
      }
      return reply(200, framed);
    }
    if (method == "GET" && verb == "stats") {
      return reply(200, R"({"memory_stats":{"usage":1048576},"cpu_stats":{"online_cpus":4}})");
    }
    return reply(400, R"({"message":"unexpected"})");
  }

  asio::io_context io_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::map<std::string, Container> containers_;
};

class DockerRuntimeTest : public ::testing::Test {
 protected:
  DockerRuntimeTest() : engine_(dir_.Sub("docker.sock")) {
    auto client = DockerClient::Connect({.host = "unix://" + dir_.Sub("docker.sock")});
    EXPECT_TRUE(client.ok());
    runtime_ = std::make_unique<DockerRuntime>(std::move(*client));
  }
  testing::TempDir dir_;
  FakeEngine engine_;
  std::unique_ptr<DockerRuntime> runtime_;
};

WorkloadSpec Spec() {
  return {.env_id = "env-7",
          .image = "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
          .command = {"sleep", "infinity"},
          .env = {{"HF_HOME", "/workspace/hf"}},
          .gpu_indexes = {1, 3},
          .ports = {{"ssh", 30022, 22}, {"jupyter", 30888, 8888}},
          .cpu_cores = 8,
          .memory_mb = 32768,
          .generation = 2};
}

TEST(ContainerCreateBody, CarriesGpusPortsVariablesLimitsAndAVolume) {
  json body = ContainerCreateBody(Spec());
  EXPECT_EQ(body["Image"], "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime");
  EXPECT_EQ(body["Cmd"], json({"sleep", "infinity"}));
  EXPECT_EQ(body["Env"], json({"HF_HOME=/workspace/hf", "REMOTEGPU_ENV_ID=env-7"}));
  EXPECT_EQ(body["Labels"]["remotegpu.env_id"], "env-7");
  EXPECT_EQ(body["Labels"]["remotegpu.generation"], "2");
  EXPECT_TRUE(body["ExposedPorts"].contains("22/tcp"));
  EXPECT_EQ(body["HostConfig"]["PortBindings"]["8888/tcp"][0]["HostPort"], "30888");
  const json& gpus = body["HostConfig"]["DeviceRequests"][0];
  EXPECT_EQ(gpus["Driver"], "nvidia");
  EXPECT_EQ(gpus["DeviceIDs"], json({"1", "3"}));
  EXPECT_EQ(gpus["Capabilities"], json({{"gpu"}}));
  EXPECT_EQ(body["HostConfig"]["NanoCpus"], 8'000'000'000LL);
  EXPECT_EQ(body["HostConfig"]["Memory"], 32768LL << 20);
  EXPECT_TRUE(body["Volumes"].contains("/workspace"));
  WorkloadSpec cpu_only = Spec();
  cpu_only.gpu_indexes.clear();
  cpu_only.command.clear();
  json plain = ContainerCreateBody(cpu_only);
  EXPECT_FALSE(plain["HostConfig"].contains("DeviceRequests"));
  EXPECT_FALSE(plain.contains("Cmd"));  // The image's own command.
}

TEST(DemuxDockerLogs, FramesAndRawText) {
  std::string framed =
      std::string{1, 0, 0, 0, 0, 0, 0, 3} + "ab\n" + std::string{2, 0, 0, 0, 0, 0, 0, 2} + "c\n";
  EXPECT_EQ(DemuxDockerLogs(framed), "ab\nc\n");
  EXPECT_EQ(DemuxDockerLogs("plain tty output\n"), "plain tty output\n");
}

TEST_F(DockerRuntimeTest, StartListRestartAndRemove) {
  ASSERT_TRUE(runtime_->Start(Spec()).ok());
  EXPECT_EQ(engine_.created_body("remotegpu-env-7")["HostConfig"]["DeviceRequests"][0]["DeviceIDs"],
            json({"1", "3"}));
  auto listed = runtime_->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].env_id, "env-7");
  EXPECT_TRUE((*listed)[0].running);
  EXPECT_EQ((*listed)[0].generation, 2u);

  WorkloadSpec next = Spec();
  next.generation = 3;
  ASSERT_TRUE(runtime_->Restart(next).ok());
  EXPECT_EQ((*runtime_->List())[0].generation, 3u);  // Restarted in place.

  ASSERT_TRUE(runtime_->Remove("env-7").ok());
  EXPECT_TRUE(runtime_->List()->empty());
  EXPECT_TRUE(runtime_->Remove("env-7").ok());  // Already gone: fine.
  const auto requests = engine_.requests();
  auto asked = [&](const std::string& what) {
    return std::find(requests.begin(), requests.end(), what) != requests.end();
  };
  EXPECT_TRUE(asked("POST /v1.43/containers/remotegpu-env-7/start"));
  EXPECT_TRUE(asked("POST /v1.43/containers/remotegpu-env-7/restart?t=10"));
  EXPECT_TRUE(asked("POST /v1.43/containers/remotegpu-env-7/stop?t=10"));
  EXPECT_TRUE(asked("DELETE /v1.43/containers/remotegpu-env-7?v=1&force=1"));  // With volumes.
  EXPECT_TRUE(asked(
      "GET /v1.43/containers/json?all=1&filters=%7B%22label%22%3A%5B%22remotegpu.env_id%22%5D%7D"));
}

TEST_F(DockerRuntimeTest, AMissingImageIsPulledFirst) {
  WorkloadSpec spec = Spec();
  spec.image = "missing:1";
  ASSERT_TRUE(runtime_->Start(spec).ok());
  const auto requests = engine_.requests();
  EXPECT_NE(std::find(requests.begin(), requests.end(),
                      "POST /v1.43/images/create?fromImage=missing%3A1"),
            requests.end());
  EXPECT_TRUE((*runtime_->List())[0].running);
}

TEST_F(DockerRuntimeTest, AnExitedContainerSaysHowItEnded) {
  ASSERT_TRUE(runtime_->Start(Spec()).ok());
  engine_.Exit("remotegpu-env-7", 3);
  auto listed = runtime_->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_FALSE((*listed)[0].running);
  EXPECT_EQ((*listed)[0].exit_code, 3);
  EXPECT_EQ((*listed)[0].reason, "container exited with status 3");
}

TEST_F(DockerRuntimeTest, LogsAndStats) {
  ASSERT_TRUE(runtime_->Start(Spec()).ok());
  auto logs = runtime_->Logs("env-7", 100);
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "hello\noops\n");
  auto stats = runtime_->Stats("env-7");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["memory_stats"]["usage"], 1048576);
  EXPECT_EQ(runtime_->Logs("env-none", 10).status().code(), StatusCode::kNotFound);
}

TEST_F(DockerRuntimeTest, AnEngineThatIsNotThereIsUnavailable) {
  auto client = DockerClient::Connect({.host = "unix://" + dir_.Sub("no.sock")});
  ASSERT_TRUE(client.ok());
  DockerRuntime runtime(std::move(*client));
  EXPECT_EQ(runtime.List().status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(DockerClient::Connect({.host = "http://x"}).ok());
  EXPECT_FALSE(DockerClient::Connect({.host = "tcp://h:2376", .ca_file = "ca.pem"}).ok());
}

// A CA, and a server and a client certificate it signed (openssl's CLI).
void MakeCertificates(const std::string& dir, const std::string& ca_name) {
  auto run = [](const std::vector<std::string>& argv) {
    auto done = RunCommand(argv);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  };
  run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
       "/CN=" + ca_name, "-keyout", dir + "/ca-key.pem", "-out", dir + "/ca.pem"});
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1\n";
  for (const std::string who : {"server", "client"}) {
    run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + who, "-keyout",
         dir + "/" + who + "-key.pem", "-out", dir + "/" + who + ".csr"});
    std::vector<std::string> sign = {"openssl",
                                     "x509",
                                     "-req",
                                     "-in",
                                     dir + "/" + who + ".csr",
                                     "-CA",
                                     dir + "/ca.pem",
                                     "-CAkey",
                                     dir + "/ca-key.pem",
                                     "-CAcreateserial",
                                     "-days",
                                     "1",
                                     "-out",
                                     dir + "/" + who + ".pem"};
    if (who == "server") sign.insert(sign.end(), {"-extfile", dir + "/server.ext"});
    run(sign);
  }
}

// An engine on TCP that speaks only TLS and wants a client certificate from
// its CA; it answers every request with an empty container list.
class TlsEngine {
 public:
  explicit TlsEngine(const std::string& dir)
      : tls_(asio::ssl::context::tls_server),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain_file(dir + "/server.pem");
    tls_.use_private_key_file(dir + "/server-key.pem", asio::ssl::context::pem);
    tls_.load_verify_file(dir + "/ca.pem");
    tls_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsEngine() {
    io_.stop();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Serve() {
    while (true) {
      asio::ip::tcp::socket socket(io_);
      beast::error_code error;
      acceptor_.accept(socket, error);
      if (error) return;
      beast::ssl_stream<asio::ip::tcp::socket> stream(std::move(socket), tls_);
      stream.handshake(asio::ssl::stream_base::server, error);
      if (error) continue;  // No or a foreign client certificate.
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(stream, buffer, request, error);
      if (error) continue;
      http::response<http::string_body> response{http::status::ok, 11};
      response.body() = "[]";
      response.prepare_payload();
      http::write(stream, response, error);
      stream.shutdown(error);
    }
  }
  asio::io_context io_;
  asio::ssl::context tls_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(DockerTls, ClientCertificatesFromTheEnginesCa) {
  testing::TempDir dir, stranger;
  MakeCertificates(dir.path(), "engine-ca");
  MakeCertificates(stranger.path(), "another-ca");
  TlsEngine engine(dir.path());
  const std::string host = "tcp://127.0.0.1:" + std::to_string(engine.port());

  auto trusted = DockerClient::Connect({.host = host,
                                        .ca_file = dir.Sub("ca.pem"),
                                        .cert_file = dir.Sub("client.pem"),
                                        .key_file = dir.Sub("client-key.pem")});
  ASSERT_TRUE(trusted.ok()) << trusted.status().ToString();
  DockerRuntime runtime(std::move(*trusted));
  auto listed = runtime.List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty());

  // A client certificate from another CA, or none at all: no answer.
  auto foreign = DockerClient::Connect({.host = host,
                                        .ca_file = dir.Sub("ca.pem"),
                                        .cert_file = stranger.Sub("client.pem"),
                                        .key_file = stranger.Sub("client-key.pem")});
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(DockerRuntime(std::move(*foreign)).List().status().code(), StatusCode::kUnavailable);
  auto plain = DockerClient::Connect({.host = host, .timeout = std::chrono::milliseconds(2000)});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(DockerRuntime(std::move(*plain)).List().status().code(), StatusCode::kUnavailable);
  // An engine whose certificate another CA signed is not trusted.
  auto distrustful = DockerClient::Connect({.host = host,
                                            .ca_file = stranger.Sub("ca.pem"),
                                            .cert_file = stranger.Sub("client.pem"),
                                            .key_file = stranger.Sub("client-key.pem")});
  ASSERT_TRUE(distrustful.ok());
  EXPECT_EQ(DockerRuntime(std::move(*distrustful)).List().status().code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace remotegpu::agent
