// What an agent (perhaps on a machine a customer rents whole) sends as JSON:
// the server's body rule, protobuf's JSON mapping of a metrics batch and of
// a facts report, and ValidateMetricsBatch. Property: a batch the validator
// accepts holds only values PostgreSQL's columns can store.
#include <cmath>
#include <limits>

#include <google/protobuf/util/json_util.h>

#include "api/http/envelope.h"
#include "domain/host.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

const remotegpu::domain::HostState& AHost() {
  static const remotegpu::domain::HostState* host = [] {
    auto* state = new remotegpu::domain::HostState;
    state->registered = true;
    for (uint32_t i = 0; i < 2; ++i) {
      remotegpu::domain::Gpu gpu;
      gpu.set_index(i);
      gpu.set_uuid("GPU-" + std::to_string(i));
      state->gpus[i] = gpu;
    }
    return state;
  }();
  return *host;
}

bool Storable(double value) {
  return std::isfinite(value) && std::fabs(value) <= std::numeric_limits<float>::max();
}
bool Storable(uint64_t value) {
  return value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

}  // namespace

FUZZ_TARGET(telemetry_json) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  if (remotegpu::api::UnsafeJson(body, remotegpu::api::kMaxJsonDepth)) return 0;
  remotegpu::domain::AgentReport report;
  (void)google::protobuf::util::JsonStringToMessage(body, &report);
  remotegpu::domain::MetricsBatch batch;
  if (!google::protobuf::util::JsonStringToMessage(body, &batch).ok()) return 0;
  if (!remotegpu::domain::ValidateMetricsBatch(batch, AHost()).ok()) return 0;
  for (const auto& s : batch.samples()) {
    FUZZ_CHECK(Storable(s.cpu_usage_percent()) && Storable(s.load_1m()) &&
               Storable(s.load_5m()) && Storable(s.load_15m()));
    FUZZ_CHECK(s.cpu_cores() <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max()));
    for (uint64_t counter : {s.memory_total_bytes(), s.memory_available_bytes(),
                             s.disk_total_bytes(), s.disk_available_bytes(), s.disk_read_bytes(),
                             s.disk_write_bytes(), s.network_rx_bytes(), s.network_tx_bytes(),
                             s.network_rx_packets(), s.network_tx_packets()}) {
      FUZZ_CHECK(Storable(counter));
    }
    for (const auto& gpu : s.gpus()) {
      // One of the host's GPUs: by UUID, or by index when the UUID is unknown.
      FUZZ_CHECK(gpu.uuid() == "GPU-0" || gpu.uuid() == "GPU-1" ||
                 (gpu.uuid().empty() && gpu.index() < 2));
      FUZZ_CHECK(gpu.index() <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max()));
      FUZZ_CHECK(Storable(gpu.utilization_percent()) && Storable(gpu.temperature_c()) &&
                 Storable(gpu.power_w()) && Storable(gpu.power_limit_w()));
      FUZZ_CHECK(Storable(gpu.memory_used_bytes()) && Storable(gpu.memory_total_bytes()) &&
                 Storable(gpu.ecc_uncorrectable_errors()) && Storable(gpu.ecc_corrected_errors()));
      for (uint32_t xid : gpu.xid_errors()) {
        FUZZ_CHECK(xid <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max()));
      }
    }
  }
  return 0;
}
