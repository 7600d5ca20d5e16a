// SIGKILL in the middle of a metering tick, then a restart: the bill
// streams end byte for byte as those of a run never interrupted (each
// (resource, period) once, none skipped, same amounts and carries).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "eventstore/rocksdb_event_store.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu {
namespace {

// Every bill stream's events: event id and payload, in version order.
using Bills = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;

Bills ReadBills(const std::string& dir) {
  auto store = eventstore::RocksDbEventStore::Open({.path = dir});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  Bills bills;
  if (!store.ok()) return bills;
  for (uint64_t position = 1;;) {
    auto events = (*store)->ReadAll(position, 4096);
    EXPECT_TRUE(events.ok());
    if (!events.ok() || events->empty()) break;
    for (const auto& event : *events) {
      if (event.stream_id.starts_with("bill-")) {
        bills[event.stream_id].emplace_back(event.data.event_id.ToString(), event.data.payload);
      }
      position = event.global_position + 1;
    }
  }
  return bills;
}

size_t Lines(const Bills& bills) {
  size_t lines = 0;
  for (const auto& [stream, events] : bills) lines += events.size();
  return lines;
}

// Runs the child on `dir`; kills it `kill_after` after it starts ticking
// (never, when zero). Its exit status, or -SIGKILL.
int RunChild(const std::string& dir, std::chrono::milliseconds kill_after) {
  auto child = Subprocess::Spawn({METERING_CRASH_CHILD, dir}, {.capture_stdout = true});
  EXPECT_TRUE(child.ok());
  if (!child.ok()) return -1;
  const std::string output = api::testing_process::ReadUntil(*child, "ticking");
  EXPECT_NE(output.find("ticking"), std::string::npos) << output;
  if (kill_after.count() > 0) {
    std::this_thread::sleep_for(kill_after);
    child->Signal(SIGKILL);
  }
  const int status = child->Wait();
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

TEST(MeteringCrashTest, SigkillMidTickThenRestartEndsWithTheLinesOfAnUninterruptedRun) {
  testing::TempDir dir;
  ASSERT_EQ(RunChild(dir.Sub("clean"), std::chrono::milliseconds(0)), 0);
  const Bills clean = ReadBills(dir.Sub("clean"));
  ASSERT_EQ(Lines(clean), 1'500u * 7 + 150u);  // 11:00 … 17:00, and a lease month.

  // Killed again and again, each time a little later, until a run finishes;
  // at least one kill must have landed between the tick's first and last
  // append, or the test proved nothing.
  const std::string killed = dir.Sub("killed");
  size_t mid_tick_kills = 0;
  int runs = 0;
  for (int attempt = 1; attempt <= 40; ++attempt, ++runs) {
    const int status = RunChild(killed, std::chrono::milliseconds(10 * attempt));
    const size_t lines = Lines(ReadBills(killed));
    if (status == -SIGKILL && lines > 0 && lines < Lines(clean)) ++mid_tick_kills;
    if (status == 0) break;
    ASSERT_EQ(status, -SIGKILL);
  }
  std::printf("%zu of %d kills landed mid-tick\n", mid_tick_kills, runs);
  EXPECT_GT(mid_tick_kills, 0u);
  ASSERT_EQ(RunChild(killed, std::chrono::milliseconds(0)), 0);  // Nothing left, or the rest.
  EXPECT_EQ(ReadBills(killed), clean);
}

}  // namespace
}  // namespace remotegpu
