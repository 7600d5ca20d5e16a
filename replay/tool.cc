#include "replay/tool.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace remotegpu::replay {

Result<std::unique_ptr<LogReader>> LogReader::Open(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / "events").string();
  if (!std::filesystem::exists(path)) {
    return Status::NotFound("no event log at " + path + " (is --data-dir right?)");
  }
  char pattern[] = "/tmp/remotegpu-replay-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return Status::IoError("cannot create a temporary directory");
  auto reader = std::unique_ptr<LogReader>(new LogReader());
  reader->secondary_dir_ = pattern;
  auto store = eventstore::RocksDbEventStore::Open(
      {.path = path, .read_only = true, .secondary_path = reader->secondary_dir_});
  if (!store.ok()) return store.status();
  reader->store_ = std::move(*store);
  return reader;
}

LogReader::~LogReader() {
  store_.reset();
  std::error_code ignored;
  if (!secondary_dir_.empty()) std::filesystem::remove_all(secondary_dir_, ignored);
}

Result<std::unique_ptr<ReadModelDatabase>> ReadModelDatabase::Connect(const std::string& data_dir,
                                                                      const std::string& pg_url) {
  auto db = std::unique_ptr<ReadModelDatabase>(new ReadModelDatabase());
  if (!pg_url.empty()) {
    db->conninfo_ = pg_url;
    return db;
  }
  auto pg = projections::EmbeddedPostgres::Start(
      {.data_dir = (std::filesystem::path(data_dir) / "pg").string(), .borrow_running = true});
  if (!pg.ok()) return pg.status();
  db->embedded_ = std::move(*pg);
  db->conninfo_ = db->embedded_->ConnectionString();
  return db;
}

Progress::Progress(std::string what)
    : what_(std::move(what)), terminal_(isatty(STDERR_FILENO) == 1), last_() {}

void Progress::Update(uint64_t done, uint64_t total, double events_per_second) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < (terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(2))) return;
  last_ = now;
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total);
  const double eta = events_per_second > 0 && total > done
                         ? static_cast<double>(total - done) / events_per_second
                         : 0;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::fprintf(stderr, "\r%s [%s%s] %3.0f%% %llu/%llu %.0f events/s ETA %.0fs   ", what_.c_str(),
                 std::string(filled, '=').c_str(), std::string(kWidth - filled, ' ').c_str(),
                 fraction * 100, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), events_per_second, eta);
  } else {
    std::fprintf(stderr, "%s: %llu of %llu (%.0f %%), %.0f events/s, ETA %.0fs\n", what_.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 fraction * 100, events_per_second, eta);
  }
}

void Progress::Finish(const std::string& summary) {
  std::fprintf(stderr, "%s%s: %s\n", terminal_ ? "\r\033[K" : "", what_.c_str(), summary.c_str());
}

}  // namespace remotegpu::replay
