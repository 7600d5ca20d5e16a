// remotegpu-bench-ingest: server-side ingest of agents' heartbeats and
// metrics, against plain PostgreSQL COPY of the same rows in the same run as
// the ceiling; and the footprint of a real agent at its default intervals.
//
// It starts PostgreSQL and the real `remotegpu serve` found next to this
// binary, registers a fleet of 8-GPU hosts, then wrk (64 connections) plays
// their agents: each host alternates POST /internal/hosts/:id/metrics (one
// sample: a host row and 8 GPU rows) and POST /internal/hosts/:id/heartbeat.
// A "sample" below is one stored row, host or GPU: 10,000 hosts × 8 GPUs at
// 30 s intervals need 3,000 samples/s and 333 heartbeats/s.
//
// Ceiling: the rows the server stored, exported and written again with one
// COPY per table into an identical set of partitioned tables.
// Footprint: `remotegpu-agent` at its defaults (30 s heartbeat and metrics)
// against the same server; peak resident memory and CPU from /proc.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <utility>  // Before Boost: 1.74 Asio uses std::exchange without including it.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "agent/proc_text.h"
#include "bench/bench_flags.h"
#include "bench/wrk.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "projections/embedded_postgres.h"
#include "projections/metrics_store.h"
#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

namespace fs = std::filesystem;
namespace http = api::testing_http::http;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-ingest [--quick] [--json]

Plays a fleet of 8-GPU hosts' agents against `remotegpu serve` with wrk
(metrics and heartbeats, alternating), counts the rows stored in PostgreSQL,
and writes the same rows again with plain COPY as the ceiling. Then runs a
real remotegpu-agent at its default intervals and reads its memory and CPU.

  --quick   a smaller fleet, shorter runs (agent: 12 s instead of 65 s)
  --json    end the output with one JSON object of the figures
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-ingest: " << what << "\n";
  std::exit(1);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One agent's sample of an 8-GPU host, as the agent sends it.
std::string MetricsBody(int64_t now_us) {
  nlohmann::json gpus = nlohmann::json::array();
  for (int i = 0; i < 8; ++i) {
    gpus.push_back({{"index", i},
                    {"uuid", "GPU-bench-" + std::to_string(i)},
                    {"accessible", true},
                    {"utilizationPercent", 87.5},
                    {"memoryUsedBytes", "61234567890"},
                    {"memoryTotalBytes", "85520809984"},
                    {"temperatureC", 64},
                    {"powerW", 512.25},
                    {"powerLimitW", 700},
                    {"eccUncorrectableErrors", "0"},
                    {"eccCorrectedErrors", "0"},
                    {"hasTemperature", true},
                    {"hasPower", true},
                    {"hasEcc", true}});
  }
  nlohmann::json sample = {{"collectedAtUs", std::to_string(now_us)},
                           {"cpuUsagePercent", 43.1},
                           {"load1m", 12.5},
                           {"load5m", 11.2},
                           {"load15m", 10.9},
                           {"cpuCores", 128},
                           {"memoryTotalBytes", "1081985777664"},
                           {"memoryAvailableBytes", "512000000000"},
                           {"diskTotalBytes", "3840000000000"},
                           {"diskAvailableBytes", "2000000000000"},
                           {"diskReadBytes", "123456789012"},
                           {"diskWriteBytes", "98765432109"},
                           {"networkRxBytes", "5555555555555"},
                           {"networkTxBytes", "4444444444444"},
                           {"networkRxPackets", "7777777777"},
                           {"networkTxPackets", "6666666666"},
                           {"gpus", gpus}};
  return nlohmann::json{{"samples", {sample}}}.dump();
}

// Runs `sql` on `connection` or dies.
void Exec(PGconn* connection, const std::string& sql) {
  PGresult* result = PQexec(connection, sql.c_str());
  const auto status = PQresultStatus(result);
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Die(sql + ": " + PQerrorMessage(connection));
  }
}

int64_t CountRows(PGconn* connection, const std::string& table) {
  PGresult* result = PQexec(connection, ("SELECT count(*) FROM " + table).c_str());
  if (PQresultStatus(result) != PGRES_TUPLES_OK) Die(PQerrorMessage(connection));
  const int64_t count = std::stoll(PQgetvalue(result, 0, 0));
  PQclear(result);
  return count;
}

// The table's rows in COPY's text format.
std::string CopyOut(PGconn* connection, const std::string& table) {
  PGresult* started = PQexec(connection, ("COPY (SELECT * FROM " + table + ") TO STDOUT").c_str());
  if (PQresultStatus(started) != PGRES_COPY_OUT) Die(PQerrorMessage(connection));
  PQclear(started);
  std::string text;
  char* buffer = nullptr;
  int size = 0;
  while ((size = PQgetCopyData(connection, &buffer, 0)) > 0) {
    text.append(buffer, static_cast<size_t>(size));
    PQfreemem(buffer);
  }
  while (PGresult* done = PQgetResult(connection)) PQclear(done);
  return text;
}

void CopyIn(PGconn* connection, const std::string& table, const std::string& text) {
  PGresult* started = PQexec(connection, ("COPY " + table + " FROM STDIN").c_str());
  if (PQresultStatus(started) != PGRES_COPY_IN) Die(PQerrorMessage(connection));
  PQclear(started);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < text.size(); at += kChunk) {
    const int size = static_cast<int>(std::min(kChunk, text.size() - at));
    if (PQputCopyData(connection, text.data() + at, size) != 1) Die(PQerrorMessage(connection));
  }
  if (PQputCopyEnd(connection, nullptr) != 1) Die(PQerrorMessage(connection));
  while (PGresult* done = PQgetResult(connection)) {
    if (PQresultStatus(done) != PGRES_COMMAND_OK) Die(PQresultErrorMessage(done));
    PQclear(done);
  }
}

struct Footprint {
  int64_t peak_rss_kib = 0;
  int64_t rss_kib = 0;
  double cpu_percent = 0;  // Of one core, over the whole run.
  double seconds = 0;
};

// A running process's resident memory (VmRSS, VmHWM) and CPU seconds.
Footprint Measure(pid_t pid) {
  const std::string status = agent::ReadTextFile("/proc/" + std::to_string(pid) + "/status");
  Footprint f;
  f.rss_kib = std::atoll(agent::FieldOf(status, "VmRSS", ':').c_str());
  f.peak_rss_kib = std::atoll(agent::FieldOf(status, "VmHWM", ':').c_str());
  const std::string stat = agent::ReadTextFile("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the ")" of the command name: state is 3rd, utime 14th, stime 15th.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  f.cpu_percent = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return f;
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-ingest", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  const int hosts = quick ? 1000 : 10'000;
  const int seconds = quick ? 4 : 15;
  const int agent_seconds = quick ? 12 : 65;

  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  testing::TempDir dir;
  std::cerr << "  starting PostgreSQL\n";
  auto pg = projections::EmbeddedPostgres::Start({.data_dir = dir.Sub("pg")});
  if (!pg.ok()) Die(pg.status().ToString());
  const std::string conninfo = (*pg)->ConnectionString();

  std::cerr << "  starting remotegpu serve\n";
  api::testing_process::Server server =
      api::testing_process::StartServer((self / "remotegpu").string(), dir.Sub("data"),
                                        {"--pg-url", conninfo, "--log-format", "text"});
  if (server.port == 0) Die("server did not start:\n" + server.output);
  const uint16_t port = server.port;

  std::cerr << "  registering " << hosts << " hosts with 8 GPUs each\n";
  {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    nlohmann::json gpus = nlohmann::json::array();
    for (int i = 0; i < 8; ++i) {
      gpus.push_back({{"index", i},
                      {"model", "H100"},
                      {"memory_mb", 81559},
                      {"uuid", "GPU-bench-" + std::to_string(i)}});
    }
    for (int n = 0; n < hosts; ++n) {
      nlohmann::json form = {
          {"host_id", "host-" + std::to_string(n)},
          {"name", "node-" + std::to_string(n)},
          {"ip_address", "10.8." + std::to_string(n / 250) + "." + std::to_string(n % 250)},
          {"cpu_cores", 128},
          {"memory_mb", 1048576},
          {"region", "lab"},
          {"gpus", gpus}};
      auto reply =
          api::testing_http::Exchange(stream, http::verb::post, "/api/cmdb/hosts", form.dump());
      if (reply.status != 201) Die("registering a host: " + reply.raw);
    }
  }

  const std::string body_file = dir.Sub("metrics.json");
  std::ofstream(body_file) << MetricsBody(SystemClock::Instance().NowMicros());
  const std::string script = dir.Sub("agents.lua");
  std::ofstream(script)
      << "wrk.headers['Authorization'] = '" << api::testing_http::DefaultAuthorization() << "'\n"
      << "wrk.headers['Content-Type'] = 'application/json'\n"
         "local file = io.open('"
      << body_file
      << "')\n"
         "local body = file:read('*a')\n"
         "file:close()\n"
      << kWrkCounters
      << "request = function()\n"
         "  counter = counter + 1\n"
         "  local host = 'host-' .. ((math.floor(counter / 2) * 2 + tid) % "
      << hosts
      << ")\n"
         "  if counter % 2 == 0 then\n"
         "    return wrk.format('POST', '/internal/hosts/' .. host .. '/heartbeat', nil, '{}')\n"
         "  end\n"
         "  return wrk.format('POST', '/internal/hosts/' .. host .. '/metrics', nil, body)\n"
         "end\n";

  PGconn* connection = PQconnectdb(conninfo.c_str());
  if (PQstatus(connection) != CONNECTION_OK) Die(PQerrorMessage(connection));
  auto stored = [&] {
    return CountRows(connection, "rg_metrics.host_metrics") +
           CountRows(connection, "rg_metrics.gpu_metrics");
  };

  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::cerr << "  wrk: agents' metrics and heartbeats, 1 s warm-up (discarded)\n";
  RunWrk(base, script, 1);
  // Wait for the warm-up's rows, so the count below starts from rest.
  int64_t before = stored();
  for (int64_t last = -1; last != before;
       std::this_thread::sleep_for(std::chrono::milliseconds(300))) {
    last = before;
    before = stored();
  }
  std::cerr << "  wrk: agents' metrics and heartbeats, " << seconds << " s\n";
  const auto start = Clock::now();
  WrkFigures run = RunWrk(base, script, seconds);
  // Until the writer is done: the count stops moving.
  int64_t after = stored();
  for (int64_t last = -1; last != after;
       std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
    last = after;
    after = stored();
  }
  const double drained_s = Seconds(Clock::now() - start) - 0.2;
  const int64_t rows = after - before;
  const double samples_per_s = static_cast<double>(rows) / drained_s;
  const double heartbeats_per_s = run.rps / 2;

  std::cerr << "  COPY of the same rows into identical tables\n";
  {
    projections::MetricsStore ceiling(conninfo, "ceiling");
    Status opened = ceiling.Open(SystemClock::Instance().NowMicros());
    if (!opened.ok()) Die(opened.ToString());
  }
  const std::string host_rows = CopyOut(connection, "rg_metrics.host_metrics");
  const std::string gpu_rows = CopyOut(connection, "rg_metrics.gpu_metrics");
  const int64_t copied = CountRows(connection, "rg_metrics.host_metrics") +
                         CountRows(connection, "rg_metrics.gpu_metrics");
  const auto copy_start = Clock::now();
  Exec(connection, "BEGIN");
  CopyIn(connection, "ceiling_metrics.host_metrics", host_rows);
  CopyIn(connection, "ceiling_metrics.gpu_metrics", gpu_rows);
  Exec(connection, "COMMIT");
  const double copy_s = Seconds(Clock::now() - copy_start);
  const double copy_samples_per_s = static_cast<double>(copied) / copy_s;
  PQfinish(connection);

  std::cerr << "  remotegpu-agent at its default intervals for " << agent_seconds << " s\n";
  auto token =
      api::testing_http::Call(port, http::verb::post, "/api/admin/hosts/host-0/agent-tokens",
                              nlohmann::json{{"name", "bench"}}.dump());
  if (token.status != 201) Die("minting an agent token: " + token.raw);
  auto agent = Subprocess::Spawn({(self / "remotegpu-agent").string(), "--server", base, "--token",
                                  token.body["data"]["key"].get<std::string>()},
                                 {.capture_stdout = true, .merge_stderr = true});
  if (!agent.ok()) Die(agent.status().ToString());
  const auto agent_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(agent_seconds));
  Footprint footprint = Measure(agent->pid());
  footprint.seconds = Seconds(Clock::now() - agent_start);
  footprint.cpu_percent = 100.0 * footprint.cpu_percent / footprint.seconds;
  agent->Signal(SIGTERM);
  agent->Wait();
  api::testing_process::Terminate(*server.process);

  const double ratio = samples_per_s / copy_samples_per_s;
  std::printf("ingest over HTTP (%d hosts x 8 GPUs, wrk 64 connections, %d s):\n", hosts, seconds);
  std::printf(
      "  %.0f samples/s stored (%lld rows in %.1f s incl. the writer's drain), "
      "%.0f heartbeats/s, p99 %.1f ms, %ld refused (503)\n",
      samples_per_s, static_cast<long long>(rows), drained_s, heartbeats_per_s, run.p99_ms,
      run.non_2xx);
  std::printf("  fleet of 10,000 x 8 GPUs at 30 s needs 3,000 samples/s: %.1fx headroom\n",
              samples_per_s / 3000.0);
  std::printf("plain COPY of the same %lld rows: %.0f samples/s (%.2f s)\n",
              static_cast<long long>(copied), copy_samples_per_s, copy_s);
  std::printf("ratio ingest / COPY: %.2f\n", ratio);
  std::printf(
      "remotegpu-agent (defaults, %.0f s): peak RSS %lld KiB (now %lld KiB), CPU %.2f %% "
      "of one core\n",
      footprint.seconds, static_cast<long long>(footprint.peak_rss_kib),
      static_cast<long long>(footprint.rss_kib), footprint.cpu_percent);
  if (json) {
    std::printf("%s\n", nlohmann::json{{"hosts", hosts},
                                       {"samples_per_s", samples_per_s},
                                       {"heartbeats_per_s", heartbeats_per_s},
                                       {"p99_ms", run.p99_ms},
                                       {"refused", run.non_2xx},
                                       {"copy_samples_per_s", copy_samples_per_s},
                                       {"ratio", ratio},
                                       {"agent_rss_kib", footprint.peak_rss_kib},
                                       {"agent_cpu_percent", footprint.cpu_percent},
                                       {"agent_seconds", footprint.seconds}}
                            .dump()
                            .c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
