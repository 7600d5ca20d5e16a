#include "domain/scheduler.h"

#include <algorithm>
#include <optional>

namespace remotegpu::domain {
namespace {

constexpr int kRandomProbes = 32;

std::string Describe(const PlacementRequest& request) {
  std::string what = std::to_string(request.gpu_count) + " free GPU(s)";
  const auto& c = request.constraints;
  if (!c.gpu_model().empty()) what += " of model " + c.gpu_model();
  if (c.min_gpu_memory_mb() > 0) {
    what += " with at least " + std::to_string(c.min_gpu_memory_mb()) + " MB each";
  }
  what += ", " + std::to_string(request.cpu_cores) + " free cores and " +
          std::to_string(request.memory_mb) + " MB free memory";
  if (!c.region().empty()) what += " in region " + c.region();
  if (!c.os().empty()) what += " on " + c.os();
  for (const auto& label : c.labels()) what += ", label " + label.key() + "=" + label.value();
  return what;
}

}  // namespace

void CapacityIndex::Bucket::Add(const std::string& host_id) {
  positions[host_id] = hosts.size();
  hosts.push_back(host_id);
}

void CapacityIndex::Bucket::Erase(const std::string& host_id) {
  auto it = positions.find(host_id);
  if (it == positions.end()) return;
  size_t position = it->second;
  positions.erase(it);
  if (position + 1 != hosts.size()) {
    hosts[position] = std::move(hosts.back());
    positions[hosts[position]] = position;
  }
  hosts.pop_back();
}

void CapacityIndex::Update(const std::string& host_id, const HostState& state,
                           const Reserved& reserved) {
  auto existing = hosts_.find(host_id);
  const bool known = existing != hosts_.end();
  if (known) Unindex(existing->second);
  HostCapacity& capacity = hosts_[host_id];
  capacity.host_id = host_id;
  capacity.schedulable = state.registered &&
                         (state.status == AVAILABLE || state.status == RESERVED) && state.online &&
                         !state.isolated && !state.leased;
  capacity.reserved_for = state.status == RESERVED ? state.reserved_for : "";
  capacity.region = state.spec.region();
  capacity.os = state.spec.os();
  capacity.labels.clear();
  for (const auto& label : state.spec.labels()) capacity.labels[label.key()] = label.value();
  auto free_of = [](uint64_t total, uint64_t used) { return total - std::min(total, used); };
  capacity.cpu_free =
      free_of(state.CpuCapacity(), uint64_t{state.cpu_allocated} + reserved.cpu_cores);
  capacity.memory_free =
      free_of(state.MemoryCapacity(), state.memory_allocated + reserved.memory_mb);
  capacity.total_gpus = static_cast<uint32_t>(state.gpus.size());
  capacity.free_gpus.clear();
  capacity.free_by_model.clear();
  for (const auto& [index, gpu] : state.gpus) {
    if (state.gpu_holders.contains(index)) continue;
    if (std::find(reserved.gpus.begin(), reserved.gpus.end(), index) != reserved.gpus.end()) {
      continue;
    }
    FreeGpu& free = capacity.free_gpus.emplace_back();
    free.index = index;
    free.model = gpu.model();
    free.memory_mb = gpu.memory_mb();
    for (uint32_t peer : gpu.nvlink_peers()) {
      if (peer < 64) free.nvlink_mask |= uint64_t{1} << peer;
    }
    ++capacity.free_by_model[gpu.model()];
  }
  if (!known) ordered_.insert(host_id);
  Index(capacity);
}

void CapacityIndex::Remove(const std::string& host_id) {
  auto it = hosts_.find(host_id);
  if (it == hosts_.end()) return;
  Unindex(it->second);
  ordered_.erase(host_id);
  hosts_.erase(it);
}

const HostCapacity* CapacityIndex::Find(const std::string& host_id) const {
  auto it = hosts_.find(host_id);
  return it == hosts_.end() ? nullptr : &it->second;
}

void CapacityIndex::Index(const HostCapacity& capacity) {
  if (!capacity.schedulable) return;
  for (const auto& [model, free] : capacity.free_by_model) {
    Pool& pool = pools_[{model, capacity.region}];
    pool.model = model;
    pool.region = capacity.region;
    pool.buckets[free].Add(capacity.host_id);
    pool.ordered.insert(capacity.host_id);
  }
  for (const FreeGpu& gpu : capacity.free_gpus) {
    Pool& pool = pools_[{gpu.model, capacity.region}];
    pool.max_gpu_memory_mb = std::max(pool.max_gpu_memory_mb, gpu.memory_mb);
  }
}

void CapacityIndex::Unindex(const HostCapacity& capacity) {
  if (!capacity.schedulable) return;
  for (const auto& [model, free] : capacity.free_by_model) {
    auto pool = pools_.find({model, capacity.region});
    if (pool == pools_.end()) continue;
    pool->second.ordered.erase(capacity.host_id);
    auto bucket = pool->second.buckets.find(free);
    if (bucket == pool->second.buckets.end()) continue;
    bucket->second.Erase(capacity.host_id);
    if (bucket->second.hosts.empty()) pool->second.buckets.erase(bucket);
  }
}

std::vector<CapacityIndex::Pool*> CapacityIndex::PoolsFor(const PlacementRequest& request) {
  const auto& c = request.constraints;
  std::vector<Pool*> pools;
  auto consider = [&](Pool& pool) {
    if (!c.region().empty() && pool.region != c.region()) return;
    if (pool.max_gpu_memory_mb < c.min_gpu_memory_mb()) return;
    if (pool.buckets.empty() || pool.buckets.rbegin()->first < request.gpu_count) return;
    pools.push_back(&pool);
  };
  if (!c.gpu_model().empty()) {
    for (auto it = pools_.lower_bound({c.gpu_model(), ""});
         it != pools_.end() && it->first.first == c.gpu_model(); ++it) {
      consider(it->second);
    }
  } else {
    for (auto& [key, pool] : pools_) consider(pool);
  }
  return pools;
}

std::optional<std::vector<uint32_t>> CapacityIndex::Fit(const HostCapacity& host,
                                                        const PlacementRequest& request) const {
  auto no = [] { return std::nullopt; };
  const auto& c = request.constraints;
  if (!host.schedulable) return no();
  if (!host.reserved_for.empty() && host.reserved_for != request.owner) return no();
  if (!c.region().empty() && host.region != c.region()) return no();
  if (!c.os().empty() && host.os != c.os()) return no();
  for (const auto& label : c.labels()) {
    auto it = host.labels.find(label.key());
    if (it == host.labels.end() || it->second != label.value()) return no();
  }
  if (host.cpu_free < request.cpu_cores || host.memory_free < request.memory_mb) return no();
  if (request.gpu_count == 0) return std::vector<uint32_t>{};

  std::vector<const FreeGpu*> eligible;
  for (const FreeGpu& gpu : host.free_gpus) {
    if (!c.gpu_model().empty() && gpu.model != c.gpu_model()) continue;
    if (gpu.memory_mb < c.min_gpu_memory_mb()) continue;
    eligible.push_back(&gpu);
  }
  if (eligible.size() < request.gpu_count) return no();
  std::vector<uint32_t> chosen;
  if (c.prefer_nvlink() && request.gpu_count > 1) {
    // A seed GPU and its free NVLink peers: the first such group big enough.
    for (const FreeGpu* seed : eligible) {
      chosen = {seed->index};
      for (const FreeGpu* peer : eligible) {
        if (peer != seed && peer->index < 64 && (seed->nvlink_mask >> peer->index & 1)) {
          chosen.push_back(peer->index);
        }
      }
      if (chosen.size() >= request.gpu_count) {
        chosen.resize(request.gpu_count);
        std::sort(chosen.begin(), chosen.end());
        return chosen;
      }
    }
  }
  chosen.clear();
  for (size_t i = 0; i < request.gpu_count; ++i) chosen.push_back(eligible[i]->index);
  return chosen;
}

Result<PlacementChoice> CapacityIndex::Place(const PlacementRequest& request,
                                             std::mt19937_64& random) {
  SchedulingStrategy strategy =
      request.strategy == SCHEDULING_STRATEGY_UNSPECIFIED ? default_strategy_ : request.strategy;
  if (!request.constraints.host_id().empty()) {
    const HostCapacity* host = Find(request.constraints.host_id());
    if (host == nullptr) {
      return Status::NotFound("host " + request.constraints.host_id() + " is not in the fleet");
    }
    auto gpus = Fit(*host, request);
    if (!gpus) {
      return Status::ResourceExhausted("host " + host->host_id + " does not have " +
                                       Describe(request) + " or is not schedulable");
    }
    return PlacementChoice{host->host_id, std::move(*gpus), strategy, 1};
  }
  if (request.gpu_count == 0) return PlaceInOrder(request, strategy, random);
  if (strategy == FIRST_FIT || strategy == ROUND_ROBIN) return PlaceGpusInOrder(request, strategy);
  return PlaceGpus(request, strategy, random);
}

// Best-fit, least-loaded and random over the free-GPU buckets.
Result<PlacementChoice> CapacityIndex::PlaceGpus(const PlacementRequest& request,
                                                 SchedulingStrategy strategy,
                                                 std::mt19937_64& random) {
  std::vector<Pool*> pools = PoolsFor(request);
  uint32_t checked = 0;
  auto try_host = [&](const std::string& host_id) -> std::optional<PlacementChoice> {
    ++checked;
    auto gpus = Fit(hosts_.at(host_id), request);
    if (!gpus) return std::nullopt;
    return PlacementChoice{host_id, std::move(*gpus), strategy, checked};
  };

  if (strategy == RANDOM) {
    std::vector<const Bucket*> buckets;
    size_t total = 0;
    for (Pool* pool : pools) {
      for (auto it = pool->buckets.lower_bound(request.gpu_count); it != pool->buckets.end();
           ++it) {
        buckets.push_back(&it->second);
        total += it->second.hosts.size();
      }
    }
    for (int probe = 0; probe < kRandomProbes && total > 0; ++probe) {
      size_t pick = std::uniform_int_distribution<size_t>(0, total - 1)(random);
      for (const Bucket* bucket : buckets) {
        if (pick < bucket->hosts.size()) {
          if (auto choice = try_host(bucket->hosts[pick])) return std::move(*choice);
          break;
        }
        pick -= bucket->hosts.size();
      }
    }
    // Few hosts fit among many: choose uniformly among all that do.
    std::vector<PlacementChoice> fits;
    for (const Bucket* bucket : buckets) {
      for (const auto& host_id : bucket->hosts) {
        if (auto choice = try_host(host_id)) fits.push_back(std::move(*choice));
      }
    }
    if (!fits.empty()) {
      auto& chosen = fits[std::uniform_int_distribution<size_t>(0, fits.size() - 1)(random)];
      chosen.candidates_checked = checked;
      return std::move(chosen);
    }
  } else {
    // Best-fit walks free counts upwards, least-loaded downwards.
    uint32_t max_free = 0;
    for (Pool* pool : pools) max_free = std::max(max_free, pool->buckets.rbegin()->first);
    for (uint32_t step = 0; request.gpu_count + step <= max_free; ++step) {
      uint32_t free = strategy == LEAST_LOADED ? max_free - step : request.gpu_count + step;
      for (Pool* pool : pools) {
        auto bucket = pool->buckets.find(free);
        if (bucket == pool->buckets.end()) continue;
        for (const auto& host_id : bucket->second.hosts) {
          if (auto choice = try_host(host_id)) return std::move(*choice);
        }
      }
    }
  }
  return Status::ResourceExhausted("no schedulable host has " + Describe(request) + " (" +
                                   std::to_string(checked) + " candidates checked)");
}

// First-fit and round-robin for GPU requests: the lowest host id (after the
// cursor, for round-robin) that fits, over the matching pools in id order.
Result<PlacementChoice> CapacityIndex::PlaceGpusInOrder(const PlacementRequest& request,
                                                        SchedulingStrategy strategy) {
  std::vector<Pool*> pools = PoolsFor(request);
  uint32_t checked = 0;
  const std::string& model = request.constraints.gpu_model();
  // The first host at or after `from` in one pool that fits.
  auto first_fit_in =
      [&](std::set<std::string>::const_iterator from,
          std::set<std::string>::const_iterator to) -> std::optional<PlacementChoice> {
    for (auto it = from; it != to; ++it) {
      const HostCapacity& host = hosts_.at(*it);
      uint32_t free = 0;
      if (model.empty()) {
        for (const auto& [m, n] : host.free_by_model) free += n;
      } else {
        free = host.free_by_model.count(model) ? host.free_by_model.at(model) : 0;
      }
      if (free < request.gpu_count) continue;
      ++checked;
      if (auto gpus = Fit(host, request))
        return PlacementChoice{*it, std::move(*gpus), strategy, 0};
    }
    return std::nullopt;
  };
  auto best_of = [&](bool after_cursor) -> std::optional<PlacementChoice> {
    std::optional<PlacementChoice> best;
    for (Pool* pool : pools) {
      auto from =
          after_cursor ? pool->ordered.upper_bound(round_robin_cursor_) : pool->ordered.begin();
      auto choice = first_fit_in(from, pool->ordered.end());
      if (choice && (!best || choice->host_id < best->host_id)) best = std::move(choice);
    }
    return best;
  };
  std::optional<PlacementChoice> choice;
  if (strategy == ROUND_ROBIN) choice = best_of(true);
  if (!choice) choice = best_of(false);
  if (!choice) {
    return Status::ResourceExhausted("no schedulable host has " + Describe(request) + " (" +
                                     std::to_string(checked) + " candidates checked)");
  }
  if (strategy == ROUND_ROBIN) round_robin_cursor_ = choice->host_id;
  choice->candidates_checked = checked;
  return std::move(*choice);
}

// CPU-only requests walk every host in id order, from the start (first-fit,
// best-fit, least-loaded), after the cursor (round-robin) or from a random
// host (random).
Result<PlacementChoice> CapacityIndex::PlaceInOrder(const PlacementRequest& request,
                                                    SchedulingStrategy strategy,
                                                    std::mt19937_64& random) {
  if (ordered_.empty()) return Status::ResourceExhausted("there are no hosts");
  auto start = ordered_.begin();
  if (strategy == ROUND_ROBIN) {
    start = ordered_.upper_bound(round_robin_cursor_);
    if (start == ordered_.end()) start = ordered_.begin();
  } else if (strategy == RANDOM) {
    start = std::next(ordered_.begin(),
                      std::uniform_int_distribution<size_t>(0, ordered_.size() - 1)(random));
  }
  uint32_t checked = 0;
  auto it = start;
  do {
    ++checked;
    if (auto gpus = Fit(hosts_.at(*it), request)) {
      if (strategy == ROUND_ROBIN) round_robin_cursor_ = *it;
      return PlacementChoice{*it, std::move(*gpus), strategy, checked};
    }
    if (++it == ordered_.end()) it = ordered_.begin();
  } while (it != start);
  return Status::ResourceExhausted("no schedulable host has " + Describe(request) + " (" +
                                   std::to_string(checked) + " hosts checked)");
}

const char* Name(SchedulingStrategy strategy) {
  switch (strategy) {
    case FIRST_FIT:
      return "first-fit";
    case BEST_FIT:
      return "best-fit";
    case LEAST_LOADED:
      return "least-loaded";
    case ROUND_ROBIN:
      return "round-robin";
    case RANDOM:
      return "random";
    default:
      return "default";
  }
}

}  // namespace remotegpu::domain
