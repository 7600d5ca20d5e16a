// What the `remotegpu-replay` subcommands share: opening the event log (read
// only, beside a server that may be running), reaching the read models'
// PostgreSQL, and reporting progress on a terminal or in plain lines.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"

namespace remotegpu::replay {

// The event log under <data-dir>/events opened read-only (a RocksDB
// secondary in a temporary directory removed on destruction). Works whether
// or not `remotegpu serve` has the log open.
class LogReader {
 public:
  static Result<std::unique_ptr<LogReader>> Open(const std::string& data_dir);
  ~LogReader();
  eventstore::RocksDbEventStore& store() { return *store_; }

 private:
  std::string secondary_dir_;
  std::unique_ptr<eventstore::RocksDbEventStore> store_;
};

// The read models' PostgreSQL: `pg_url` when given; else the data
// directory's embedded one, used as it is when a server runs it, started
// (and stopped again on destruction) when none does.
class ReadModelDatabase {
 public:
  static Result<std::unique_ptr<ReadModelDatabase>> Connect(const std::string& data_dir,
                                                            const std::string& pg_url);
  const std::string& conninfo() const { return conninfo_; }

 private:
  std::unique_ptr<projections::EmbeddedPostgres> embedded_;
  std::string conninfo_;
};

// "12,345 of 100,000 (12 %), 53,210 events/s, ETA 2s": a bar redrawn in place
// on a terminal, a line every few seconds otherwise. Writes to stderr.
class Progress {
 public:
  explicit Progress(std::string what);
  void Update(uint64_t done, uint64_t total, double events_per_second);
  void Finish(const std::string& summary);

 private:
  std::string what_;
  bool terminal_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace remotegpu::replay
