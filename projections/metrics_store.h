// Telemetry storage: host and GPU samples from the agents in PostgreSQL,
// beside the read models but outside their schema (<schema>_metrics), so a
// rebuild never drops them. Not events: samples are not in the log.
//
// Layout (seed 03 §4.1–4.2 host_metrics, gpu_metrics; 7 days raw, 90 days
// of hourly aggregates):
//   host_metrics, gpu_metrics       raw samples, partitioned by day on
//                                   collected_at; a day's partition is
//                                   dropped once all of it is 7 days old
//   host_metrics_hourly, gpu_metrics_hourly
//                                   per host / per GPU and hour: averages,
//                                   maxima, sample counts; kept 90 days
//
// Writes are queued and written by one thread with COPY, batching across
// agents; a full queue refuses more (the agent keeps its samples and tries
// again). A sample counts as taken once queued: a server that dies loses
// what was queued and not yet written (normally the last flush interval,
// 100 ms). Telemetry, so that is the trade; events never work this way. Samples taken more than 7
// days ago or more than a day ahead of the server's clock are refused one by one (counted), not
// stored in the wrong place.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "domain/proto/metrics.pb.h"

struct pg_conn;  // libpq's PGconn.

namespace remotegpu::projections {

struct MetricsStoreOptions {
  size_t max_queued_rows = 200'000;
  size_t rows_per_copy = 20'000;
  int64_t flush_interval_ms = 100;
  int64_t raw_retention_days = 7;
  int64_t hourly_retention_days = 90;
};

struct MetricsQuery {
  int64_t from_us = 0;
  int64_t to_us = 0;  // Exclusive.
  bool hourly = false;
  int limit = 2000;
};

class MetricsStore {
 public:
  MetricsStore(std::string conninfo, std::string schema, MetricsStoreOptions options = {});
  ~MetricsStore();  // Writes what is queued, then stops the writer.

  // Creates the schema, tables and the partitions around `now_us`, rolls up
  // hours left unrolled, and starts the writer. IoError when PostgreSQL fails.
  Status Open(int64_t now_us);

  struct Accepted {
    int samples = 0;   // Host samples queued.
    int gpu_rows = 0;  // GPU samples queued.
    int refused = 0;   // Outside the time window.
  };
  // Queues `host_id`'s samples. ResourceExhausted (nothing queued) when the
  // queue is full or the writer keeps failing.
  Result<Accepted> Enqueue(const std::string& host_id, const domain::MetricsBatch& batch,
                           int64_t now_us);
  // Waits until everything queued so far is written; IoError when the
  // writer's last attempt failed.
  Status Flush();

  // Housekeeping, every few minutes: partitions for the days ahead, hourly
  // aggregates of the complete hours that received samples, retention.
  Status Maintain(int64_t now_us);

  // Samples of one host / one GPU (by UUID) in [from, to), oldest first, at
  // most `limit`: raw rows, or hourly aggregates.
  Result<nlohmann::json> HostSeries(const std::string& host_id, const MetricsQuery& query) const;
  Result<nlohmann::json> GpuSeries(const std::string& uuid, const MetricsQuery& query) const;

  struct Stats {
    uint64_t host_rows = 0, gpu_rows = 0, copies = 0, refused = 0;
    // Hosts' parts of batches PostgreSQL refused kWriteAttempts times (kept
    // in <schema>_metrics.dead_letters), and their rows.
    uint64_t dead_batches = 0, dead_rows = 0;
  };
  // Attempts at a batch whose rows PostgreSQL refuses (SQLSTATE classes 22
  // and 23) before it is split by host and the refused hosts' rows are
  // dead-lettered; any other error is retried without limit.
  static constexpr int kWriteAttempts = 3;
  Stats stats() const;

 private:
  struct Pending;
  void WriterLoop();
  Status WritePending(Pending& batch);
  // Rows of a refused batch written host by host: each host's that
  // PostgreSQL still refuses are dead-lettered, the rest written; `batch`
  // keeps what met another error (to be tried again).
  struct Isolated {
    size_t host_rows = 0, gpu_rows = 0;  // Written.
    size_t dead_hosts = 0, dead_rows = 0;
  };
  Isolated IsolateByHost(pg_conn* connection, Pending& batch);
  Status EnsurePartitions(int64_t now_us);
  Status RollUp(const std::set<int64_t>& hours);

  const std::string conninfo_;
  const std::string schema_;
  const MetricsStoreOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_, written_;
  std::unique_ptr<Pending> pending_;             // Guarded by mu_.
  size_t queued_rows_ = 0;                       // Guarded by mu_.
  uint64_t enqueued_seq_ = 0, written_seq_ = 0;  // Guarded by mu_.
  std::set<int64_t> touched_hours_;  // Hour starts (µs) not yet rolled up. Guarded by mu_.
  Status last_error_;                // Guarded by mu_.
  bool stopping_ = false;            // Guarded by mu_.
  bool flush_wanted_ = false;        // Guarded by mu_.
  Stats stats_;                      // Guarded by mu_.
  std::thread writer_;
};

}  // namespace remotegpu::projections
