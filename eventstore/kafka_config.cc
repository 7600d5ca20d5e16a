#include "eventstore/kafka_config.h"

#include <spdlog/spdlog.h>

namespace remotegpu::eventstore {

Result<rd_kafka_conf_t*> NewKafkaConfig(const KafkaProperties& properties, const char* who) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka property " + name + ": " + error);
    }
  }
  // The client's name carries `who` into the log callback.
  rd_kafka_conf_set(conf, "client.id", who, error, sizeof error);
  rd_kafka_conf_set_log_cb(
      conf, [](const rd_kafka_t* rk, int level, const char* facility, const char* message) {
        // syslog levels: 0-3 errors, 4 warnings, 5 and above notices and debug.
        const char* name = rd_kafka_name(rk);
        if (level <= 3) {
          spdlog::error("{}: librdkafka {}: {}", name, facility, message);
        } else if (level == 4) {
          spdlog::warn("{}: librdkafka {}: {}", name, facility, message);
        } else {
          spdlog::debug("{}: librdkafka {}: {}", name, facility, message);
        }
      });
  return conf;
}

}  // namespace remotegpu::eventstore
