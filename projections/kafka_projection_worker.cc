#include "projections/kafka_projection_worker.h"

#include <algorithm>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "eventstore/envelope_codec.h"
#include "eventstore/kafka_config.h"
#include "projections/migrations.h"

namespace remotegpu::projections {

using SteadyClock = std::chrono::steady_clock;

// The librdkafka consumer handle, kept out of the header.
class KafkaProjectionWorker::Consumer {
 public:
  explicit Consumer(rd_kafka_t* handle) : handle(handle) {}
  ~Consumer() { rd_kafka_destroy(handle); }
  rd_kafka_t* handle;
};

// A consumed event, with where it came from.
struct KafkaProjectionWorker::Polled {
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t generation = 0;
  eventstore::RecordedEvent event;
};

namespace {

// Assigns `partitions` of `topic`, each from `offsets` (or the beginning).
void Assign(rd_kafka_t* rk, const std::string& topic, const std::vector<int32_t>& partitions,
            const std::map<int32_t, int64_t>& offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) {
    auto it = offsets.find(p);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
        it == offsets.end() ? RD_KAFKA_OFFSET_BEGINNING : it->second;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("kafka worker: assigning partitions: {}", rd_kafka_err2str(err));
  }
  rd_kafka_topic_partition_list_destroy(list);
}

}  // namespace

KafkaProjectionWorker::KafkaProjectionWorker(std::vector<std::unique_ptr<Projector>> projectors,
                                             KafkaWorkerOptions options)
    : projectors_(std::move(projectors)), options_(std::move(options)) {}

KafkaProjectionWorker::~KafkaProjectionWorker() {
  // Leaves the group (the revocation runs OnRevoke) before the rest goes.
  if (consumer_) rd_kafka_consumer_close(consumer_->handle);
}

Status KafkaProjectionWorker::Open() {
  if (options_.brokers.empty() || options_.topic.empty() || options_.group.empty()) {
    return Status::InvalidArgument("a kafka worker needs brokers, a topic and a group");
  }
  auto connection = ConnectAndMigrate(options_.conninfo, options_.schema);
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);

  eventstore::KafkaProperties properties = {
      {"bootstrap.servers", options_.brokers},
      {"group.id", options_.group},
      // Offsets are stored with the read models, never in Kafka.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", std::to_string(options_.session_timeout.count())},
      {"heartbeat.interval.ms",
       std::to_string(std::max<int64_t>(100, options_.session_timeout.count() / 3))},
  };
  properties.insert(properties.end(), options_.extra_config.begin(), options_.extra_config.end());
  auto config = eventstore::NewKafkaConfig(properties, "remotegpu-projection-worker");
  if (!config.ok()) return config.status();
  rd_kafka_conf_t* conf = *config;
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, [](rd_kafka_t*, rd_kafka_resp_err_t err,
                                          rd_kafka_topic_partition_list_t* list, void* self) {
    auto* worker = static_cast<KafkaProjectionWorker*>(self);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      std::vector<int32_t> partitions;
      for (int i = 0; i < list->cnt; ++i) partitions.push_back(list->elems[i].partition);
      worker->OnAssign(partitions);
    } else {
      worker->OnRevoke();
    }
  });
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (rk == nullptr) {
    return Status::InvalidArgument(std::string("cannot create the kafka consumer: ") + error);
  }
  consumer_ = std::make_unique<Consumer>(rk);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::InvalidArgument("subscribing to " + options_.topic + ": " +
                                   rd_kafka_err2str(err));
  }
  return Status::Ok();
}

Result<std::map<int32_t, std::pair<int64_t, uint64_t>>> KafkaProjectionWorker::LoadOffsets(
    const std::vector<int32_t>& partitions) {
  std::map<int32_t, std::pair<int64_t, uint64_t>> out;
  try {
    pqxx::nontransaction tx(*connection_);
    for (const auto& row :
         tx.exec_params("SELECT partition, next_offset, applied_position FROM " + options_.schema +
                            ".kafka_offsets WHERE group_id = $1 AND topic = $2",
                        options_.group, options_.topic)) {
      const auto p = row[0].as<int32_t>();
      if (std::find(partitions.begin(), partitions.end(), p) == partitions.end()) continue;
      out[p] = {row[1].as<int64_t>(), row[2].as<uint64_t>()};
    }
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading kafka offsets: ") + e.what());
  }
  return out;
}

void KafkaProjectionWorker::OnAssign(const std::vector<int32_t>& partitions) {
  ++generation_;
  assigned_ = partitions;
  applied_.clear();
  reached_.clear();
  std::map<int32_t, int64_t> start;  // Partitions absent here start at the beginning.
  auto stored = LoadOffsets(partitions);
  if (!stored.ok()) {
    // Without the stored positions, read everything; the first transaction
    // finds the stored ones and rewinds.
    spdlog::error("kafka worker: {}", stored.status().ToString());
  }
  for (int32_t p : partitions) {
    uint64_t applied = 0;
    int64_t next_offset = -1;
    if (stored.ok()) {
      if (auto it = stored->find(p); it != stored->end()) {
        std::tie(next_offset, applied) = it->second;
      }
    }
    applied_[p] = applied;
    auto warm = held_.find(p);
    if (warm != held_.end() && warm->second == applied && next_offset >= 0) {
      start[p] = next_offset;  // Our states are current: carry on.
      reached_[p] = applied;
    }
  }
  std::string list;
  for (int32_t p : partitions) {
    list += (list.empty() ? "" : ", ") + std::to_string(p) + "@" + std::to_string(applied_[p]) +
            (start.count(p) ? "" : " (from the beginning)");
  }
  spdlog::info("kafka worker: assigned partitions [{}] of {}", list, options_.topic);
  Assign(consumer_->handle, options_.topic, partitions, start);
  std::lock_guard lock(stats_mu_);
  stats_.applied_position = {applied_.begin(), applied_.end()};
}

void KafkaProjectionWorker::OnRevoke() {
  ++generation_;
  for (int32_t p : assigned_) {
    // States stay in memory; they are current if everything applied was folded.
    if (reached_[p] >= applied_[p]) {
      held_[p] = applied_[p];
    } else {
      held_.erase(p);
    }
  }
  assigned_.clear();
  applied_.clear();
  reached_.clear();
  rd_kafka_assign(consumer_->handle, nullptr);
  spdlog::info("kafka worker: partitions revoked");
  std::lock_guard lock(stats_mu_);
  stats_.applied_position.clear();
}

void KafkaProjectionWorker::Rewind(const std::string& why) {
  spdlog::warn("kafka worker: {}; reading the assigned partitions again from the beginning", why);
  for (auto& projector : projectors_) projector->Reset();
  held_.clear();
  ++generation_;  // What was polled before the seek is dropped.
  reached_.clear();
  if (!connection_->is_open()) {
    try {
      connection_ = std::make_unique<pqxx::connection>(options_.conninfo);
    } catch (const std::exception& e) {
      spdlog::error("kafka worker: reconnecting to PostgreSQL: {}", e.what());
    }
  }
  auto stored = LoadOffsets(assigned_);
  for (int32_t p : assigned_) {
    // Unknown (PostgreSQL is away): 0, which the next transaction's check refuses.
    applied_[p] = 0;
    if (!stored.ok()) continue;
    if (auto it = stored->find(p); it != stored->end()) applied_[p] = it->second.second;
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
  for (int32_t p : assigned_) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_->handle, list, 5000)) {
    spdlog::error("kafka worker: seeking: {}", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
  rd_kafka_topic_partition_list_destroy(list);
  std::lock_guard lock(stats_mu_);
  ++stats_.rewinds;
  stats_.applied_position = {applied_.begin(), applied_.end()};
}

Result<size_t> KafkaProjectionWorker::Step(std::chrono::milliseconds wait) {
  if (!consumer_) return Status::FailedPrecondition("the kafka worker is not open");
  std::vector<Polled> batch;
  const auto first_deadline = SteadyClock::now() + wait;
  SteadyClock::time_point deadline = first_deadline;
  while (batch.size() < options_.batch_size && running_) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() < 0) break;
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(consumer_->handle, static_cast<int>(left.count()));
    if (message == nullptr) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka worker: {}", rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
      continue;
    }
    auto event = eventstore::DecodeEnvelope(
        std::string_view(static_cast<const char*>(message->payload), message->len));
    const int32_t partition = message->partition;
    const int64_t offset = message->offset;
    rd_kafka_message_destroy(message);
    if (!event.ok()) {
      return Status::Corruption("message at partition " + std::to_string(partition) + " offset " +
                                std::to_string(offset) +
                                " is not a protobuf event envelope (the relay must publish "
                                "--kafka-format protobuf): " +
                                event.status().message());
    }
    if (batch.empty()) deadline = std::min(first_deadline, SteadyClock::now() + options_.linger);
    batch.push_back({partition, offset, generation_, std::move(*event)});
  }
  return Process(batch);
}

Result<size_t> KafkaProjectionWorker::Process(std::vector<Polled>& batch) {
  // Messages polled before a rebalance belong to an assignment that is over.
  std::erase_if(batch, [this](const Polled& m) { return m.generation != generation_; });
  if (batch.empty()) return size_t{0};

  std::vector<eventstore::RecordedEvent> warm, apply;
  std::map<int32_t, std::pair<int64_t, uint64_t>> moved;  // partition -> next offset, position.
  for (Polled& m : batch) {
    const uint64_t position = m.event.global_position;
    uint64_t& reached = reached_[m.partition];
    auto it = moved.find(m.partition);
    const uint64_t done = it != moved.end() ? it->second.second : applied_[m.partition];
    if (position <= done) {
      warm.push_back(std::move(m.event));  // Applied before, or a duplicate.
    } else {
      moved[m.partition] = {m.offset + 1, position};
      apply.push_back(std::move(m.event));
    }
    reached = std::max(reached, position);
  }
  try {
    for (auto& projector : projectors_) projector->Warm(warm);
  } catch (const std::exception& e) {
    Rewind(std::string("warming: ") + e.what());
    return size_t{0};
  }
  {
    std::lock_guard lock(stats_mu_);
    stats_.warmed += warm.size();
  }
  if (apply.empty()) return size_t{0};

  const std::string offsets_table = options_.schema + ".kafka_offsets";
  try {
    pqxx::work tx(*connection_);
    for (const auto& [partition, next] : moved) {
      tx.exec_params0("INSERT INTO " + offsets_table +
                          " (group_id, topic, partition, next_offset, applied_position) "
                          "VALUES ($1, $2, $3, 0, 0) ON CONFLICT DO NOTHING",
                      options_.group, options_.topic, partition);
      const uint64_t stored =
          tx.exec_params1("SELECT applied_position FROM " + offsets_table +
                              " WHERE group_id = $1 AND topic = $2 AND partition = $3 FOR UPDATE",
                          options_.group, options_.topic, partition)[0]
              .as<uint64_t>();
      if (stored != applied_[partition]) {
        tx.abort();
        Rewind("partition " + std::to_string(partition) + " was moved to position " +
               std::to_string(stored) + " by another worker (this one was at " +
               std::to_string(applied_[partition]) + ")");
        return size_t{0};
      }
    }
    for (auto& projector : projectors_) projector->Apply(tx, options_.schema, apply);
    for (const auto& [partition, next] : moved) {
      tx.exec_params0("UPDATE " + offsets_table +
                          " SET next_offset = $4, applied_position = $5, updated_at = now() "
                          "WHERE group_id = $1 AND topic = $2 AND partition = $3",
                      options_.group, options_.topic, partition, next.first,
                      static_cast<int64_t>(next.second));
    }
    tx.commit();
  } catch (const std::exception& e) {
    const std::string what = std::string("applying a batch: ") + e.what();
    Rewind(what);
    return Status::IoError(what);
  }
  for (const auto& [partition, next] : moved) applied_[partition] = next.second;
  std::lock_guard lock(stats_mu_);
  stats_.applied += apply.size();
  ++stats_.transactions;
  for (const auto& [partition, next] : moved) stats_.applied_position[partition] = next.second;
  return apply.size();
}

Status KafkaProjectionWorker::Run() {
  auto last_report = SteadyClock::now();
  uint64_t reported = 0;
  while (running_) {
    auto applied = Step(std::chrono::milliseconds(500));
    if (!applied.ok()) {
      if (applied.status().code() == StatusCode::kCorruption) return applied.status();
      spdlog::error("kafka worker: {}", applied.status().ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (SteadyClock::now() - last_report > std::chrono::seconds(5)) {
      const KafkaWorkerStats s = stats();
      if (s.applied != reported) {
        spdlog::info("kafka worker: {} events applied in {} transactions, {} warmed", s.applied,
                     s.transactions, s.warmed);
        reported = s.applied;
      }
      last_report = SteadyClock::now();
    }
  }
  return Status::Ok();
}

KafkaWorkerStats KafkaProjectionWorker::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

}  // namespace remotegpu::projections
