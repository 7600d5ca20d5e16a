// remotegpu-bench-replay: how fast the log folds into aggregate states in
// memory, and how long a full rebuild of the read models takes, with the
// per-event-transaction projector as the peer in the same run.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "bench/fleet_log.h"
#include "domain/environment.h"
#include "domain/host.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/rebuild.h"
#include "projections/standard_projections.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-replay [--quick] [--json]

Builds a log of about 1,000,000 events with the real command side (100,000 with
--quick), then measures:
  fold      events/s decoded from their payloads and applied to aggregate
            states in memory (the events already read), and the same with
            the reads from RocksDB included
  rebuild   seconds to replay the whole log into fresh PostgreSQL read models
            and swap them in (remotegpu-replay rebuild's code path)
  peer      one transaction per event into the same PostgreSQL, on a sample

  --quick   the short version
  --json    end with one JSON object of the figures
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-replay: " << what << "\n";
  std::exit(1);
}

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// Folds events into per-stream states the way the replay tools do.
struct Folder {
  std::unordered_map<std::string, domain::HostState> hosts;
  std::unordered_map<std::string, domain::EnvironmentState> environments;

  void Fold(const eventstore::RecordedEvent& recorded) {
    if (recorded.stream_id.starts_with("host-")) {
      domain::HostEvent event;
      if (!event.ParseFromString(recorded.data.payload)) Die("a host event does not parse");
      domain::Apply(hosts[recorded.stream_id], event);
    } else if (recorded.stream_id.starts_with("env-")) {
      domain::EnvironmentEvent event;
      if (!event.ParseFromString(recorded.data.payload)) Die("an environment event does not parse");
      domain::Apply(environments[recorded.stream_id], event);
    }
  }
};

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-replay", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  spdlog::set_level(spdlog::level::warn);
  const int hosts = quick ? 500 : 4000;
  const int environments = quick ? 28'000 : 280'000;
  const uint64_t per_event_sample = quick ? 3000 : 10000;

  testing::TempDir dir;
  auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!store.ok()) Die(store.status().ToString());
  std::cerr << "  building the log: " << hosts << " hosts, " << environments << " environments\n";
  BuildFleetLog(**store, hosts, environments);
  const uint64_t log_events = (*store)->LastPosition();

  // Fold: read everything once, then time decode + apply over memory.
  std::cerr << "  folding " << log_events << " events\n";
  auto started = SteadyClock::now();
  std::vector<eventstore::RecordedEvent> all;
  all.reserve(log_events);
  for (uint64_t position = 1; position <= log_events;) {
    auto batch = (*store)->ReadAll(position, 8192);
    if (!batch.ok() || batch->empty()) Die("reading the log");
    position = batch->back().global_position + 1;
    for (auto& event : *batch) all.push_back(std::move(event));
  }
  const double read_seconds = Seconds(started);
  started = SteadyClock::now();
  {
    Folder folder;
    for (const auto& event : all) folder.Fold(event);
  }
  const double fold_seconds = Seconds(started);
  const double fold_eps = log_events / fold_seconds;
  const double read_fold_eps = log_events / (read_seconds + fold_seconds);
  all.clear();
  all.shrink_to_fit();

  std::cerr << "  starting PostgreSQL\n";
  auto pg = projections::EmbeddedPostgres::Start(
      {.data_dir = dir.Sub("pg"), .extra_config = "synchronous_commit = on\nfsync = on"});
  if (!pg.ok()) Die(pg.status().ToString());
  const std::string conninfo = (*pg)->ConnectionString();

  std::cerr << "  rebuilding the read models from " << log_events << " events\n";
  started = SteadyClock::now();
  Status rebuilt = projections::RebuildAndSwap(**store, {.runner = {.conninfo = conninfo}}, {});
  if (!rebuilt.ok()) Die(rebuilt.ToString());
  const double rebuild_seconds = Seconds(started);
  const double rebuild_1m = rebuild_seconds * 1'000'000.0 / log_events;

  std::cerr << "  projecting the first " << per_event_sample << " events, one transaction each\n";
  auto runners = projections::StandardProjections(**store, {conninfo, "per_event", 1});
  started = SteadyClock::now();
  for (auto& runner : runners) {
    if (!runner->Open().ok()) Die("opening the per-event projection");
    while (runner->checkpoint() < per_event_sample) {
      auto applied = runner->Step();
      if (!applied.ok()) Die(applied.status().ToString());
    }
  }
  // The three projectors ran one after another: each event cost three
  // transactions, as in the rebuild, which runs them side by side.
  const double per_event_eps = per_event_sample / Seconds(started);

  std::printf("\nreplay of %llu events (%d hosts, %d environment commands), 2 cores\n\n",
              static_cast<unsigned long long>(log_events), hosts, environments);
  std::printf("fold in memory (decode + apply):          %12.0f events/s\n", fold_eps);
  std::printf("read from RocksDB + fold:                 %12.0f events/s\n", read_fold_eps);
  std::printf("rebuild into PostgreSQL and swap:         %12.1f s  (%.0f events/s)\n",
              rebuild_seconds, log_events / rebuild_seconds);
  std::printf("  scaled to 1,000,000 events:             %12.1f s\n", rebuild_1m);
  std::printf("peer: one transaction per event:          %12.0f events/s (first %llu events)\n",
              per_event_eps, static_cast<unsigned long long>(per_event_sample));
  if (json) {
    nlohmann::json figures = {{"fold_eps", fold_eps},
                              {"read_fold_eps", read_fold_eps},
                              {"rebuild_s", rebuild_seconds},
                              {"rebuild_1m_s", rebuild_1m},
                              {"per_event_eps", per_event_eps},
                              {"log_events", log_events}};
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
