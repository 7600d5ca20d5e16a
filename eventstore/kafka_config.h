// librdkafka configuration shared by the relay (kafka_relay.cc) and the
// projection workers (projections/kafka_projection_worker.cc). Includes
// librdkafka: for .cc files only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "common/status.h"

namespace remotegpu::eventstore {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// A new configuration holding `properties`, whose librdkafka log lines go
// through spdlog prefixed with `who` (so --log-format json covers them).
// InvalidArgument naming the property librdkafka refuses.
Result<rd_kafka_conf_t*> NewKafkaConfig(const KafkaProperties& properties, const char* who);

}  // namespace remotegpu::eventstore
