// Crash test: a child process appends from several threads and reports every
// acknowledged append; the parent SIGKILLs it at a random moment, reopens the
// store and checks that every acknowledged event is there, that positions are
// gap-free and that the hash chain verifies. The same directory is reused
// across iterations, so recovery runs again and again on a growing log.
//
// REMOTEGPU_CRASH_ITERATIONS sets the count (ctest: 20, the stress entry
// more); REMOTEGPU_CRASH_SEED replays a failing run.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "common/subprocess.h"
#include "eventstore/log_verifier.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::eventstore {
namespace {

using Clock = std::chrono::steady_clock;

struct Ack {
  uint64_t first_position;
  uint64_t last_position;
  std::vector<std::pair<std::string, uint64_t>> stream_heads;
};

Ack ParseAck(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  Ack ack{};
  in >> word >> ack.first_position >> ack.last_position;
  std::string stream;
  uint64_t version;
  while (in >> stream >> version) ack.stream_heads.emplace_back(stream, version);
  return ack;
}

// Reads lines from `fd` until `deadline` (or end of file, when deadline is
// max), appending complete lines to `lines`.
void ReadLines(int fd, Clock::time_point deadline, std::string* partial,
               std::vector<std::string>* lines) {
  char buffer[65536];
  while (true) {
    int wait_ms = 100;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      wait_ms = static_cast<int>(std::min<int64_t>(left.count(), 100));
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) continue;
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return;  // The child is gone and the pipe drained.
    partial->append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = partial->find('\n')) != std::string::npos) {
      lines->push_back(partial->substr(0, newline));
      partial->erase(0, newline + 1);
    }
  }
}

TEST(CrashTest, EveryAcknowledgedAppendSurvivesSigkill) {
  const char* iterations_env = std::getenv("REMOTEGPU_CRASH_ITERATIONS");
  const int iterations = iterations_env != nullptr ? std::atoi(iterations_env) : 20;
  const char* seed_env = std::getenv("REMOTEGPU_CRASH_SEED");
  const uint64_t seed =
      seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10) : std::random_device()();
  std::cout << "crash test: " << iterations << " iterations, REMOTEGPU_CRASH_SEED=" << seed << "\n";
  std::mt19937_64 random(seed);
  testing::TempDir dir;
  const std::string store_path = dir.Sub("events");

  uint64_t total_acked = 0;
  for (int iteration = 1; iteration <= iterations; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration) + ", seed " + std::to_string(seed));
    const int threads = 1 + static_cast<int>(random() % 8);
    auto child = Subprocess::Spawn({CRASH_CHILD_PATH, store_path, std::to_string(threads)},
                                   {.capture_stdout = true});
    ASSERT_TRUE(child.ok()) << child.status().ToString();

    // Let it run for a random while after it opened the store, then kill it.
    std::string partial;
    std::vector<std::string> lines;
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    while (lines.empty()) {
      ReadLines(child->stdout_fd(), Clock::now() + std::chrono::milliseconds(20), &partial, &lines);
      ASSERT_LT(Clock::now(), give_up) << "child never became ready";
      int status;
      ASSERT_EQ(waitpid(child->pid(), &status, WNOHANG), 0) << "child died before SIGKILL";
    }
    ASSERT_EQ(lines[0], "ready");
    const auto run_for = std::chrono::milliseconds(5 + random() % 300);
    ReadLines(child->stdout_fd(), Clock::now() + run_for, &partial, &lines);
    child->Signal(SIGKILL);
    ReadLines(child->stdout_fd(), Clock::time_point::max(), &partial, &lines);
    int status = child->Wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own with status " << status;

    auto opened = RocksDbEventStore::Open({.path = store_path});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    RocksDbEventStore& store = **opened;
    for (size_t i = 1; i < lines.size(); ++i) {
      Ack ack = ParseAck(lines[i]);
      ASSERT_GE(store.LastPosition(), ack.last_position) << "lost: " << lines[i];
      auto events = store.ReadAll(ack.first_position, ack.last_position - ack.first_position + 1);
      ASSERT_TRUE(events.ok());
      ASSERT_EQ(events->size(), ack.last_position - ack.first_position + 1) << lines[i];
      for (const auto& [stream, version] : ack.stream_heads) {
        bool found = false;
        for (const auto& e : *events) found |= e.stream_id == stream && e.stream_version == version;
        ASSERT_TRUE(found) << stream << "@" << version << " missing for: " << lines[i];
      }
    }
    auto report = VerifyLog(store);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->events, store.LastPosition());
    total_acked += lines.size() - 1;
  }
  std::cout << "crash test: " << total_acked << " acknowledged appends checked\n";
  EXPECT_GT(total_acked, 0u);
}

}  // namespace
}  // namespace remotegpu::eventstore
