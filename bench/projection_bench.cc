// remotegpu-bench-projection: how fast the read models catch up with the
// log, batched (many events per transaction) against one transaction per
// event, into the same PostgreSQL in the same run.
//
// The log is made by the real command side: hosts registered, environments
// created (each an env + host append), some stopped and deleted. Every
// projector (cmdb, environments, leases) then replays the whole log; the
// figure is log events per second of wall time until all are done, with
// synchronous_commit on, the three projectors running side by side as the
// server runs them.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "bench/fleet_log.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/standard_projections.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-projection [--quick] [--json]

Builds an event log with the real command side (hosts, environment creations,
stops and deletions), then projects it into PostgreSQL twice: batched (1,000
events per transaction) and one transaction per event, each of the three
projectors on its own thread and connection, and prints log events/s of each
and their ratio. PostgreSQL is started by this program, synchronous_commit on.

  --quick   a smaller log
  --json    end the output with one JSON object of the figures
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-projection: " << what << "\n";
  std::exit(1);
}

// Replays the first `limit` events of the log (0: all) through every
// projector into `schema`, each projector on its own thread and connection as
// the server runs them; returns log events per second of wall time until the
// last one is done.
double Project(eventstore::EventStore& store, const std::string& conninfo,
               const std::string& schema, size_t batch_size, uint64_t limit) {
  auto runners = projections::StandardProjections(store, {conninfo, schema, batch_size});
  for (auto& runner : runners) {
    Status opened = runner->Open();
    if (!opened.ok()) Die(opened.ToString());
  }
  const uint64_t events = limit == 0 ? store.LastPosition() : limit;
  auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (auto& runner : runners) {
    threads.emplace_back([&runner, events] {
      while (runner->checkpoint() < events) {
        auto applied = runner->Step();
        if (!applied.ok()) Die(applied.status().ToString());
        if (*applied == 0) break;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return static_cast<double>(events) / seconds;
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-projection", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  spdlog::set_level(spdlog::level::warn);
  const int hosts = quick ? 500 : 2000;
  const int environments = quick ? 8000 : 40000;
  const uint64_t per_event_sample = quick ? 3000 : 10000;

  testing::TempDir dir;
  auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!store.ok()) Die(store.status().ToString());
  std::cerr << "  building the log: " << hosts << " hosts, " << environments << " environments\n";
  BuildFleetLog(**store, hosts, environments);
  const uint64_t log_events = (*store)->LastPosition();

  std::cerr << "  starting PostgreSQL\n";
  auto pg = projections::EmbeddedPostgres::Start(
      {.data_dir = dir.Sub("pg"), .extra_config = "synchronous_commit = on\nfsync = on"});
  if (!pg.ok()) Die(pg.status().ToString());
  const std::string conninfo = (*pg)->ConnectionString();
  std::cerr << "  projecting " << log_events << " events, batched\n";
  const double batched = Project(**store, conninfo, "batched", 1000, 0);
  std::cerr << "  projecting the first " << per_event_sample << " events, one transaction each\n";
  const double per_event = Project(**store, conninfo, "per_event", 1, per_event_sample);

  std::printf("\nprojection into PostgreSQL (cmdb, environments, leases), synchronous_commit on\n");
  std::printf("log: %llu events from %d hosts and %d environment commands\n\n",
              static_cast<unsigned long long>(log_events), hosts, environments);
  std::printf("batched (1000 events / transaction): %10.0f events/s\n", batched);
  std::printf("one transaction per event:           %10.0f events/s (first %llu events)\n",
              per_event, static_cast<unsigned long long>(per_event_sample));
  std::printf("ratio:                               %10.1fx\n", batched / per_event);
  if (json) {
    nlohmann::json figures = {{"batched_eps", batched},
                              {"per_event_eps", per_event},
                              {"ratio", batched / per_event},
                              {"log_events", log_events}};
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
