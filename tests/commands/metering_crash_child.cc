// The metering crash test's child: opens the log in DIR (writing the fleet
// first when it is empty), prints "ticking", runs one metering tick at a
// fixed clock six hours on (six hours of lines for every environment, a
// month for every lease) in small appends, and prints "done <lines>". The
// parent SIGKILLs it somewhere in between and runs it again.
#include <cstdio>

#include "commands/metering_process.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/support/metered_fleet.h"

int main(int argc, char** argv) {
  using namespace remotegpu;
  if (argc != 2) {
    std::fprintf(stderr, "usage: metering_crash_child DIR\n");
    return 2;
  }
  constexpr int64_t kStart = 1'794'312'000'000'000;  // 2026-11-10T12:00:00Z
  constexpr int64_t kHour = 3'600'000'000;
  auto store = eventstore::RocksDbEventStore::Open({.path = argv[1]});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  if ((*store)->LastPosition() == 0) testing::LoadMeteredFleet(**store, kStart, 1'500, 150, 15);
  std::printf("ticking\n");
  std::fflush(stdout);
  ManualClock clock(kStart + 6 * kHour + 2 * 60'000'000);
  commands::BillingService billing(**store, clock);
  commands::MeteringProcess metering(**store, clock, billing, nullptr, {.streams_per_append = 25});
  auto report = metering.Tick({{eventstore::ActorKind::kSystem, "crash-child", ""}, "", "", ""});
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("done %zu\n", report->lines);
  return 0;
}
