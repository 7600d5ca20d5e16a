// remotegpu-bench-streams: what open streams and parked requests cost.
//
// Subscribers: the real `remotegpu serve` (embedded PostgreSQL) with N
// WebSocket subscribers of /ws/events (10,000; --quick 1,000) opened from
// this process on one thread. The server's RSS before and after they connect
// gives the memory per idle subscriber. Then host registrations are sent
// through the API at a fixed rate, each with its own X-Request-Id, which the
// events carry as trace_id: every subscriber counts the events it receives,
// and each receipt's delay from the moment its command was sent is a
// delivery sample. Two rates: a low one to every subscriber, and 1,000
// events/s to a smaller set (see the README for why not both at once).
//
// Parking: the server's HTTP core (api/http/http_server.h) in a child process,
// with a route that parks on a progress signal the way X-Min-Position parks
// on a projection; 10,000 (--quick 1,000) requests on their own connections
// are parked, the child's thread count is read before and during, then the
// signal advances and every answer's delay from that moment is a wake sample.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "api/http/envelope.h"
#include "api/http/http_server.h"
#include "api/http/router.h"
#include "bench/bench_flags.h"
#include "common/clock.h"
#include "common/progress.h"
#include "common/subprocess.h"
#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-streams [--quick] [--json]

Opens WebSocket subscribers of /ws/events on `remotegpu serve` (10,000;
--quick 1,000), measures the server's memory per idle subscriber and the
delivery of live events to them, then parks 10,000 (--quick 1,000) requests
in the HTTP core and measures threads held and wake-up delay.

  --quick   fewer subscribers and requests, shorter runs
  --json    end the output with one JSON object of the figures
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-streams: " << what << "\n";
  std::exit(1);
}

// A field of /proc/<pid>/status ("VmRSS:", "Threads:") as a number.
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}

int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  const size_t at = std::min(samples.size() - 1, static_cast<size_t>(p * samples.size()));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(at), samples.end());
  return samples[at];
}

// ---- Subscribers ----

// N WebSocket subscribers on one io_context; each message is scanned for
// the events' trace ids ("b-<n>"), whose send times the producer recorded.
class Subscribers {
 public:
  Subscribers(uint16_t port, std::string target, size_t count)
      : port_(port), target_(std::move(target)) {
    for (size_t i = 0; i < count; ++i) subscribers_.push_back(std::make_unique<One>(io_));
  }

  // Connects every subscriber, at most 256 handshakes at a time; how many
  // were upgraded.
  size_t Connect() {
    next_ = 0;
    for (int i = 0; i < 256; ++i) ConnectNext();
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (connected_ + failed_ < subscribers_.size() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return connected_;
  }
  // Stops reading and closes every connection (the server then drops them).
  void Stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    for (auto& one : subscribers_) {
      beast::error_code ignored;
      beast::get_lowest_layer(one->ws).socket().close(ignored);
    }
  }
  ~Subscribers() { Stop(); }

  // Starts counting anew (events of an earlier phase are ignored).
  void Reset(size_t first_command) {
    std::lock_guard lock(mu_);
    first_ = first_command;
    samples_.clear();
    events_ = 0;
    for (auto& one : subscribers_) one->events = 0;
  }
  // The fewest and the most events one connected subscriber received.
  std::pair<uint64_t, uint64_t> Spread() {
    std::lock_guard lock(mu_);
    uint64_t least = UINT64_MAX, most = 0;
    for (const auto& one : subscribers_) {
      if (!one->ws.is_open()) continue;
      least = std::min(least, one->events);
      most = std::max(most, one->events);
    }
    return {least == UINT64_MAX ? 0 : least, most};
  }
  uint64_t events() const { return events_.load(); }
  std::vector<double> Samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  struct One {
    explicit One(asio::io_context& io) : ws(io) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    uint64_t events = 0;  // The producer's events received this phase.
  };

  void ConnectNext() {
    if (next_ >= subscribers_.size()) return;
    One* one = subscribers_[next_++].get();
    beast::get_lowest_layer(one->ws).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
        [this, one](beast::error_code ec) {
          if (ec) return Failed();
          one->ws.async_handshake("127.0.0.1", target_, [this, one](beast::error_code ec) {
            if (ec) return Failed();
            ++connected_;
            ConnectNext();
            Read(one);
          });
        });
  }
  void Failed() {
    ++failed_;
    ConnectNext();
  }
  void Read(One* one) {
    one->ws.async_read(one->buffer, [this, one](beast::error_code ec, size_t) {
      if (ec) return;
      const std::string_view text(static_cast<const char*>(one->buffer.cdata().data()),
                                  one->buffer.size());
      Count(*one, text, SystemClock::Instance().NowMicros());
      one->buffer.consume(one->buffer.size());
      Read(one);
    });
  }
  // Each event's keys come sorted: its "recorded_at" (the commit time),
  // then its "trace_id" (the producer's b-<n>). Delivery is from the commit
  // to now, on this machine's one clock.
  void Count(One& one, std::string_view text, UnixMicros now) {
    static constexpr std::string_view kRecorded = "\"recorded_at\":\"";
    static constexpr std::string_view kTrace = "\"trace_id\":\"b-";
    size_t at = 0;
    std::lock_guard lock(mu_);
    while ((at = text.find(kRecorded, at)) != std::string_view::npos) {
      at += kRecorded.size();
      const size_t end = text.find('"', at);
      const size_t trace = text.find(kTrace, at);
      if (end == std::string_view::npos || trace == std::string_view::npos) break;
      auto recorded = ParseRfc3339(std::string(text.substr(at, end - at)));
      size_t n = 0;
      for (size_t i = trace + kTrace.size(); i < text.size() && text[i] >= '0' && text[i] <= '9';
           ++i) {
        n = n * 10 + static_cast<size_t>(text[i] - '0');
      }
      at = trace + kTrace.size();
      if (n < first_ || !recorded.ok()) continue;
      ++one.events;
      ++events_;
      samples_.push_back(static_cast<double>(now - *recorded) / 1e3);
    }
  }

  asio::io_context io_;
  const uint16_t port_;
  const std::string target_;
  std::vector<std::unique_ptr<One>> subscribers_;
  size_t next_ = 0;
  std::atomic<size_t> connected_{0};
  std::atomic<size_t> failed_{0};
  std::thread thread_;
  std::mutex mu_;
  size_t first_ = 0;             // Guarded by mu_.
  std::vector<double> samples_;  // Guarded by mu_.
  std::atomic<uint64_t> events_{0};
};

// Creates environments through the API at `rate` per second for `seconds`,
// from `threads` connections, each with X-Request-Id b-<n> (its events'
// trace_id); the numbers used.
size_t Produce(uint16_t port, const std::string& authorization, size_t first, double rate,
               int seconds, int threads) {
  const size_t total = static_cast<size_t>(rate * seconds);
  std::atomic<size_t> next{first};
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&] {
      asio::io_context io;
      beast::tcp_stream stream(io);
      stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
      while (true) {
        const size_t n = next++;
        if (n >= first + total) break;
        std::this_thread::sleep_until(
            start + std::chrono::nanoseconds(static_cast<int64_t>((n - first) * 1e9 / rate)));
        const nlohmann::json form = {{"env_id", "env-b" + std::to_string(n)},
                                     {"name", "job"},
                                     {"owner", "acme"},
                                     {"image", "pytorch"},
                                     {"cpu_cores", 1},
                                     {"memory_mb", 1024}};
        auto reply = api::testing_http::Exchange(
            stream, http::verb::post, "/api/environments", form.dump(),
            {{"X-Request-Id", "b-" + std::to_string(n)}, {"Authorization", authorization}});
        if (reply.status != 201 && failures++ < 3) {
          std::cerr << "  a creation failed: " << reply.status << " " << reply.raw << "\n";
        }
      }
    });
  }
  for (auto& producer : producers) producer.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::cerr << "    sent " << total << " creations in " << elapsed << " s ("
            << static_cast<long>(total / elapsed) << "/s)\n";
  return total;
}

// Registers `count` CPU hosts (128 cores, 1 TiB each) for the environments.
void RegisterHosts(uint16_t port, const std::string& authorization, int count) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  for (int n = 0; n < count; ++n) {
    const nlohmann::json form = {{"host_id", "host-" + std::to_string(n)},
                                 {"name", "node-" + std::to_string(n)},
                                 {"ip_address", "10.8.0." + std::to_string(n + 1)},
                                 {"cpu_cores", 128},
                                 {"memory_mb", 1048576},
                                 {"region", "cn-east"},
                                 {"gpus", nlohmann::json::array()}};
    auto reply = api::testing_http::Exchange(stream, http::verb::post, "/api/cmdb/hosts",
                                             form.dump(), {{"Authorization", authorization}});
    if (reply.status != 201) Die("registering a host: " + reply.raw);
  }
}

// Waits until `subscribers` stop receiving (2 s without a new event, 30 s at most).
void Settle(Subscribers& subscribers) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  uint64_t seen = subscribers.events();
  auto quiet_since = Clock::now();
  while (Clock::now() < deadline && Clock::now() - quiet_since < std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (const uint64_t now = subscribers.events(); now != seen) {
      seen = now;
      quiet_since = Clock::now();
    }
  }
}

// ---- Parking ----

// The child: the HTTP core with GET /wait/:position (parks on a progress
// signal) and GET /advance/:position (answers the monotonic time, then
// advances the signal), until its stdin closes. Writes its port to `out`.
[[noreturn]] void ParkingServer(int out) {
  std::atomic<uint64_t> head{1'000'000};
  ProgressSignal progress("bench", [&head] { return head.load(); });
  api::Router router;
  router.Add("GET", "/wait/:position", "bench", [&](const api::HttpRequest& r) {
    const uint64_t wanted = std::stoull(r.params.at("position"));
    if (progress.reached() >= wanted || r.resumed) return api::OkResponse(r, progress.reached());
    api::HttpResponse parked;
    parked.park = api::HttpResponse::Park{&progress, wanted, std::chrono::seconds(120)};
    return parked;
  });
  router.Add("GET", "/stats", "bench", [&](const api::HttpRequest& r) {
    return api::OkResponse(r, {{"parked", progress.waiting()}});
  });
  router.Add("GET", "/advance/:position", "bench", [&](const api::HttpRequest& r) {
    const int64_t at = Nanos(Clock::now());
    progress.Advance(std::stoull(r.params.at("position")));
    return api::OkResponse(r, {{"at_ns", at}});
  });
  auto server = api::HttpServer::Start(
      [&](const api::HttpRequest& r) { return router.Handle(r); },
      {.port = 0, .io_threads = 1, .worker_threads = 8, .max_queued = 1 << 20},
      [&](const api::HttpRequest& r) -> std::optional<api::HttpResponse> {
        if (r.path.starts_with("/advance/") || r.path == "/stats") return router.Handle(r);
        return std::nullopt;
      });
  if (!server.ok()) _exit(1);
  const uint16_t port = (*server)->port();
  if (write(out, &port, sizeof port) != sizeof port) _exit(1);
  close(out);
  char ignored;
  while (read(STDIN_FILENO, &ignored, 1) > 0) {
  }
  (*server)->Shutdown();
  _exit(0);
}

struct ParkingFigures {
  size_t parked = 0;
  long threads_before = 0, threads_parked = 0;
  size_t answered = 0;
  // Every request waits for one of `positions` positions; `interval` apart
  // the positions come one by one (a projection moving steadily); each
  // answer's delay is from its own position's coming. With one position all
  // come at once (a projection that was stuck).
  size_t positions = 0;
  double wake_p50_ms = 0, wake_p99_ms = 0, wake_max_ms = 0;
};

ParkingFigures MeasureParking(size_t requests, size_t positions,
                              std::chrono::microseconds interval) {
  int port_pipe[2], stdin_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(stdin_pipe) != 0) Die("pipe");
  const pid_t child = fork();
  if (child < 0) Die("fork");
  if (child == 0) {
    dup2(stdin_pipe[0], STDIN_FILENO);
    close(stdin_pipe[1]);
    close(port_pipe[0]);
    ParkingServer(port_pipe[1]);
  }
  close(stdin_pipe[0]);
  close(port_pipe[1]);
  uint16_t port = 0;
  if (read(port_pipe[0], &port, sizeof port) != sizeof port)
    Die("the parking server did not start");
  close(port_pipe[0]);

  ParkingFigures figures;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  figures.threads_before = ProcStatus(child, "Threads:");

  struct Call {
    explicit Call(asio::io_context& io) : stream(io) {}
    beast::tcp_stream stream;
    http::request<http::empty_body> request;
    uint64_t position = 0;
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    int64_t answered_ns = 0;
  };
  asio::io_context io;
  std::vector<std::unique_ptr<Call>> calls;
  size_t started = 0;
  std::atomic<size_t> answered{0};
  // At most 512 connections being opened at a time (the listen backlog).
  std::function<void()> start_next = [&] {
    if (started >= requests) return;
    Call* call = calls[started++].get();
    call->request.set(http::field::host, "127.0.0.1");
    call->stream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&, call](beast::error_code ec) {
          if (ec) return start_next();
          http::async_write(call->stream, call->request, [&, call](beast::error_code ec, size_t) {
            start_next();
            if (ec) return;
            http::async_read(call->stream, call->buffer, call->response,
                             [&, call](beast::error_code ec, size_t) {
                               if (ec) return;
                               call->answered_ns = Nanos(Clock::now());
                               ++answered;
                             });
          });
        });
  };
  for (size_t i = 0; i < requests; ++i) {
    calls.push_back(std::make_unique<Call>(io));
    calls.back()->position = i % positions + 1;
    calls.back()->request = {http::verb::get, "/wait/" + std::to_string(calls.back()->position),
                             11};
  }
  for (int i = 0; i < 512; ++i) start_next();
  std::thread client([&] {
    auto guard = asio::make_work_guard(io);
    io.run();
  });
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    auto stats = api::testing_http::Call(port, http::verb::get, "/stats");
    figures.parked = stats.body["data"]["parked"].get<size_t>();
    if (figures.parked >= requests) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  figures.threads_parked = ProcStatus(child, "Threads:");
  figures.positions = positions;
  // The positions come one by one, `interval` apart, each advance timed by
  // the server just before it wakes the waiters.
  std::vector<int64_t> came(positions + 1, 0);
  {
    asio::io_context advancing;
    beast::tcp_stream stream(advancing);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    const auto start = Clock::now();
    for (size_t p = 1; p <= positions; ++p) {
      std::this_thread::sleep_until(start + interval * static_cast<int64_t>(p - 1));
      auto advanced =
          api::testing_http::Exchange(stream, http::verb::get, "/advance/" + std::to_string(p));
      came[p] = advanced.body["data"]["at_ns"].get<int64_t>();
    }
  }
  while (answered < figures.parked && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io.stop();
  client.join();
  std::vector<double> wakes;
  for (const auto& call : calls) {
    if (call->answered_ns != 0) wakes.push_back((call->answered_ns - came[call->position]) / 1e6);
  }
  figures.answered = wakes.size();
  figures.wake_p50_ms = Percentile(wakes, 0.50);
  figures.wake_p99_ms = Percentile(wakes, 0.99);
  figures.wake_max_ms = wakes.empty() ? 0 : *std::max_element(wakes.begin(), wakes.end());
  close(stdin_pipe[1]);
  int status = 0;
  waitpid(child, &status, 0);
  return figures;
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-streams", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  const size_t subscriber_count = quick ? 1000 : 10000;
  const size_t parked_count = quick ? 1000 : 10000;
  const int seconds = quick ? 3 : 8;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < subscriber_count + 512) {
    Die("needs " + std::to_string(subscriber_count + 512) + " open files; the limit is " +
        std::to_string(files.rlim_cur));
  }

  // Parking first, while this process has no thread (it forks).
  std::cerr << "  parking " << parked_count << " requests in the HTTP core (a child process), "
            << "positions coming 1 ms apart\n";
  const ParkingFigures parking =
      MeasureParking(parked_count, parked_count / 10, std::chrono::milliseconds(1));
  std::cerr << "  parking " << parked_count << " requests, all for one position\n";
  const ParkingFigures mass = MeasureParking(parked_count, 1, std::chrono::milliseconds(0));

  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  testing::TempDir dir;
  std::cerr << "  starting remotegpu serve\n";
  auto child =
      Subprocess::Spawn({(self / "remotegpu").string(), "serve", "--data-dir", dir.Sub("data"),
                         "--listen", "127.0.0.1:0", "--log-format", "text"},
                        {.capture_stdout = true, .merge_stderr = true});
  if (!child.ok()) Die(child.status().ToString());
  const std::string started = api::testing_process::ReadUntil(*child, "ready:");
  const uint16_t port = api::testing_process::PortFrom(started);
  if (port == 0) Die("server did not start:\n" + started);
  // Its log is drained, so that it never blocks writing it.
  std::thread drain([fd = child->stdout_fd()] {
    char buffer[4096];
    while (read(fd, buffer, sizeof buffer) > 0) {
    }
  });
  if (api::testing_http::LogInAsAdmin(port).status != 200) Die("cannot log in");
  const std::string authorization = api::testing_http::DefaultAuthorization();
  const std::string token = authorization.substr(std::string("Bearer ").size());
  const pid_t server_pid = child->pid();

  // Environments on CPU hosts: each creation is a placement and one atomic
  // append of a few events (environment, host, access).
  const double low_rate = 10;    // Creations/s to every subscriber.
  const double high_rate = 250;  // Creations/s to a few: about 1,000 events/s.
  RegisterHosts(port, authorization, quick ? 20 : 60);
  Subscribers all(port, "/ws/events?access_token=" + token, subscriber_count);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_before = ProcStatus(server_pid, "VmRSS:");
  std::cerr << "  opening " << subscriber_count << " subscribers\n";
  const size_t connected = all.Connect();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long rss_after = ProcStatus(server_pid, "VmRSS:");
  const double rss_per_subscriber_kib =
      connected == 0 ? 0 : static_cast<double>(rss_after - rss_before) / connected;

  std::cerr << "  " << low_rate << " creations/s to all " << connected << " subscribers\n";
  all.Reset(0);
  const size_t low = Produce(port, authorization, 0, low_rate, seconds, 2);
  Settle(all);
  const auto [low_least, low_most] = all.Spread();
  const std::vector<double> low_samples = all.Samples();
  all.Stop();

  const size_t few = quick ? 50 : 100;
  std::cerr << "  " << high_rate << " creations/s to " << few << " subscribers\n";
  Subscribers some(port, "/ws/events?access_token=" + token, few);
  const size_t some_connected = some.Connect();
  some.Reset(low);
  const uint64_t high_from = api::testing_http::Call(port, http::verb::get, "/readyz")
                                 .body["data"]["log_position"]
                                 .get<uint64_t>();
  const auto high_start = Clock::now();
  const size_t high = Produce(port, authorization, low, high_rate, seconds, 8);
  const double high_seconds = std::chrono::duration<double>(Clock::now() - high_start).count();
  Settle(some);
  const uint64_t high_to = api::testing_http::Call(port, http::verb::get, "/readyz")
                               .body["data"]["log_position"]
                               .get<uint64_t>();
  const auto [high_least, high_most] = some.Spread();
  const std::vector<double> high_samples = some.Samples();
  some.Stop();
  api::testing_process::Terminate(*child);
  drain.join();
  const double high_eps = static_cast<double>(high_most) / high_seconds;

  std::printf("\nStreams: /ws/events subscribers on remotegpu serve, %u cores\n\n",
              std::thread::hardware_concurrency());
  std::printf("subscribers connected                         %zu of %zu\n", connected,
              subscriber_count);
  std::printf("server RSS per idle subscriber                %.1f KiB (%ld -> %ld KiB)\n",
              rss_per_subscriber_kib, rss_before, rss_after);
  std::printf(
      "%zu creations at %.0f/s, to %zu subscribers: each got %llu..%llu events; delivery "
      "p50 %.1f ms, p99 %.1f ms\n",
      low, low_rate, connected, static_cast<unsigned long long>(low_least),
      static_cast<unsigned long long>(low_most), Percentile(low_samples, 0.5),
      Percentile(low_samples, 0.99));
  std::printf(
      "%zu creations at %.0f/s (%.0f events/s, %llu in the log), to %zu subscribers: each "
      "got %llu..%llu; delivery p50 %.1f ms, p99 %.1f ms\n",
      high, high_rate, high_eps, static_cast<unsigned long long>(high_to - high_from),
      some_connected, static_cast<unsigned long long>(high_least),
      static_cast<unsigned long long>(high_most), Percentile(high_samples, 0.5),
      Percentile(high_samples, 0.99));
  std::printf("\nParking: %zu requests in the HTTP core\n", parking.parked);
  std::printf("server threads before / while parked          %ld / %ld\n", parking.threads_before,
              parking.threads_parked);
  std::printf(
      "%zu positions 1 ms apart, answered after their own: %zu, p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms\n",
      parking.positions, parking.answered, parking.wake_p50_ms, parking.wake_p99_ms,
      parking.wake_max_ms);
  std::printf(
      "all %zu for one position, answered after it:    %zu, p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms\n",
      mass.parked, mass.answered, mass.wake_p50_ms, mass.wake_p99_ms, mass.wake_max_ms);
  if (json) {
    nlohmann::json figures = {
        {"subscribers", connected},
        {"rss_per_subscriber_kib", rss_per_subscriber_kib},
        {"fanout_events_least", low_least},
        {"fanout_events_most", low_most},
        {"fanout_delivery_p99_ms", Percentile(low_samples, 0.99)},
        {"delivery_subscribers", some_connected},
        {"delivery_events_per_second", high_eps},
        {"delivery_events_least", high_least},
        {"delivery_events_most", high_most},
        {"delivery_events_logged", high_to - high_from},
        {"delivery_p99_ms", Percentile(high_samples, 0.99)},
        {"parked_requests", parking.parked},
        {"parked_thread_delta", parking.threads_parked - parking.threads_before},
        {"wake_p99_ms", parking.wake_p99_ms},
        {"mass_wake_p99_ms", mass.wake_p99_ms}};
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
