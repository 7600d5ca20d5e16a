// remotegpu-bench-api: the HTTP API under wrk over loopback, with nginx
// answering a static 200 on the same machine in the same run as the ceiling.
//
// It starts the real `remotegpu serve` (embedded PostgreSQL) found next to
// this binary, registers hosts through the API, then runs with wrk at 64
// connections:
//   queries   GET /api/cmdb/hosts?page=…  and  GET /api/cmdb/hosts/<id>, alternating
//   commands  POST /api/environments (each a placement and one durable
//             multi-stream append)
//   nginx     GET / answered "ok" by nginx with one worker per core
// The query mix runs with an access token, with an API key, and (after a
// restart with --insecure-no-auth on the same data) with no authentication,
// to show what authentication costs per request. The command mix's peers
// run in this process: the same creations through EnvironmentService, and
// the log's own durable appends (see MeasureInProcess).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

#include "bench/bench_flags.h"
#include "bench/wrk.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "commands/secrets.h"
#include "common/subprocess.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

namespace fs = std::filesystem;
namespace http = api::testing_http::http;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-api [--quick] [--json] [-- SERVE-FLAGS]

Drives `remotegpu serve` with wrk over loopback: a query mix (host list pages
and host details) and a command mix (environment creations), 64 connections,
and nginx answering a static 200 in the same run as the ceiling. Prints
requests/s and p99 latency of each.

  --quick   shorter runs and a smaller fleet
  --json    end the output with one JSON object of the figures
  -- ...    flags for `remotegpu serve` (--projection-linger-ms 50, --http-workers 32)
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-api: " << what << "\n";
  std::exit(1);
}

// The peers of the HTTP command mix, in this process on this machine's disk:
// the same environment creations through EnvironmentService (same fleet,
// same spec, passwords sealed, one durable multi-stream append each) from 64
// threads, and the log's own durable appends (one event each) from 64
// threads. Neither runs projections; the server does, on the same cores.
struct InProcess {
  double creations_per_s = 0;
  double appends_per_s = 0;
};

InProcess MeasureInProcess(int hosts, int seconds) {
  using namespace std::chrono;
  InProcess figures;
  constexpr int kThreads = 64;
  const commands::CommandMeta meta{{eventstore::ActorKind::kSystem, "bench", ""}, "", "", ""};
  {
    testing::TempDir dir;
    auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
    if (!store.ok()) Die(store.status().ToString());
    commands::AggregateCache<commands::HostTraits> host_cache(**store);
    commands::AggregateCache<commands::EnvironmentTraits> env_cache(**store);
    commands::SchedulerIndex index;
    commands::StripedLock locks;
    commands::FileDataKeyStore keys(dir.Sub("keys"));
    commands::HostService host_service(**store, SystemClock::Instance(), index, host_cache, locks);
    commands::EnvironmentService environments(**store, SystemClock::Instance(), index, host_cache,
                                              env_cache, locks, {.keys = &keys});
    std::cerr << "  in-process: registering " << hosts << " hosts\n";
    for (int n = 0; n < hosts; ++n) {
      domain::HostCommand command;
      auto* spec = command.mutable_register_()->mutable_spec();
      spec->set_name("node-" + std::to_string(n));
      spec->set_ip("10.9." + std::to_string(n / 250) + "." + std::to_string(n % 250));
      spec->set_cpu_cores(128);
      spec->set_memory_mb(1048576);
      spec->set_region(n % 2 ? "cn-east" : "cn-west");
      for (uint32_t i = 0; i < 8; ++i) {
        auto* gpu = command.mutable_register_()->add_gpus();
        gpu->set_index(i);
        gpu->set_model("A100");
        gpu->set_memory_mb(81920);
      }
      if (auto done = host_service.Execute("host-" + std::to_string(n), command, meta); !done.ok()) {
        Die(done.status().ToString());
      }
    }
    std::cerr << "  in-process: environment creations from " << kThreads << " threads\n";
    std::atomic<bool> stop{false};
    std::atomic<long> created{0};
    std::vector<std::thread> threads;
    const auto start = steady_clock::now();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          domain::EnvironmentSpec spec;
          spec.set_name("job");
          spec.set_owner("acme");
          spec.set_image("pytorch");
          spec.set_cpu_cores(2);
          spec.set_memory_mb(4096);
          spec.set_gpu_count(1);
          auto* ssh = spec.add_ports();
          ssh->set_service(domain::SSH);
          ssh->set_count(1);
          auto placed = environments.Create(
              "env-p" + std::to_string(t) + "-" + std::to_string(i), spec, meta);
          if (placed.ok()) ++created;
        }
      });
    }
    std::this_thread::sleep_for(seconds * 1s);
    stop = true;
    for (auto& thread : threads) thread.join();
    figures.creations_per_s =
        created.load() / duration<double>(steady_clock::now() - start).count();
  }
  {
    testing::TempDir dir;
    auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
    if (!store.ok()) Die(store.status().ToString());
    std::cerr << "  in-process: durable appends from " << kThreads << " threads\n";
    std::atomic<bool> stop{false};
    std::atomic<long> appended{0};
    std::vector<std::thread> threads;
    const auto start = steady_clock::now();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        eventstore::EventData event;
        event.type = "BenchEvent";
        event.payload = std::string(200, 'x');  // About an environment event's size.
        for (int i = 0; !stop.load(); ++i) {
          auto done = (*store)->Append({{"bench-" + std::to_string(t) + "-" + std::to_string(i),
                                         eventstore::ExpectedVersion::NoStream(),
                                         {event}}});
          if (done.ok()) ++appended;
        }
      });
    }
    std::this_thread::sleep_for(seconds * 1s);
    stop = true;
    for (auto& thread : threads) thread.join();
    figures.appends_per_s =
        appended.load() / duration<double>(steady_clock::now() - start).count();
  }
  return figures;
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-api", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  const int seconds = quick ? 3 : 8;
  const int hosts = quick ? 1500 : 4000;

  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  const std::string server_bin = (self / "remotegpu").string();
  testing::TempDir dir;

  // `remotegpu serve` on the bench's data dir with `extra` flags; its port.
  auto start_server = [&](const std::vector<std::string>& extra) {
    std::cerr << "  starting remotegpu serve\n";
    std::vector<std::string> serve = {server_bin, "serve",       "--data-dir",   dir.Sub("data"),
                                      "--listen", "127.0.0.1:0", "--log-format", "text"};
    const auto& passed_on = std::get<BenchFlags>(parsed).passed_on;
    serve.insert(serve.end(), passed_on.begin(), passed_on.end());
    serve.insert(serve.end(), extra.begin(), extra.end());
    auto child = Subprocess::Spawn(serve, {.capture_stdout = true, .merge_stderr = true});
    if (!child.ok()) Die(child.status().ToString());
    const std::string started = api::testing_process::ReadUntil(*child, "ready:");
    const uint16_t port = api::testing_process::PortFrom(started);
    if (port == 0) Die("server did not start:\n" + started);
    return std::make_pair(std::make_unique<Subprocess>(std::move(*child)), port);
  };
  std::unique_ptr<Subprocess> server;
  uint16_t port = 0;
  std::tie(server, port) = start_server({});
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  // The first admin (REMOTEGPU_ADMIN_PASSWORD, from http_client.h); every
  // request below, wrk's too, carries its access token.
  auto login = api::testing_http::LogInAsAdmin(port);
  if (login.status != 200) Die("logging in: " + login.raw);
  const std::string authorization =
      "wrk.headers['Authorization'] = '" + api::testing_http::DefaultAuthorization() + "'\n";
  auto key = api::testing_http::Call(port, http::verb::post, "/api/auth/api-keys",
                                     nlohmann::json{{"name", "bench"}}.dump());
  if (key.status != 201) Die("creating an API key: " + key.raw);
  const std::string api_key =
      "wrk.headers['X-Api-Key'] = '" + key.body["data"]["key"].get<std::string>() + "'\n";

  std::cerr << "  registering " << hosts << " hosts through the API\n";
  uint64_t position = 0;
  {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    for (int n = 0; n < hosts; ++n) {
      nlohmann::json gpus = nlohmann::json::array();
      for (int i = 0; i < 8; ++i)
        gpus.push_back({{"index", i}, {"model", "A100"}, {"memory_mb", 81920}});
      nlohmann::json form = {
          {"host_id", "host-" + std::to_string(n)},
          {"name", "node-" + std::to_string(n)},
          {"ip_address", "10.9." + std::to_string(n / 250) + "." + std::to_string(n % 250)},
          {"cpu_cores", 128},
          {"memory_mb", 1048576},
          {"region", n % 2 ? "cn-east" : "cn-west"},
          {"gpus", gpus}};
      auto reply =
          api::testing_http::Exchange(stream, http::verb::post, "/api/cmdb/hosts", form.dump());
      if (reply.status != 201) Die("registering a host: " + reply.raw);
      position = reply.body["data"]["position"].get<uint64_t>();
    }
  }
  // Wait until the read model has every host, so queries read full pages.
  auto ready = api::testing_http::Call(port, http::verb::get, "/api/cmdb/hosts?pageSize=1", "",
                                       {{"X-Min-Position", std::to_string(position)}});
  if (ready.status != 200) Die("read model did not catch up: " + ready.raw);

  // The query mix; `bust` adds a parameter no two requests share, so that
  // every query misses the answer cache and goes to PostgreSQL.
  auto query_script = [&](const std::string& name, bool bust, const std::string& credentials) {
    const std::string path = dir.Sub(name);
    const std::string unique = " .. '_=' .. tid .. '-' .. counter";
    const std::string page_suffix = bust ? " .. '&'" + unique : "";
    const std::string detail_suffix = bust ? " .. '?'" + unique : "";
    std::ofstream(path) << credentials << kWrkCounters
                        << "request = function()\n"
                           "  counter = counter + 1\n"
                           "  if counter % 2 == 0 then\n"
                           "    return wrk.format('GET', '/api/cmdb/hosts?page=' .. (counter % 50 "
                           "+ 1) .. '&pageSize=20'"
                        << page_suffix
                        << ")\n"
                           "  end\n"
                           "  return wrk.format('GET', '/api/cmdb/hosts/host-' .. (counter % "
                        << hosts << ")" << detail_suffix
                        << ")\n"
                           "end\n";
    return path;
  };
  const std::string queries = query_script("queries.lua", false, authorization);
  const std::string cold_queries = query_script("cold-queries.lua", true, authorization);
  const std::string key_queries = query_script("key-queries.lua", false, api_key);
  // With authentication off the same token is sent (and ignored), so that
  // both runs move the same bytes and only the server's checks differ.
  const std::string open_queries = query_script("open-queries.lua", false, authorization);
  const std::string commands = dir.Sub("commands.lua");
  std::ofstream(commands)
      << authorization << kWrkCounters
      << "function init(args)\n"
         "  prefix = tostring(tid) .. '-' .. tostring(os.time())\n"
         "end\n"
         "wrk.method = 'POST'\n"
         "wrk.headers['Content-Type'] = 'application/json'\n"
         "request = function()\n"
         "  counter = counter + 1\n"
         "  local body = '{\"env_id\":\"env-' .. prefix .. '-' .. counter .. '\",\"name\":\"job\","
         "\"owner\":\"acme\",\"image\":\"pytorch\",\"cpu_cores\":2,\"memory_mb\":4096,"
         "\"gpu_count\":1,\"ports\":{\"ssh\":1}}'\n"
         "  return wrk.format(nil, '/api/environments', nil, body)\n"
         "end\n";

  std::cerr << "  wrk: query mix, 1 s warm-up (discarded)\n";
  RunWrk(base, queries, 1);
  std::cerr << "  wrk: query mix\n";
  WrkFigures query = RunWrk(base, queries, seconds);
  std::cerr << "  wrk: query mix, every query a cache miss\n";
  WrkFigures cold = RunWrk(base, cold_queries, seconds);
  std::cerr << "  wrk: query mix with an API key\n";
  WrkFigures keyed = RunWrk(base, key_queries, seconds);
  std::cerr << "  wrk: command mix\n";
  WrkFigures command = RunWrk(base, commands, seconds);
  api::testing_process::Terminate(*server);

  // The same data served with authentication off: what it costs.
  std::tie(server, port) = start_server({"--insecure-no-auth"});
  base = "http://127.0.0.1:" + std::to_string(port);
  auto caught_up = api::testing_http::Call(port, http::verb::get, "/api/cmdb/hosts?pageSize=1", "",
                                           {{"X-Min-Position", std::to_string(position)}});
  if (caught_up.status != 200) Die("read model did not catch up: " + caught_up.raw);
  std::cerr << "  wrk: query mix, authentication off, 1 s warm-up (discarded)\n";
  RunWrk(base, open_queries, 1);
  std::cerr << "  wrk: query mix, authentication off\n";
  WrkFigures open = RunWrk(base, open_queries, seconds);
  api::testing_process::Terminate(*server);

  // The ceiling: nginx, one worker per core, a static 200.
  std::cerr << "  wrk: nginx static 200\n";
  const int nginx_port = 20000 + static_cast<int>(getpid() % 20000);
  const std::string nginx_dir = dir.Sub("nginx");
  fs::create_directories(nginx_dir);
  std::ofstream(nginx_dir + "/nginx.conf")
      << "worker_processes " << std::thread::hardware_concurrency() << ";\n"
      << "daemon off;\npid " << nginx_dir << "/nginx.pid;\nerror_log " << nginx_dir
      << "/error.log;\nevents { worker_connections 1024; }\n"
      << "http { access_log off; client_body_temp_path " << nginx_dir << ";\n"
      << "  server { listen 127.0.0.1:" << nginx_port << "; location / { return 200 'ok'; } } }\n";
  auto nginx =
      Subprocess::Spawn({"/usr/sbin/nginx", "-c", nginx_dir + "/nginx.conf", "-p", nginx_dir}, {});
  if (!nginx.ok()) Die(nginx.status().ToString());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  WrkFigures ceiling = RunWrk("http://127.0.0.1:" + std::to_string(nginx_port) + "/", "", seconds);
  nginx->Signal(SIGQUIT);
  nginx->Wait();
  if (ceiling.rps == 0) Die("nginx answered nothing:\n" + ceiling.output);

  const InProcess in_process = MeasureInProcess(hosts, seconds);

  std::printf("\nHTTP API under wrk, 64 connections, 2 wrk threads, %d s per run, %u cores\n\n",
              seconds, std::thread::hardware_concurrency());
  std::printf("%-44s %12s %10s\n", "", "requests/s", "p99 ms");
  std::printf("%-44s %12.0f %10.2f\n", "queries (host list page / host detail)", query.rps,
              query.p99_ms);
  std::printf("%-44s %12.0f %10.2f\n", "  the same, every one a cache miss", cold.rps, cold.p99_ms);
  std::printf("%-44s %12.0f %10.2f\n", "  the same, with an API key", keyed.rps, keyed.p99_ms);
  std::printf("%-44s %12.0f %10.2f\n", "  the same, authentication off", open.rps, open.p99_ms);
  std::printf("%-44s %12.0f %10.2f\n", "commands (create environment, durable)", command.rps,
              command.p99_ms);
  std::printf("%-44s %12.0f %10.2f\n", "nginx static 200 (ceiling)", ceiling.rps, ceiling.p99_ms);
  std::printf("%-44s %12.0f\n", "the same creations in-process, 64 threads", in_process.creations_per_s);
  std::printf("%-44s %12.0f\n", "the log's durable appends, 64 threads", in_process.appends_per_s);
  std::printf("\ncommands over HTTP / in-process: %.1f %%\n",
              100.0 * command.rps / in_process.creations_per_s);
  std::printf("in-process creations / durable appends: %.1f %%\n",
              100.0 * in_process.creations_per_s / in_process.appends_per_s);
  std::printf("\nqueries / nginx: %.1f %%\n", 100.0 * query.rps / ceiling.rps);
  std::printf("queries with an access token / authentication off: %.1f %%\n",
              100.0 * query.rps / open.rps);
  std::printf("queries with an API key / authentication off: %.1f %%\n",
              100.0 * keyed.rps / open.rps);
  if (json) {
    nlohmann::json figures = {{"query_rps", query.rps},
                              {"query_p99_ms", query.p99_ms},
                              {"query_uncached_rps", cold.rps},
                              {"query_uncached_p99_ms", cold.p99_ms},
                              {"command_rps", command.rps},
                              {"command_p99_ms", command.p99_ms},
                              {"nginx_rps", ceiling.rps},
                              {"query_ratio", query.rps / ceiling.rps},
                              {"query_api_key_rps", keyed.rps},
                              {"query_no_auth_rps", open.rps},
                              {"auth_ratio", query.rps / open.rps},
                              {"command_in_process_rps", in_process.creations_per_s},
                              {"log_durable_eps", in_process.appends_per_s},
                              {"command_http_ratio", command.rps / in_process.creations_per_s},
                              {"command_log_ratio",
                               in_process.creations_per_s / in_process.appends_per_s}};
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
