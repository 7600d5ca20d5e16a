// remotegpu-bench-eventstore: durable append throughput and latency of our
// RocksDB event store against a PostgreSQL event table in the common style,
// measured in the same run on the same disk.
//
// Workload: closed-loop appenders, each sending single-event commands of
// about 300 bytes with an exact expected version, to its own 16 streams.
// "Durable" means the event is on disk (fsync) before the append returns:
// RocksDB with a synced WAL write per group commit; PostgreSQL with
// synchronous_commit = on and one transaction per command.
//
// The peer table: one row per event, unique(stream_id, version), jsonb body,
// which is how most event stores on PostgreSQL are built.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using eventstore::ExpectedVersion;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-eventstore [--quick] [--json]

Measures durable appends per second and p50/p99 latency with 1, 8 and 64
concurrent appenders (single-event commands of ~300 bytes) against our RocksDB
event store and, in the same run, a PostgreSQL event table (one transaction per
command, synchronous_commit on) started by this program. Our store is driven
two ways: N appends in flight through AppendAsync (as the server drives it) and
N threads blocking in Append. Also measures unsynced appends and a full-log read.

  --quick   a short run (about 20 s instead of about 70 s)
  --json    end the output with one JSON object of the figures
  --help    print this and exit

Data goes to a temporary directory under $TMPDIR (or /tmp), removed at exit.
)";

struct RunFigures {
  double events_per_second = 0;
  double events_per_sync = 0;  // Ours only: events made durable per WAL fsync.
  double write_us = 0;         // Ours only: mean time of one group write (memtable + WAL).
  double sync_us = 0;          // Ours only: mean time of one WAL fsync.
  double p50_us = 0;
  double p99_us = 0;
  uint64_t events = 0;
  double cpu_cores = 0;  // This process's CPU time (user + system) / wall time.
};

// ~300 bytes of JSON, like a GpuAllocated event.
std::string Payload(int appender, uint64_t n) {
  std::string body = R"({"host_id":"host-)" + std::to_string(appender) +
                     R"(","gpu_indexes":[0,1],"gpu_model":"NVIDIA A100-SXM4-80GB",)"
                     R"("environment_id":"env-)" +
                     std::to_string(n) +
                     R"(","cpu_cores":16,"memory_mb":131072,"reason":"scheduled by best-fit",)"
                     R"("pad":")";
  body.append(std::max<int>(0, 296 - static_cast<int>(body.size())), 'x');
  body += "\"}";
  return body;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

RunFigures Summarise(const std::vector<std::vector<uint32_t>>& latencies, double seconds,
                     double cpu_seconds) {
  std::vector<uint32_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  RunFigures figures;
  figures.events = all.size();
  figures.cpu_cores = cpu_seconds / seconds;
  figures.events_per_second = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) {
    figures.p50_us = all[all.size() / 2];
    figures.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return figures;
}

// Runs `appenders` threads, each calling `append(thread, n)` in a loop for
// `duration`, and returns throughput and latency percentiles.
template <typename AppendFn>
RunFigures RunClosedLoop(int appenders, std::chrono::milliseconds duration, AppendFn append) {
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<std::vector<uint32_t>> latencies(appenders);
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      latencies[t].reserve(1 << 16);
      ++ready;
      while (ready.load() < appenders) std::this_thread::yield();
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        auto start = SteadyClock::now();
        append(t, n);
        auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start);
        latencies[t].push_back(static_cast<uint32_t>(micros.count()));
      }
    });
  }
  while (ready.load() < appenders) std::this_thread::yield();
  auto start = SteadyClock::now();
  double cpu_start = ProcessCpuSeconds();
  std::this_thread::sleep_for(duration);
  stop.store(true);
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  double cpu_seconds = ProcessCpuSeconds() - cpu_start;

  return Summarise(latencies, seconds, cpu_seconds);
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-eventstore: " << what << "\n";
  std::exit(1);
}

constexpr int kStreamsPerAppender = 16;

// Command n of appender t: one event for stream host-<round>-<t>-<n % 16>,
// expecting the version the appender last saw there.
std::vector<eventstore::StreamAppend> Command(const std::string& round, int t, uint64_t n,
                                              uint64_t expected_version) {
  eventstore::EventData event;
  event.type = "GpuAllocated";
  event.payload = Payload(t, n);
  event.actor = {eventstore::ActorKind::kUser, "user-1", "bench"};
  std::vector<eventstore::StreamAppend> command;
  command.push_back(
      {"host-" + round + "-" + std::to_string(t) + "-" + std::to_string(n % kStreamsPerAppender),
       ExpectedVersion::Exact(expected_version),
       {std::move(event)}});
  return command;
}

// Fills in the store's own counters for the run between `before` and now.
void AddWriterFigures(const eventstore::RocksDbEventStore& store,
                      const eventstore::WriterStats& before, RunFigures& figures) {
  const eventstore::WriterStats after = store.Stats();
  double writes = static_cast<double>(after.group_writes - before.group_writes);
  double syncs = static_cast<double>(after.wal_syncs - before.wal_syncs);
  figures.events_per_sync = static_cast<double>(after.events - before.events) / syncs;
  figures.write_us = static_cast<double>(after.write_micros - before.write_micros) / writes;
  figures.sync_us = static_cast<double>(after.sync_micros - before.sync_micros) / syncs;
}

// Blocking Append, one thread per appender.
RunFigures RunOursThreads(eventstore::RocksDbEventStore& store, int appenders, bool sync,
                          std::chrono::milliseconds duration, const std::string& round) {
  std::vector<std::vector<uint64_t>> versions(appenders,
                                              std::vector<uint64_t>(kStreamsPerAppender, 0));
  const eventstore::WriterStats before = store.Stats();
  RunFigures figures = RunClosedLoop(appenders, duration, [&](int t, uint64_t n) {
    auto& version = versions[t][n % kStreamsPerAppender];
    auto result = store.Append(Command(round, t, n, version), {.sync = sync});
    if (!result.ok()) Die("append failed: " + result.status().ToString());
    ++version;
  });
  AddWriterFigures(store, before, figures);
  return figures;
}

// AppendAsync with `appenders` appends in flight, each issuing its next
// command from the completion of the previous one: how an event-loop server
// (the HTTP API) drives the store, without a thread per request.
RunFigures RunOursAsync(eventstore::RocksDbEventStore& store, int appenders, bool sync,
                        std::chrono::milliseconds duration, const std::string& round) {
  struct Appender {
    int t = 0;
    uint64_t n = 0;
    std::vector<uint64_t> versions = std::vector<uint64_t>(kStreamsPerAppender, 0);
    std::vector<uint32_t> latencies;
    SteadyClock::time_point sent;
  };
  std::vector<Appender> state(appenders);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable all_stopped;
  int running = appenders;
  std::function<void(Appender&)> send = [&](Appender& a) {
    if (stop.load(std::memory_order_relaxed)) {
      std::lock_guard lock(mu);
      if (--running == 0) all_stopped.notify_one();
      return;
    }
    a.sent = SteadyClock::now();
    store.AppendAsync(
        Command(round, a.t, a.n, a.versions[a.n % kStreamsPerAppender]), {.sync = sync},
        [&](Result<eventstore::AppendResult> result) {
          if (!result.ok()) Die("append failed: " + result.status().ToString());
          a.latencies.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - a.sent)
                  .count()));
          ++a.versions[a.n % kStreamsPerAppender];
          ++a.n;
          send(a);
        });
  };
  const eventstore::WriterStats before = store.Stats();
  auto start = SteadyClock::now();
  double cpu_start = ProcessCpuSeconds();
  for (int t = 0; t < appenders; ++t) {
    state[t].t = t;
    state[t].latencies.reserve(1 << 18);
    send(state[t]);
  }
  std::this_thread::sleep_for(duration);
  stop.store(true);
  {
    std::unique_lock lock(mu);
    all_stopped.wait(lock, [&] { return running == 0; });
  }
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  std::vector<std::vector<uint32_t>> latencies;
  for (auto& a : state) latencies.push_back(std::move(a.latencies));
  RunFigures figures = Summarise(latencies, seconds, cpu_seconds);
  AddWriterFigures(store, before, figures);
  return figures;
}

// The same workload against the PostgreSQL table, one connection per appender.
RunFigures RunPostgres(const std::string& conninfo, int appenders,
                       std::chrono::milliseconds duration, const std::string& round) {
  constexpr int kStreamsPerAppender = 16;
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  for (int t = 0; t < appenders; ++t) {
    connections.push_back(std::make_unique<pqxx::connection>(conninfo));
    connections.back()->prepare(
        "append",
        "INSERT INTO events (event_id, stream_id, version, type, actor, body) "
        "VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb)");
  }
  std::vector<std::vector<uint64_t>> versions(appenders,
                                              std::vector<uint64_t>(kStreamsPerAppender, 0));
  UuidV7Generator ids(SystemClock::Instance());
  return RunClosedLoop(appenders, duration, [&](int t, uint64_t n) {
    int k = static_cast<int>(n % kStreamsPerAppender);
    try {
      pqxx::work tx(*connections[t]);
      tx.exec_prepared("append", ids.NewId().ToString(),
                       "host-" + round + "-" + std::to_string(t) + "-" + std::to_string(k),
                       static_cast<int64_t>(versions[t][k] + 1), "GpuAllocated", "user-1",
                       Payload(t, n));
      tx.commit();
    } catch (const std::exception& e) {
      Die(std::string("PostgreSQL append failed: ") + e.what());
    }
    ++versions[t][k];
  });
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-eventstore", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  spdlog::set_level(spdlog::level::warn);
  const auto duration = std::chrono::milliseconds(quick ? 1500 : 5000);
  const int kAppenders[] = {1, 8, 64};
  testing::TempDir dir;
  auto progress = [&](const std::string& what) { std::cerr << "  running: " << what << "\n"; };

  // Ours.
  auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!store.ok()) Die(store.status().ToString());
  std::vector<RunFigures> ours, ours_threads;
  for (int n : kAppenders) {
    progress("event store, durable, " + std::to_string(n) + " appends in flight");
    ours.push_back(RunOursAsync(**store, n, true, duration, "a" + std::to_string(n)));
  }
  for (int n : kAppenders) {
    progress("event store, durable, " + std::to_string(n) + " appender threads");
    ours_threads.push_back(RunOursThreads(**store, n, true, duration, "t" + std::to_string(n)));
  }
  progress("event store, unsynced, 64 appends in flight");
  RunFigures unsynced = RunOursAsync(**store, 64, false, duration, "u");

  progress("event store, full-log read");
  const uint64_t log_events = (*store)->LastPosition();
  auto read_start = SteadyClock::now();
  uint64_t read = 0;
  for (uint64_t from = 1;;) {
    auto chunk = (*store)->ReadAll(from, 4096);
    if (!chunk.ok()) Die(chunk.status().ToString());
    if (chunk->empty()) break;
    read += chunk->size();
    from = chunk->back().global_position + 1;
  }
  double read_seconds = std::chrono::duration<double>(SteadyClock::now() - read_start).count();
  double read_eps = static_cast<double>(read) / read_seconds;
  if (read != log_events)
    Die("full read returned " + std::to_string(read) + " events, not " +
        std::to_string(log_events));
  store->reset();

  // The peer, on the same disk.
  progress("starting PostgreSQL");
  auto pg = projections::EmbeddedPostgres::Start(
      {.data_dir = dir.Sub("pg"),
       .extra_config = "synchronous_commit = on\nfsync = on\nmax_connections = 200\n"
                       "shared_buffers = 256MB"});
  if (!pg.ok()) Die(pg.status().ToString());
  std::string conninfo = (*pg)->ConnectionString();
  std::string pg_version;
  try {
    pqxx::connection conn(conninfo);
    pqxx::work tx(conn);
    tx.exec0(
        "CREATE TABLE events ("
        "  global_position bigserial PRIMARY KEY,"
        "  event_id uuid NOT NULL UNIQUE,"
        "  stream_id text NOT NULL,"
        "  version bigint NOT NULL,"
        "  type text NOT NULL,"
        "  actor text NOT NULL,"
        "  body jsonb NOT NULL,"
        "  recorded_at timestamptz NOT NULL DEFAULT now(),"
        "  UNIQUE (stream_id, version))");
    pg_version = tx.exec1("SHOW server_version")[0].as<std::string>();
    tx.commit();
  } catch (const std::exception& e) {
    Die(std::string("PostgreSQL set-up failed: ") + e.what());
  }
  std::vector<RunFigures> peer;
  for (int n : kAppenders) {
    progress("PostgreSQL table, " + std::to_string(n) + " appenders");
    peer.push_back(RunPostgres(conninfo, n, duration, "d" + std::to_string(n)));
  }
  pg->reset();

  // Report.
  std::printf("\nRemoteGPU event store vs PostgreSQL %s event table, %u cores, %.1f s per run\n",
              pg_version.c_str(), std::thread::hardware_concurrency(), duration.count() / 1000.0);
  std::printf("durable appends (fsync before ack) of single-event commands of ~300 bytes\n");
  std::printf(
      "ours: N appends in flight through AppendAsync (how the server calls it), and N\n"
      "threads each blocking in Append; PostgreSQL: N connections, one transaction each\n\n");
  std::printf("%-6s | %10s %7s %7s %5s | %10s %7s %5s | %10s %7s %7s %5s | %6s\n", "N", "ours ev/s",
              "p50 us", "p99 us", "cpu", "thread ev/s", "p99 us", "cpu", "pg ev/s", "p50 us",
              "p99 us", "cpu*", "ratio");
  std::printf("%s\n", std::string(112, '-').c_str());
  for (size_t i = 0; i < ours.size(); ++i) {
    std::printf(
        "%-6d | %10.0f %7.0f %7.0f %5.2f | %10.0f %7.0f %5.2f | %10.0f %7.0f %7.0f %5.2f |"
        " %5.1fx\n",
        kAppenders[i], ours[i].events_per_second, ours[i].p50_us, ours[i].p99_us, ours[i].cpu_cores,
        ours_threads[i].events_per_second, ours_threads[i].p99_us, ours_threads[i].cpu_cores,
        peer[i].events_per_second, peer[i].p50_us, peer[i].p99_us, peer[i].cpu_cores,
        ours[i].events_per_second / peer[i].events_per_second);
  }
  std::printf(
      "cpu: cores this process kept busy; *for PostgreSQL only the client side, the\n"
      "server's backends are other processes. ratio: ours (in flight) / PostgreSQL.\n");
  std::printf("\nours in flight, N = 1/8/64: events per fsync");
  for (const auto& f : ours) std::printf(" %.1f", f.events_per_sync);
  std::printf("; mean fsync");
  for (const auto& f : ours) std::printf(" %.0f", f.sync_us);
  std::printf(" us; mean group write");
  for (const auto& f : ours) std::printf(" %.0f", f.write_us);
  std::printf(" us\n");
  std::printf("unsynced appends, 64 in flight: %.0f events/s (p99 %.0f us)\n",
              unsynced.events_per_second, unsynced.p99_us);
  std::printf("full-log read: %.0f events/s (%llu events)\n", read_eps,
              static_cast<unsigned long long>(read));

  if (json) {
    nlohmann::json figures = {
        {"durable_eps_1", ours[0].events_per_second},
        {"durable_eps_8", ours[1].events_per_second},
        {"durable_eps_64", ours[2].events_per_second},
        {"p50_us_64", ours[2].p50_us},
        {"p99_us_64", ours[2].p99_us},
        {"durable_threads_eps_1", ours_threads[0].events_per_second},
        {"durable_threads_eps_8", ours_threads[1].events_per_second},
        {"durable_threads_eps_64", ours_threads[2].events_per_second},
        {"p99_us_64_threads", ours_threads[2].p99_us},
        {"ratio_64_threads", ours_threads[2].events_per_second / peer[2].events_per_second},
        {"pg_eps_1", peer[0].events_per_second},
        {"pg_eps_8", peer[1].events_per_second},
        {"pg_eps_64", peer[2].events_per_second},
        {"pg_p99_us_64", peer[2].p99_us},
        {"ratio_64", ours[2].events_per_second / peer[2].events_per_second},
        {"unsynced_eps", unsynced.events_per_second},
        {"read_eps", read_eps},
        {"read_events", read},
        {"run_seconds", duration.count() / 1000.0},
        {"postgres_version", pg_version},
    };
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
