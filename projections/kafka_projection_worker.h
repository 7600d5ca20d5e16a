// A projection worker fed from the Kafka topic the relay publishes
// (eventstore/kafka_relay.h) instead of the local log: several workers in one
// consumer group share the topic's partitions, which is how the read side
// scales past one machine.
//
// Offsets live in PostgreSQL, not in Kafka: each batch writes its read-model
// rows and, for every partition it touched, the next offset and the last log
// position applied (<schema>.kafka_offsets) in one transaction that first
// locks those rows and checks they are where this worker believes. A crash,
// a rebalance or a second worker on the same partition can then neither skip
// an event nor apply one twice. Duplicates the relay may publish are dropped
// by position: within a partition positions only grow, so one at or below the
// partition's applied position was seen before.
//
// Projectors keep each aggregate's folded state in memory, and a worker has
// no log to fold earlier events from. So a worker taking over a partition it
// does not already hold warm reads it from the beginning, folding the events
// up to the stored position without writing them, then applies the rest.
// That costs a read of the partition per takeover and needs the topic to
// keep every event (retention forever; see eventstore/kafka_consumers.md).
//
// Thread-safety: Open and Run from one thread; Stop and stats() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "projections/projector.h"

namespace remotegpu::projections {

struct KafkaWorkerOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic = "remotegpu.events";
  std::string group;     // Consumer group id; workers of one group share partitions.
  std::string conninfo;  // libpq connection string of the read models.
  std::string schema = "rg";
  size_t batch_size = 1000;  // Most events per transaction.
  // How long a batch waits to fill before it is applied.
  std::chrono::milliseconds linger{20};
  // How long the group waits for a silent worker before giving its
  // partitions to the others.
  std::chrono::milliseconds session_timeout{10'000};
  std::vector<std::pair<std::string, std::string>> extra_config;  // librdkafka properties.
};

struct KafkaWorkerStats {
  uint64_t applied = 0;  // Events written to the read models.
  uint64_t warmed = 0;   // Events folded without writing (applied before).
  uint64_t transactions = 0;
  uint64_t rewinds = 0;  // Times the in-memory states were dropped and re-read.
  std::map<int32_t, uint64_t> applied_position;  // By assigned partition.
};

class KafkaProjectionWorker {
 public:
  KafkaProjectionWorker(std::vector<std::unique_ptr<Projector>> projectors,
                        KafkaWorkerOptions options);
  ~KafkaProjectionWorker();

  // Connects to PostgreSQL, migrates the schema, creates the consumer and
  // joins the group. InvalidArgument for bad options, Unavailable or IoError
  // when PostgreSQL is not there.
  Status Open();

  // Consumes and applies batches until Stop. Returns OK after Stop, or the
  // error that makes going on pointless (a message that is not an event).
  // Transient failures (PostgreSQL, the broker) are logged and retried.
  Status Run();

  // Consumes for up to `wait` and applies what arrived; returns the number
  // of events applied. For tests and callers with their own loop.
  Result<size_t> Step(std::chrono::milliseconds wait);

  // Makes Run return; from any thread.
  void Stop() { running_ = false; }

  KafkaWorkerStats stats() const;

  class Consumer;

 private:
  struct Polled;
  // Applies one batch: warms, then applies and moves offsets in one transaction.
  Result<size_t> Process(std::vector<Polled>& batch);
  // Drops the in-memory states and reads every assigned partition again from
  // its beginning.
  void Rewind(const std::string& why);
  // Reads the stored applied positions of `partitions`; -1 offset when absent.
  Result<std::map<int32_t, std::pair<int64_t, uint64_t>>> LoadOffsets(
      const std::vector<int32_t>& partitions);
  void OnAssign(const std::vector<int32_t>& partitions);
  void OnRevoke();

  std::vector<std::unique_ptr<Projector>> projectors_;
  const KafkaWorkerOptions options_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> running_{true};

  // Owned by the thread calling Run/Step (rebalances run inside its polls).
  std::vector<int32_t> assigned_;
  uint64_t generation_ = 0;              // Grows with every assignment; older messages are dropped.
  std::map<int32_t, uint64_t> applied_;  // Stored applied position, by assigned partition.
  std::map<int32_t, uint64_t> reached_;  // Highest position folded, by assigned partition.
  // Partitions once held whose states stayed in memory: the position they
  // are warm up to.
  std::map<int32_t, uint64_t> held_;

  mutable std::mutex stats_mu_;
  KafkaWorkerStats stats_;  // Guarded by stats_mu_.
};

}  // namespace remotegpu::projections
