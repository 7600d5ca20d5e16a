// One hourly metering tick over a fleet (issue 9): 100,000 running
// environments on product specs and 10,000 leases whose month begins in the
// hour, in a real RocksDB event log, metered by the real MeteringProcess on
// a manual clock. Reports bill lines per second into the durable log and
// the tick's wall time; the target is a tick under 10 s.
//
// The fleet's events are written straight into the log (unsynced, like an
// import) before the clock starts. A first tick meters the hour before
// (environments' first half hour; it also folds the whole log into the
// metering book, as a server's first tick after a start does); the measured
// tick is the next one: a full hour for every environment and the first
// month of every lease.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "commands/metering_process.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/support/metered_fleet.h"
#include "tests/support/temp_dir.h"

namespace remotegpu {
namespace {

constexpr char kUsage[] = R"(Usage: remotegpu-bench-billing [--quick] [--json]

One hourly metering tick over 100,000 running environments and 10,000
leases (bill lines per second into the durable event log, the tick's wall
time; target: under 10 s).

  --quick   10,000 environments and 1,000 leases
  --json    end the output with one JSON object of the figures
)";

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kStart = 1'794'312'000'000'000;  // 2026-11-10T12:00:00Z, an hour boundary.

int Run(const bench::BenchFlags& flags) {
  const int environments = flags.quick ? 10'000 : 100'000;
  const int leases = flags.quick ? 1'000 : 10'000;
  const int customers = flags.quick ? 100 : 1'000;
  testing::TempDir dir;
  auto opened = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!opened.ok()) {
    std::cerr << opened.status().ToString() << "\n";
    return 1;
  }
  eventstore::EventStore& store = **opened;
  std::printf("loading %d running environments and %d leases of %d customers …\n", environments,
              leases, customers);
  testing::LoadMeteredFleet(store, kStart, environments, leases, customers);

  ManualClock clock(kStart + 2 * 60'000'000);
  commands::BillingService billing(store, clock);
  commands::MeteringProcess metering(store, clock, billing, nullptr);
  const commands::CommandMeta meta{{eventstore::ActorKind::kSystem, "bench", ""}, "", "", ""};
  auto timed = [&](const char* what) -> std::pair<commands::MeteringReport, double> {
    const auto begin = std::chrono::steady_clock::now();
    auto report = metering.Tick(meta);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    if (!report.ok()) {
      std::cerr << what << ": " << report.status().ToString() << "\n";
      std::exit(1);
    }
    std::printf("%-34s %7zu lines in %6.2f s: %9.0f lines/s; %zu balance events\n", what,
                report->lines, seconds, report->lines / seconds, report->balance_events);
    return {*report, seconds};
  };
  const auto [first, first_s] = timed("first tick (folds the whole log)");
  clock.Set(kStart + kHour + 2 * 60'000'000);
  const auto [hourly, tick_s] = timed("hourly tick (measured)");
  const double lines_per_s = hourly.lines / tick_s;
  const size_t expected = static_cast<size_t>(environments + leases);
  if (hourly.lines != expected || hourly.failures != 0 || hourly.conflicts != 0) {
    std::cerr << "expected " << expected << " lines, got " << hourly.lines << " ("
              << hourly.failures << " failures, " << hourly.conflicts << " conflicts)\n";
    return 1;
  }
  std::printf(
      "\nhourly tick: %.2f s for %zu bill lines (%.0f lines/s, synced appends of 1,000 "
      "resources); target < 10 s: %s\n",
      tick_s, hourly.lines, lines_per_s, tick_s < 10 ? "met" : "NOT met");
  if (flags.json) {
    nlohmann::json figures = {{"environments", environments},
                              {"leases", leases},
                              {"lines", hourly.lines},
                              {"amount_fen", hourly.amount_fen},
                              {"tick_s", tick_s},
                              {"lines_per_s", lines_per_s},
                              {"first_tick_s", first_s},
                              {"first_tick_lines", first.lines}};
    std::cout << figures.dump() << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu

int main(int argc, char** argv) {
  auto parsed =
      remotegpu::bench::ParseBenchFlags(argc, argv, "remotegpu-bench-billing", remotegpu::kUsage);
  if (std::holds_alternative<int>(parsed)) return std::get<int>(parsed);
  spdlog::set_level(spdlog::level::warn);
  return remotegpu::Run(std::get<remotegpu::bench::BenchFlags>(parsed));
}
