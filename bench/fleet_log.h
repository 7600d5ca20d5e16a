// A fleet's event log made by the real command side, for benchmarks: hosts
// registered (8 GPUs each), environments created (each an environment and a
// host append; refused ones still log their failure), a third of them
// stopped and deleted.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "commands/environment_service.h"
#include "commands/host_service.h"

namespace remotegpu::bench {

inline void BuildFleetLog(eventstore::EventStore& store, int hosts, int environments) {
  auto die = [](const char* what) {
    std::fprintf(stderr, "building the log: %s\n", what);
    std::exit(1);
  };

  commands::AggregateCache<commands::HostTraits> host_cache(store);
  commands::AggregateCache<commands::EnvironmentTraits> env_cache(store);
  commands::SchedulerIndex index(1);
  commands::StripedLock locks;
  commands::HostService host_service(store, SystemClock::Instance(), index, host_cache, locks);
  commands::EnvironmentService env_service(store, SystemClock::Instance(), index, host_cache,
                                           env_cache, locks);
  commands::CommandMeta meta{{eventstore::ActorKind::kSystem, "bench", ""}, "bench", "", ""};
  std::vector<std::thread> workers;
  for (int t = 0; t < 16; ++t) {
    workers.emplace_back([&, t] {
      for (int n = t; n < hosts; n += 16) {
        domain::HostCommand reg;
        auto* r = reg.mutable_register_();
        r->mutable_spec()->set_name("node-" + std::to_string(n));
        r->mutable_spec()->set_ip("10.2.0." + std::to_string(n % 250));
        r->mutable_spec()->set_cpu_cores(128);
        r->mutable_spec()->set_memory_mb(1 << 20);
        r->mutable_spec()->set_region(n % 2 ? "cn-east" : "cn-west");
        for (uint32_t i = 0; i < 8; ++i) {
          auto* gpu = r->add_gpus();
          gpu->set_index(i);
          gpu->set_uuid("GPU-" + std::to_string(n) + "-" + std::to_string(i));
          gpu->set_model(n % 3 ? "A100" : "H100");
          gpu->set_memory_mb(81920);
        }
        if (!host_service.Execute("host-" + std::to_string(n), reg, meta).ok()) {
          die("register failed");
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  workers.clear();
  std::atomic<int> next{0};
  for (int t = 0; t < 32; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < environments; i = next++) {
        domain::EnvironmentSpec spec;
        spec.set_name("job");
        spec.set_owner(i % 2 ? "acme" : "globex");
        spec.set_image("pytorch:2.3");
        spec.set_cpu_cores(4);
        spec.set_memory_mb(16384);
        spec.set_gpu_count(1 + i % 2);
        auto* ssh = spec.add_ports();
        ssh->set_service(domain::SSH);
        ssh->set_count(1);
        const std::string id = "env-" + std::to_string(i);
        auto placed = env_service.Create(id, spec, meta);
        if (!placed.ok()) continue;  // Full: still an event pair in the log.
        if (i % 3 == 0) {
          for (auto to : {domain::STOPPING, domain::STOPPED, domain::DELETED}) {
            if (!env_service.ChangeStatus(id, to, "bench", meta).ok()) die("stop failed");
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
}

}  // namespace remotegpu::bench
