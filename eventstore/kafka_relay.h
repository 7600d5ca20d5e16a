// The Kafka relay: publishes every committed event to a Kafka topic, for
// downstream consumers and for projection workers on other machines.
//
// RocksDB stays the arbiter of versions; Kafka only distributes. The relay
// tails the log from its checkpoint through a subscription and produces each
// event with
//   key      the stream id, so one aggregate's events share a partition and
//            keep their order (librdkafka's murmur2_random partitioner, the
//            same partition a Java client picks for that key);
//   value    the protobuf Envelope (domain/proto/envelope.proto) by default,
//            or what KafkaRelayOptions::encode returns (JSON in the server);
//   headers  event-id, event-type, position, stream-version, content-type.
// through an idempotent producer with acks=all. Its checkpoint (a named
// checkpoint of the event store) only moves over a prefix of positions whose
// delivery reports all came back successful, so after a crash or a failed
// delivery the relay publishes again from there: delivery is at-least-once,
// and a consumer drops a repeated event by its position (every partition
// carries increasing positions, so "position <= last seen" is a duplicate).
//
// A broker that is down or refusing never blocks an appender: the relay only
// falls behind, retries with librdkafka's back-off (messages never time out:
// a timed-out message could leave a gap behind later ones, which the
// duplicate rule above cannot tell from a repeat), logs the error and
// reports its lag in stats(). A delivery that fails for good (a fatal
// idempotence or gapless-guarantee error) makes the relay drop its producer
// and start again from the checkpoint, a second later.
//
// Thread-safety: Start, Stop and the destructor from one owner; stats() from
// any thread. The relay must be stopped before the store is closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "eventstore/event_store.h"

namespace remotegpu::eventstore {

struct KafkaRelayOptions {
  std::string brokers;  // bootstrap.servers, "host:port,…".
  std::string topic = "remotegpu.events";
  // The store checkpoint that records what is delivered; empty:
  // "kafka-relay:<topic>".
  std::string checkpoint_name;
  // The message value of an event; empty: the protobuf envelope.
  std::function<std::string(const RecordedEvent&)> encode;
  // The content-type header, naming what `encode` produces.
  std::string content_type = "application/x-protobuf; messageType=remotegpu.domain.Envelope";
  // Most events handed to the producer and not yet reported delivered.
  size_t max_in_flight = 100'000;
  // How often a moved checkpoint is written (each write is one WAL fsync).
  std::chrono::milliseconds checkpoint_interval{100};
  // Any further librdkafka properties (security.protocol, sasl.*, …).
  std::vector<std::pair<std::string, std::string>> extra_config;
  // Called on the relay's thread for each event reported delivered, with
  // its position and recording time (benchmarks measure lag with it).
  std::function<void(uint64_t position, UnixMicros recorded_at_us)> on_delivered;
};

struct KafkaRelayStats {
  uint64_t checkpoint = 0;  // Every position up to here is delivered.
  uint64_t published = 0;   // The last position handed to the producer.
  uint64_t lag_events = 0;  // Committed to the log, not yet delivered.
  double lag_seconds = 0;   // Age of the oldest undelivered event; 0 when caught up.
  uint64_t delivered = 0;   // Delivery reports that succeeded.
  uint64_t failed = 0;      // Delivery reports that failed.
  uint64_t restarts = 0;    // Times the relay began again from its checkpoint.
  bool broker_reachable = false;
  std::string last_error;  // The latest Kafka error; empty when none yet.
};

class KafkaRelay {
 public:
  // Checks the options, builds the producer and starts the relay's thread
  // from the stored checkpoint. InvalidArgument for a bad option or a
  // property librdkafka refuses; it does not wait for a broker.
  static Result<std::unique_ptr<KafkaRelay>> Start(EventStore& store, KafkaRelayOptions options);

  // Stop(), then the object is gone.
  ~KafkaRelay();

  // Waits up to `drain` for events in flight to be delivered, writes the
  // checkpoint and stops. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(5));

  KafkaRelayStats stats() const;
  const std::string& topic() const;

  class Impl;

 private:
  explicit KafkaRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace remotegpu::eventstore
