// Kafka for tests over the real wire protocol: the mock cluster in its own
// process (remotegpu-kafka-mock), a consumer of our own that reads a whole
// topic, and kcat as an independent one.
#pragma once

#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "common/subprocess.h"
#include "tests/api/server_process.h"

namespace remotegpu::testing {

// A mock Kafka cluster in a child process, killed with the object.
class MockKafka {
 public:
  // Starts the cluster with `topic` of `partitions` partitions.
  static std::unique_ptr<MockKafka> Start(const std::string& binary, const std::string& topic,
                                          int partitions) {
    auto child = Subprocess::Spawn({binary, "--topic", topic + ":" + std::to_string(partitions)},
                                   {.capture_stdout = true, .merge_stderr = true});
    if (!child.ok()) return nullptr;
    auto mock = std::unique_ptr<MockKafka>(new MockKafka(std::move(*child)));
    const std::string marker = "bootstrap: ";
    std::string output = api::testing_process::ReadUntil(mock->process_, marker);
    const size_t at = output.find(marker);
    if (at == std::string::npos) return nullptr;
    if (output.find('\n', at) == std::string::npos) {
      output += api::testing_process::ReadUntil(mock->process_, "\n");
    }
    mock->bootstrap_ = output.substr(at + marker.size());
    mock->bootstrap_ = mock->bootstrap_.substr(0, mock->bootstrap_.find('\n'));
    return mock;
  }

  const std::string& bootstrap() const { return bootstrap_; }
  // Every broker closes its connections and refuses new ones; data stays.
  void Down() { process_.Signal(SIGUSR1); }
  void Up() { process_.Signal(SIGUSR2); }

 private:
  explicit MockKafka(Subprocess process) : process_(std::move(process)) {}
  Subprocess process_;
  std::string bootstrap_;
};

struct KafkaMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
  uint64_t position() const { return std::stoull(headers.at("position")); }
};

// Every message of `topic` (all partitions, from the beginning), read by a
// plain librdkafka consumer until at least `at_least` have arrived and every
// partition is at its end, or `timeout` passes.
inline std::vector<KafkaMessage> ReadTopic(
    const std::string& brokers, const std::string& topic, size_t at_least,
    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  std::vector<KafkaMessage> out;
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "group.id", "test-reader", error, sizeof error);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", error, sizeof error);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof error);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  const struct rd_kafka_metadata* metadata = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  int partitions = 0;
  if (rd_kafka_metadata(rk, 0, t, &metadata, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::set<int32_t> at_end;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline &&
         !(out.size() >= at_least && static_cast<int>(at_end.size()) == partitions)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      at_end.erase(m->partition);
      KafkaMessage message{m->partition,
                           m->offset,
                           std::string(static_cast<const char*>(m->key), m->key_len),
                           std::string(static_cast<const char*>(m->payload), m->len),
                           {}};
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          message.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(message));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// What kcat prints for each message of `topic`: partition, offset, key and
// the position header, read from the beginning to the end of every partition.
struct KcatLine {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string headers;  // kcat's "name=value,name=value".
};

inline Result<std::vector<KcatLine>> KcatRead(const std::string& brokers,
                                              const std::string& topic) {
  auto output = RunCommand({"kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                            "-f", "%p\t%o\t%k\t%h\n"});
  if (!output.ok()) return output.status();
  std::vector<KcatLine> lines;
  std::istringstream in(*output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    KcatLine parsed;
    std::string partition, offset;
    if (!std::getline(fields, partition, '\t') || !std::getline(fields, offset, '\t') ||
        !std::getline(fields, parsed.key, '\t') || !std::getline(fields, parsed.headers)) {
      return Status::Corruption("kcat printed an unexpected line: " + line);
    }
    parsed.partition = std::stoi(partition);
    parsed.offset = std::stoll(offset);
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// Waits until `done()` or `timeout`; returns done().
template <typename Done>
bool WaitFor(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace remotegpu::testing
