// remotegpu-kafka-mock: a Kafka cluster for tests and benchmarks.
//
// Kafka's broker is not installable here, so this runs librdkafka's mock
// cluster: real brokers speaking the Kafka wire protocol on 127.0.0.1 TCP
// ports, with topics, partitions, idempotent producers and consumer groups.
// Other processes (the relay, projection workers, kcat) connect to it like to
// any broker. It prints one line "bootstrap: HOST:PORT[,HOST:PORT…]" once the
// topics exist, then runs until SIGTERM, SIGINT or SIGKILL.
//
// Faults, for tests: SIGUSR1 takes every broker down (connections are closed
// and refused, the data stays), SIGUSR2 brings them back up.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace {

constexpr char kUsage[] =
    R"(Usage: remotegpu-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...

Runs librdkafka's mock Kafka cluster on 127.0.0.1 and prints
"bootstrap: HOST:PORT,..." when it is ready. Runs until SIGTERM or SIGINT.

  --brokers N                 brokers in the cluster (default 1)
  --topic NAME[:PARTITIONS]   create a topic (default partitions: 4); repeatable
  --help                      print this and exit

Signals: SIGUSR1 takes every broker down, SIGUSR2 brings them back.
)";

struct Topic {
  std::string name;
  int partitions = 4;
};

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<Topic> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "remotegpu-kafka-mock: " << arg << " needs a value\n\n" << kUsage;
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--brokers") {
      brokers = std::atoi(value.c_str());
    } else if (arg == "--topic") {
      Topic topic{value, 4};
      if (const size_t colon = value.rfind(':'); colon != std::string::npos) {
        topic.name = value.substr(0, colon);
        topic.partitions = std::atoi(value.c_str() + colon + 1);
      }
      if (topic.name.empty() || topic.partitions < 1) {
        std::cerr << "remotegpu-kafka-mock: bad --topic '" << value << "'\n";
        return 2;
      }
      topics.push_back(topic);
    } else {
      std::cerr << "remotegpu-kafka-mock: unknown flag " << arg << "\n\n" << kUsage;
      return 2;
    }
  }
  if (brokers < 1 || brokers > 16) {
    std::cerr << "remotegpu-kafka-mock: --brokers must be 1 to 16\n";
    return 2;
  }

  // Wait for signals with sigwait, so block them before librdkafka starts threads.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owner has no brokers of its own; say nothing about that.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  // The mock cluster needs a client instance to live in; this one never produces.
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (owner == nullptr) {
    std::cerr << "remotegpu-kafka-mock: " << error << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, brokers);
  if (cluster == nullptr) {
    std::cerr << "remotegpu-kafka-mock: cannot create the mock cluster\n";
    return 1;
  }
  for (const Topic& topic : topics) {
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(cluster, topic.name.c_str(), topic.partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "remotegpu-kafka-mock: creating topic " << topic.name << ": "
                << rd_kafka_err2str(err) << "\n";
      return 1;
    }
  }
  std::printf("bootstrap: %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  for (;;) {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGUSR1 || received == SIGUSR2) {
      for (int id = 1; id <= brokers; ++id) {
        if (received == SIGUSR1) {
          rd_kafka_mock_broker_set_down(cluster, id);
        } else {
          rd_kafka_mock_broker_set_up(cluster, id);
        }
      }
      std::printf("brokers %s\n", received == SIGUSR1 ? "down" : "up");
      std::fflush(stdout);
      continue;
    }
    break;
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  return 0;
}
