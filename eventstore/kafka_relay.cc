#include "eventstore/kafka_relay.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "eventstore/envelope_codec.h"
#include "eventstore/kafka_config.h"

namespace remotegpu::eventstore {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Events read from the log at a time: small enough that the batch's vector
// stays below malloc's mmap threshold (a larger one costs page faults on
// every read), large enough to amortise the read.
constexpr size_t kReadBatch = 128;

// An event handed to the producer and not yet reported delivered.
struct InFlight {
  UnixMicros recorded_at_us = 0;
  bool delivered = false;
};

bool IsConnectivityError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
         err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

}  // namespace

class KafkaRelay::Impl {
 public:
  Impl(EventStore& store, KafkaRelayOptions options) : store_(store), options_(std::move(options)) {
    if (options_.checkpoint_name.empty())
      options_.checkpoint_name = "kafka-relay:" + options_.topic;
  }

  ~Impl() { DestroyProducer(); }

  Status Init() {
    if (options_.brokers.empty()) return Status::InvalidArgument("the relay needs brokers");
    if (options_.topic.empty()) return Status::InvalidArgument("the relay needs a topic");
    if (options_.max_in_flight == 0) return Status::InvalidArgument("max_in_flight must be > 0");
    auto stored = store_.LoadCheckpoint(options_.checkpoint_name);
    if (!stored.ok()) return stored.status();
    checkpoint_ = saved_checkpoint_ = published_ = stored->value_or(0);
    RGPU_RETURN_IF_ERROR(CreateProducer());
    RGPU_RETURN_IF_ERROR(Resubscribe());
    PublishStats();
    spdlog::info("kafka relay: publishing to topic {} on {} from position {}", options_.topic,
                 options_.brokers, checkpoint_ + 1);
    return Status::Ok();
  }

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void Stop(std::chrono::milliseconds drain) {
    if (!running_.exchange(false)) return;
    drain_ = drain;
    if (thread_.joinable()) thread_.join();
  }

  KafkaRelayStats stats() const {
    KafkaRelayStats out;
    UnixMicros oldest = 0;
    {
      std::lock_guard lock(stats_mu_);
      out = stats_;
      oldest = oldest_undelivered_us_;
    }
    const uint64_t last = store_.LastPosition();
    out.lag_events = last > out.checkpoint ? last - out.checkpoint : 0;
    if (out.lag_events > 0 && oldest == 0) {
      // Behind, but nothing in flight: the oldest is the next one to read.
      auto next = store_.ReadAll(out.checkpoint + 1, 1);
      if (next.ok() && !next->empty()) oldest = next->front().recorded_at_us;
    }
    if (out.lag_events > 0 && oldest > 0) {
      out.lag_seconds =
          std::max(0.0, static_cast<double>(SystemClock::Instance().NowMicros() - oldest) / 1e6);
    }
    return out;
  }

  const std::string& topic() const { return options_.topic; }

 private:
  Status CreateProducer() {
    KafkaProperties properties = {
        {"bootstrap.servers", options_.brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        // Any failure that could leave a gap in a partition is fatal instead,
        // and the relay starts over from its checkpoint: consumers can then
        // treat "position <= last seen in this partition" as a duplicate.
        {"enable.gapless.guarantee", "true"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "2"},
        {"message.timeout.ms", "0"},  // Retry until delivered; see the header.
        {"queue.buffering.max.messages", std::to_string(options_.max_in_flight)},
        {"reconnect.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "2000"},
    };
    properties.insert(properties.end(), options_.extra_config.begin(), options_.extra_config.end());
    auto config = NewKafkaConfig(properties, "remotegpu-relay");
    if (!config.ok()) return config.status();
    rd_kafka_conf_t* conf = *config;
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      static_cast<Impl*>(self)->OnDelivery(m);
    });
    rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t* rk, int err, const char* reason, void* self) {
      static_cast<Impl*>(self)->OnError(rk, static_cast<rd_kafka_resp_err_t>(err), reason);
    });
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (producer_ == nullptr) {
      return Status::InvalidArgument(std::string("cannot create the kafka producer: ") + error);
    }
    // Known before the first connection, the topic's metadata comes with it
    // (a topic first named in a produce call waits for the next 1 s refresh).
    topic_ = rd_kafka_topic_new(producer_, options_.topic.c_str(), nullptr);
    if (topic_ == nullptr) {
      return Status::InvalidArgument("kafka topic " + options_.topic + ": " +
                                     rd_kafka_err2str(rd_kafka_last_error()));
    }
    return Status::Ok();
  }

  void DestroyProducer() {
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
    topic_ = nullptr;
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }

  // Says clearly when the topic is missing: creating it is the operator's
  // job. Waits at most a second; a broker that is away is reported later.
  void CheckTopic() {
    const struct rd_kafka_metadata* metadata = nullptr;
    if (rd_kafka_metadata(producer_, 0, topic_, &metadata, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;
    }
    if (metadata->topic_cnt == 1 && metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka relay: topic {}: {}; create it (see eventstore/kafka_consumers.md)",
                   options_.topic, rd_kafka_err2str(metadata->topics[0].err));
    }
    rd_kafka_metadata_destroy(metadata);
  }

  Status Resubscribe() {
    auto opened = store_.Subscribe({.from_position = checkpoint_ + 1, .max_batch = kReadBatch});
    if (!opened.ok()) return opened.status();
    subscription_ = std::move(*opened);
    return Status::Ok();
  }

  void Run() {
    CheckTopic();
    while (running_) {
      Poll(0);
      MaybeSaveCheckpoint(false);
      if (restart_needed_) {
        Restart();
        continue;
      }
      // Room in the producer, and a bound on the positions kept for the
      // checkpoint while one partition lags behind the others.
      if (outstanding_ >= options_.max_in_flight ||
          in_flight_.size() >= 4 * options_.max_in_flight) {
        Poll(10);
        continue;
      }
      // Idle: wait for commits. Events in flight: come back soon for their
      // reports, less often while the broker makes no progress.
      const auto wait = in_flight_.empty() ? std::chrono::milliseconds(100)
                        : SteadyClock::now() - last_progress_ < std::chrono::milliseconds(100)
                            ? std::chrono::milliseconds(1)
                            : std::chrono::milliseconds(20);
      auto events = subscription_->Next(wait);
      if (!events.ok()) {
        spdlog::error("kafka relay: reading the log: {}; again from position {} in a second",
                      events.status().ToString(), checkpoint_ + 1);
        restart_needed_ = true;
        continue;
      }
      for (const RecordedEvent& event : *events) {
        if (!Produce(event)) break;
      }
    }
    // Let what is in flight arrive, then record how far it got.
    const auto deadline = SteadyClock::now() + drain_;
    while (!in_flight_.empty() && !restart_needed_ && SteadyClock::now() < deadline) {
      Poll(10);
    }
    MaybeSaveCheckpoint(true);
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    discarding_ = true;  // Reports of purged messages change nothing.
    rd_kafka_poll(producer_, 0);
    spdlog::info("kafka relay: stopped; delivered up to position {}", checkpoint_);
  }

  // Hands one event to the producer; false when the relay is stopping or
  // must restart before it could.
  bool Produce(const RecordedEvent& event) {
    const std::string value = options_.encode ? options_.encode(event) : EncodeEnvelope(event);
    const std::string event_id = event.data.event_id.ToString();
    const std::string position = std::to_string(event.global_position);
    const std::string version = std::to_string(event.stream_version);
    for (;;) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(5);
      rd_kafka_header_add(headers, "event-id", -1, event_id.data(), event_id.size());
      rd_kafka_header_add(headers, "event-type", -1, event.data.type.data(),
                          event.data.type.size());
      rd_kafka_header_add(headers, "position", -1, position.data(), position.size());
      rd_kafka_header_add(headers, "stream-version", -1, version.data(), version.size());
      rd_kafka_header_add(headers, "content-type", -1, options_.content_type.data(),
                          options_.content_type.size());
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_RKT(topic_),
          RD_KAFKA_V_KEY(event.stream_id.data(), event.stream_id.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(event.global_position))),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(headers);  // Still ours when producev fails.
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        NoteError(err, rd_kafka_err2str(err));
        restart_needed_ = true;
        return false;
      }
      Poll(10);  // Full: wait for deliveries to make room.
      if (!running_ || restart_needed_) return false;
    }
    in_flight_.push_back({event.recorded_at_us, false});
    ++outstanding_;
    published_ = event.global_position;
    if (in_flight_.size() == 1) {
      std::lock_guard lock(stats_mu_);
      oldest_undelivered_us_ = event.recorded_at_us;
    }
    return true;
  }

  void OnDelivery(const rd_kafka_message_t* message) {
    if (discarding_) return;
    const auto position = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      {
        std::lock_guard lock(stats_mu_);
        ++stats_.failed;
      }
      NoteError(message->err, rd_kafka_err2str(message->err));
      restart_needed_ = true;
      return;
    }
    if (position <= checkpoint_ || position > published_) return;  // From before a restart.
    in_flight_[position - checkpoint_ - 1].delivered = true;
    --outstanding_;
    if (options_.on_delivered) {
      options_.on_delivered(position, in_flight_[position - checkpoint_ - 1].recorded_at_us);
    }
    uint64_t moved = 0;
    while (!in_flight_.empty() && in_flight_.front().delivered) {
      in_flight_.pop_front();
      ++moved;
    }
    checkpoint_ += moved;
    ++delivered_unpublished_;
  }

  // Serves delivery reports and errors for up to `timeout_ms`, then makes
  // what they changed visible to stats() (once per call, not per report).
  void Poll(int timeout_ms) {
    rd_kafka_poll(producer_, timeout_ms);
    if (delivered_unpublished_ == 0) return;
    last_progress_ = SteadyClock::now();
    std::lock_guard lock(stats_mu_);
    stats_.delivered += delivered_unpublished_;
    delivered_unpublished_ = 0;
    stats_.checkpoint = checkpoint_;
    stats_.published = published_;
    oldest_undelivered_us_ = in_flight_.empty() ? 0 : in_flight_.front().recorded_at_us;
    if (!stats_.broker_reachable) {
      spdlog::info("kafka relay: {}; delivered up to position {}",
                   stats_.last_error.empty() ? "connected" : "delivering again", checkpoint_);
      stats_.broker_reachable = true;
    }
  }

  void OnError(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) {
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      NoteError(err, std::string("fatal: ") + fatal);
      restart_needed_ = true;
      return;
    }
    NoteError(err, reason);
  }

  // Records and logs a Kafka error: the first of a run at once, then at most
  // one line every 10 s.
  void NoteError(rd_kafka_resp_err_t err, const std::string& reason) {
    const auto now = SteadyClock::now();
    bool log = false;
    {
      std::lock_guard lock(stats_mu_);
      stats_.last_error = reason;
      if (IsConnectivityError(err)) stats_.broker_reachable = false;
      if (now - last_error_log_ > std::chrono::seconds(10)) {
        last_error_log_ = now;
        log = true;
      }
    }
    if (log) {
      spdlog::warn("kafka relay: {} ({} events not yet delivered, retrying)", reason,
                   store_.LastPosition() - checkpoint_);
    }
  }

  // Drops the producer and everything in flight, and publishes again from
  // the checkpoint: events after it may reach the topic twice.
  void Restart() {
    discarding_ = true;
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_, 0);
    DestroyProducer();
    discarding_ = false;
    restart_needed_ = false;
    in_flight_.clear();
    outstanding_ = 0;
    published_ = checkpoint_;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.restarts;
      oldest_undelivered_us_ = 0;
    }
    spdlog::warn("kafka relay: starting over from position {} in a second", checkpoint_ + 1);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    Status s = CreateProducer();
    if (s.ok()) s = Resubscribe();
    if (!s.ok()) {
      spdlog::error("kafka relay: cannot restart: {}", s.ToString());
      running_ = false;
    }
  }

  void MaybeSaveCheckpoint(bool now) {
    if (checkpoint_ == saved_checkpoint_) return;
    if (!now && SteadyClock::now() - last_save_ < options_.checkpoint_interval) return;
    Status saved = store_.SaveCheckpoint(options_.checkpoint_name, checkpoint_);
    last_save_ = SteadyClock::now();
    if (!saved.ok()) {
      spdlog::error("kafka relay: saving checkpoint: {}", saved.ToString());
      return;
    }
    saved_checkpoint_ = checkpoint_;
  }

  void PublishStats() {
    std::lock_guard lock(stats_mu_);
    stats_.checkpoint = checkpoint_;
    stats_.published = published_;
  }

  EventStore& store_;
  KafkaRelayOptions options_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  std::thread thread_;
  std::atomic<bool> running_{true};
  std::chrono::milliseconds drain_{0};

  // Owned by the relay's thread (delivery reports run on it, inside poll).
  std::deque<InFlight> in_flight_;      // Positions checkpoint_+1 .. published_.
  size_t outstanding_ = 0;              // Of those, not yet reported delivered.
  uint64_t delivered_unpublished_ = 0;  // Reports not yet counted in stats_.
  uint64_t checkpoint_ = 0;
  uint64_t saved_checkpoint_ = 0;
  uint64_t published_ = 0;
  bool restart_needed_ = false;
  bool discarding_ = false;
  SteadyClock::time_point last_save_{};
  SteadyClock::time_point last_progress_{};

  std::unique_ptr<Subscription> subscription_;  // Used by the relay's thread.

  mutable std::mutex stats_mu_;
  KafkaRelayStats stats_;                     // Guarded by stats_mu_.
  UnixMicros oldest_undelivered_us_ = 0;      // Guarded by stats_mu_.
  SteadyClock::time_point last_error_log_{};  // Guarded by stats_mu_.
};

Result<std::unique_ptr<KafkaRelay>> KafkaRelay::Start(EventStore& store,
                                                      KafkaRelayOptions options) {
  auto impl = std::make_unique<Impl>(store, std::move(options));
  RGPU_RETURN_IF_ERROR(impl->Init());
  impl->StartThread();
  return std::unique_ptr<KafkaRelay>(new KafkaRelay(std::move(impl)));
}

KafkaRelay::KafkaRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaRelay::~KafkaRelay() { Stop(); }

void KafkaRelay::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }

KafkaRelayStats KafkaRelay::stats() const { return impl_->stats(); }

const std::string& KafkaRelay::topic() const { return impl_->topic(); }

}  // namespace remotegpu::eventstore
