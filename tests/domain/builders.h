// Small builders for decider tests: a registered host's history, and the
// commands tests send most.
#pragma once

#include <string>
#include <vector>

#include "domain/host.h"

namespace remotegpu::domain::testing_builders {

inline constexpr UnixMicros kNow = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z

inline DecideContext HostContext(const std::string& id = "host-42") { return {id, kNow}; }

inline Gpu MakeGpu(uint32_t index, const std::string& model, uint64_t memory_mb = 81920) {
  Gpu gpu;
  gpu.set_index(index);
  gpu.set_uuid("GPU-" + std::to_string(index));
  gpu.set_model(model);
  gpu.set_memory_mb(memory_mb);
  gpu.set_compute_capability("8.0");
  return gpu;
}

// A RegisterHost command: 64 cores, 512 GiB, `gpus` A100s.
inline HostCommand RegisterCmd(int gpus, const std::string& model = "A100") {
  HostCommand command;
  auto* reg = command.mutable_register_();
  reg->mutable_spec()->set_name("gpu-node");
  reg->mutable_spec()->set_ip("10.0.0.1");
  reg->mutable_spec()->set_os("linux");
  reg->mutable_spec()->set_cpu_cores(64);
  reg->mutable_spec()->set_memory_mb(512 * 1024);
  for (int i = 0; i < gpus; ++i) *reg->add_gpus() = MakeGpu(i, model);
  return command;
}

// The events of registering such a host.
inline std::vector<HostEvent> RegisteredHost(int gpus, const std::string& model = "A100") {
  return Decide(HostState{}, RegisterCmd(gpus, model), HostContext()).value();
}

inline HostState Given(const std::vector<HostEvent>& events,
                       const std::vector<HostEvent>& more = {}) {
  HostState state;
  for (const auto& event : events) Apply(state, event);
  for (const auto& event : more) Apply(state, event);
  return state;
}

inline HostCommand StatusCmd(OperationalStatus to, bool by_person,
                             const std::string& reserved_for = "", bool drain = false) {
  HostCommand command;
  auto* change = command.mutable_change_status();
  change->set_to(to);
  change->set_reason("because");
  change->set_by_person(by_person);
  change->set_reserved_for(reserved_for);
  change->set_drain(drain);
  return command;
}

// 4 cores and 16 GiB per GPU requested (8 and 16 GiB for CPU-only).
inline HostCommand AllocateCmd(const std::string& allocation_id, const std::string& holder,
                               const std::vector<uint32_t>& gpus, const std::string& owner = "") {
  HostCommand command;
  auto* allocate = command.mutable_allocate();
  allocate->set_allocation_id(allocation_id);
  allocate->set_holder(holder);
  allocate->set_owner(owner);
  allocate->set_cpu_cores(gpus.empty() ? 8 : 4 * static_cast<uint32_t>(gpus.size()));
  allocate->set_memory_mb(16 * 1024);
  for (uint32_t index : gpus) allocate->add_gpu_indexes(index);
  return command;
}

}  // namespace remotegpu::domain::testing_builders
