// remotegpu-bench-scheduler: placement latency on a large fleet, and
// environment creations per second end to end through the command handler
// into the durable event store.
//
// Placement: 10,000 hosts of 8 GPUs (four models, four regions, labels,
// NVLink pairs), a random part of each already allocated; requests of 1, 2, 4
// or 8 GPUs with mixed constraints. Each strategy is timed per call. In the
// same run, a linear scan over every host (what a scheduler without an index
// does) is timed for best-fit as the reference.
//
// End to end: EnvironmentService::Create from 64 threads against hosts
// registered in a real RocksDB store; every creation is one durable
// multi-stream append (environment + host).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "domain/scheduler.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace remotegpu::domain;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-scheduler [--quick] [--json]

Placement latency per strategy on 10,000 hosts of 8 GPUs with mixed
constraints (and a linear-scan best-fit as the reference), then environment
creations per second through the command handler into the durable store.

  --quick   a short run
  --json    end the output with one JSON object of the figures
  --help    print this and exit
)";

const std::vector<std::string> kModels = {"A100", "H100", "A800", "L40"};
const std::vector<std::string> kRegions = {"cn-east", "cn-north", "cn-south", "cn-west"};

HostState MakeHost(int n, std::mt19937_64& random, bool allocate) {
  HostState state;
  state.registered = true;
  state.status = AVAILABLE;
  state.spec.set_name("node-" + std::to_string(n));
  state.spec.set_ip("10.1." + std::to_string(n / 256) + "." + std::to_string(n % 256));
  state.spec.set_cpu_cores(128);
  state.spec.set_memory_mb(1024 * 1024);
  state.spec.set_os(n % 10 == 0 ? "windows" : "linux");
  state.spec.set_region(kRegions[n % kRegions.size()]);
  auto* label = state.spec.add_labels();
  label->set_key("team");
  label->set_value(n % 3 == 0 ? "vision" : "llm");
  const std::string& model = kModels[(n / 4) % kModels.size()];
  for (uint32_t i = 0; i < 8; ++i) {
    Gpu gpu;
    gpu.set_index(i);
    gpu.set_model(model);
    gpu.set_memory_mb(model == "L40" ? 49152 : 81920);
    gpu.add_nvlink_peers(i ^ 1u);
    state.gpus[i] = gpu;
  }
  if (allocate) {
    uint32_t used = static_cast<uint32_t>(random() % 9);
    for (uint32_t i = 0; i < used; ++i) state.gpu_holders[i] = "env-x";
    state.cpu_allocated = used * 8;
    state.memory_allocated = used * 65536;
    if (used > 0) state.allocations["env-x"] = {};
  }
  return state;
}

PlacementRequest MakeRequest(std::mt19937_64& random) {
  static const uint32_t kCounts[] = {1, 1, 1, 2, 2, 4, 8};
  PlacementRequest request;
  request.cpu_cores = 8;
  request.memory_mb = 65536;
  request.gpu_count = kCounts[random() % 7];
  if (random() % 2 == 0) request.constraints.set_gpu_model(kModels[random() % kModels.size()]);
  if (random() % 3 == 0) request.constraints.set_region(kRegions[random() % kRegions.size()]);
  if (random() % 10 == 0) {
    auto* label = request.constraints.add_labels();
    label->set_key("team");
    label->set_value("vision");
  }
  if (random() % 5 == 0) request.constraints.set_min_gpu_memory_mb(65536);
  if (random() % 3 == 0) request.constraints.set_prefer_nvlink(true);
  if (random() % 10 == 0) request.constraints.set_os("linux");
  return request;
}

struct Percentiles {
  double p50 = 0, p99 = 0;
  int failed = 0;
};

Percentiles Summarise(std::vector<double>& micros, int failed) {
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100], failed};
}

// Best-fit over every host, without an index: the reference.
bool LinearBestFit(const std::vector<HostState>& hosts, const PlacementRequest& request) {
  int best = -1;
  size_t best_free = SIZE_MAX;
  for (size_t h = 0; h < hosts.size(); ++h) {
    const HostState& host = hosts[h];
    const auto& c = request.constraints;
    if (!host.Schedulable()) continue;
    if (!c.region().empty() && host.spec.region() != c.region()) continue;
    if (!c.os().empty() && host.spec.os() != c.os()) continue;
    if (host.spec.cpu_cores() - host.cpu_allocated < request.cpu_cores) continue;
    size_t free = 0;
    for (const auto& [index, gpu] : host.gpus) {
      if (host.gpu_holders.contains(index)) continue;
      if (!c.gpu_model().empty() && gpu.model() != c.gpu_model()) continue;
      if (gpu.memory_mb() < c.min_gpu_memory_mb()) continue;
      ++free;
    }
    if (free >= request.gpu_count && free < best_free) {
      best = static_cast<int>(h);
      best_free = free;
    }
  }
  return best >= 0;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-scheduler: " << what << "\n";
  std::exit(1);
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-scheduler", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  spdlog::set_level(spdlog::level::warn);
  constexpr int kHosts = 10'000;
  const int placements = quick ? 3'000 : 20'000;

  // ---- Placement latency ----
  std::cerr << "  building the capacity index of " << kHosts << " hosts\n";
  std::mt19937_64 random(2026);
  std::vector<HostState> fleet;
  CapacityIndex index;
  for (int n = 0; n < kHosts; ++n) {
    fleet.push_back(MakeHost(n, random, true));
    index.Update("host-" + std::to_string(n), fleet.back());
  }
  std::vector<PlacementRequest> requests;
  for (int i = 0; i < placements; ++i) requests.push_back(MakeRequest(random));

  const std::vector<SchedulingStrategy> strategies = {FIRST_FIT, BEST_FIT, LEAST_LOADED,
                                                      ROUND_ROBIN, RANDOM};
  std::vector<Percentiles> by_strategy;
  for (SchedulingStrategy strategy : strategies) {
    std::cerr << "  placing with " << Name(strategy) << "\n";
    std::vector<double> micros;
    int failed = 0;
    std::mt19937_64 choice_random(7);
    for (auto request : requests) {
      request.strategy = strategy;
      auto start = SteadyClock::now();
      auto choice = index.Place(request, choice_random);
      micros.push_back(
          std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
      failed += choice.ok() ? 0 : 1;
    }
    by_strategy.push_back(Summarise(micros, failed));
  }
  std::cerr << "  placing with a linear scan (reference)\n";
  std::vector<double> linear_micros;
  for (int i = 0; i < std::min(placements, 2000); ++i) {
    auto start = SteadyClock::now();
    LinearBestFit(fleet, requests[i]);
    linear_micros.push_back(
        std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
  }
  Percentiles linear = Summarise(linear_micros, 0);

  // ---- End to end ----
  // Enough GPUs that the run never runs out: creations, not refusals, are timed.
  const int creation_hosts = quick ? 2000 : 10'000;
  const int threads = 64;
  const auto duration = std::chrono::milliseconds(quick ? 1500 : 4000);
  testing::TempDir dir;
  auto store = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!store.ok()) Die(store.status().ToString());
  commands::AggregateCache<commands::HostTraits> host_cache(**store);
  commands::AggregateCache<commands::EnvironmentTraits> env_cache(**store);
  commands::SchedulerIndex scheduler(1);
  commands::StripedLock locks;
  commands::HostService hosts(**store, SystemClock::Instance(), scheduler, host_cache, locks);
  commands::EnvironmentService environments(**store, SystemClock::Instance(), scheduler, host_cache,
                                            env_cache, locks);
  commands::CommandMeta meta{{eventstore::ActorKind::kSystem, "bench", ""}, "", "", ""};
  std::cerr << "  registering " << creation_hosts << " hosts in the durable store\n";
  {
    std::vector<std::thread> registrars;
    for (int t = 0; t < 16; ++t) {
      registrars.emplace_back([&, t] {
        std::mt19937_64 r(t);
        for (int n = t; n < creation_hosts; n += 16) {
          HostState shape = MakeHost(n, r, false);
          HostCommand command;
          *command.mutable_register_()->mutable_spec() = shape.spec;
          for (const auto& [index, gpu] : shape.gpus)
            *command.mutable_register_()->add_gpus() = gpu;
          auto done = hosts.Execute("host-" + std::to_string(n), command, meta);
          if (!done.ok()) Die(done.status().ToString());
        }
      });
    }
    for (auto& t : registrars) t.join();
  }
  std::cerr << "  creating environments from " << threads << " threads\n";
  std::atomic<bool> stop{false};
  std::atomic<int> created{0}, no_capacity{0};
  std::vector<std::thread> workers;
  const uint64_t position_before = (*store)->LastPosition();
  auto start = SteadyClock::now();
  const double cpu_before = ProcessCpuSeconds();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        EnvironmentSpec spec;
        spec.set_name("bench");
        spec.set_owner("acme");
        spec.set_image("pytorch:2.3");
        spec.set_cpu_cores(4);
        spec.set_memory_mb(16384);
        spec.set_gpu_count(1);
        spec.set_strategy(i % 2 == 0 ? BEST_FIT : LEAST_LOADED);
        auto* ssh = spec.add_ports();
        ssh->set_service(SSH);
        ssh->set_count(1);
        auto placed =
            environments.Create("env-" + std::to_string(t) + "-" + std::to_string(i), spec, meta);
        if (placed.ok()) {
          ++created;
        } else if (placed.status().code() == StatusCode::kResourceExhausted) {
          if (no_capacity++ == 0)
            std::cerr << "  first refusal: " << placed.status().message() << "\n";
        } else {
          Die("create failed: " + placed.status().ToString());
        }
      }
    });
  }
  std::this_thread::sleep_for(duration);
  stop.store(true);
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  double cpu_cores = (ProcessCpuSeconds() - cpu_before) / seconds;
  double creates_per_s = created.load() / seconds;
  uint64_t events = (*store)->LastPosition() - position_before;

  // ---- Report ----
  double worst_p50 = 0, worst_p99 = 0;
  std::printf("\nplacement on %d hosts x 8 GPUs, %d mixed-constraint requests per strategy\n\n",
              kHosts, placements);
  std::printf("%-14s %10s %10s %10s\n", "strategy", "p50 us", "p99 us", "no fit");
  nlohmann::json p99_by_strategy;
  for (size_t i = 0; i < strategies.size(); ++i) {
    const auto& p = by_strategy[i];
    std::printf("%-14s %10.1f %10.1f %10d\n", Name(strategies[i]), p.p50, p.p99, p.failed);
    worst_p50 = std::max(worst_p50, p.p50);
    worst_p99 = std::max(worst_p99, p.p99);
    p99_by_strategy[Name(strategies[i])] = p.p99;
  }
  std::printf("%-14s %10.1f %10.1f   (reference: best-fit scanning every host, %zu requests)\n",
              "linear scan", linear.p50, linear.p99, linear_micros.size());
  std::printf(
      "\nend to end: %.0f environment creations/s (%d created, %d no capacity) from %d "
      "threads on %d hosts,\n%.1f s, every creation one durable env + host append "
      "(%llu events), %.2f CPU cores busy\n",
      creates_per_s, created.load(), no_capacity.load(), threads, creation_hosts, seconds,
      static_cast<unsigned long long>(events), cpu_cores);
  if (json) {
    nlohmann::json figures = {
        {"place_p50_us", worst_p50},
        {"place_p99_us", worst_p99},
        {"place_p99_us_by_strategy", p99_by_strategy},
        {"linear_scan_p99_us", linear.p99},
        {"env_creates_per_s", creates_per_s},
        {"hosts", kHosts},
    };
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
