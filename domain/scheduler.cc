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

void CapacityIndex::Update(const std::string& host_id, const HostState& state) {
  if (auto it = hosts_.find(host_id); it != hosts_.end()) Unindex(it->second);
  HostCapacity capacity;
  capacity.host_id = host_id;
  capacity.schedulable = state.registered && (state.status == AVAILABLE || state.status == RESERVED) &&
                         state.online && !state.isolated && !state.leased;
  capacity.reserved_for = state.status == RESERVED ? state.reserved_for : "";
  capacity.region = state.spec.region();
  capacity.os = state.spec.os();
  for (const auto& label : state.spec.labels()) capacity.labels[label.key()] = label.value();
  capacity.cpu_free = state.CpuCapacity() - std::min<uint64_t>(state.CpuCapacity(), state.cpu_allocated);
  capacity.memory_free =
      state.MemoryCapacity() - std::min<uint64_t>(state.MemoryCapacity(), state.memory_allocated);
  capacity.total_gpus = static_cast<uint32_t>(state.gpus.size());
  for (const auto& [index, gpu] : state.gpus) {
    if (!state.gpu_holders.contains(index)) capacity.free_gpus.emplace(index, gpu);
  }
  Index(capacity);
  hosts_[host_id] = std::move(capacity);
}

void CapacityIndex::Remove(const std::string& host_id) {
  auto it = hosts_.find(host_id);
  if (it == hosts_.end()) return;
  Unindex(it->second);
  hosts_.erase(it);
}

const HostCapacity* CapacityIndex::Find(const std::string& host_id) const {
  auto it = hosts_.find(host_id);
  return it == hosts_.end() ? nullptr : &it->second;
}

void CapacityIndex::Index(const HostCapacity& capacity) {
  ordered_.insert(capacity.host_id);
  if (!capacity.schedulable) return;
  std::map<std::string, uint32_t> free_by_model;
  for (const auto& [index, gpu] : capacity.free_gpus) ++free_by_model[gpu.model()];
  for (const auto& [model, free] : free_by_model) by_model_[model][free].Add(capacity.host_id);
}

void CapacityIndex::Unindex(const HostCapacity& capacity) {
  ordered_.erase(capacity.host_id);
  std::map<std::string, uint32_t> free_by_model;
  for (const auto& [index, gpu] : capacity.free_gpus) ++free_by_model[gpu.model()];
  for (const auto& [model, free] : free_by_model) {
    auto model_it = by_model_.find(model);
    if (model_it == by_model_.end()) continue;
    auto bucket = model_it->second.find(free);
    if (bucket == model_it->second.end()) continue;
    bucket->second.Erase(capacity.host_id);
    if (bucket->second.hosts.empty()) model_it->second.erase(bucket);
  }
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

  std::vector<uint32_t> eligible;
  for (const auto& [index, gpu] : host.free_gpus) {
    if (!c.gpu_model().empty() && gpu.model() != c.gpu_model()) continue;
    if (gpu.memory_mb() < c.min_gpu_memory_mb()) continue;
    eligible.push_back(index);
  }
  if (eligible.size() < request.gpu_count) return no();
  if (c.prefer_nvlink() && request.gpu_count > 1) {
    // A seed GPU and its free NVLink peers: the first such group big enough.
    for (uint32_t seed : eligible) {
      std::vector<uint32_t> group = {seed};
      for (uint32_t peer : host.free_gpus.at(seed).nvlink_peers()) {
        if (std::find(eligible.begin(), eligible.end(), peer) != eligible.end() && peer != seed) {
          group.push_back(peer);
        }
      }
      if (group.size() >= request.gpu_count) {
        group.resize(request.gpu_count);
        std::sort(group.begin(), group.end());
        return group;
      }
    }
  }
  eligible.resize(request.gpu_count);
  return eligible;
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
  if (request.gpu_count > 0 && strategy != FIRST_FIT && strategy != ROUND_ROBIN) {
    return PlaceGpus(request, strategy, random);
  }
  return PlaceInOrder(request, strategy, random);
}

// Best-fit, least-loaded and random over the free-GPU buckets.
Result<PlacementChoice> CapacityIndex::PlaceGpus(const PlacementRequest& request,
                                                 SchedulingStrategy strategy,
                                                 std::mt19937_64& random) {
  std::vector<ModelBuckets*> models;
  if (!request.constraints.gpu_model().empty()) {
    auto it = by_model_.find(request.constraints.gpu_model());
    if (it != by_model_.end()) models.push_back(&it->second);
  } else {
    for (auto& [model, buckets] : by_model_) models.push_back(&buckets);
  }
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
    for (ModelBuckets* model : models) {
      for (auto it = model->lower_bound(request.gpu_count); it != model->end(); ++it) {
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
    for (ModelBuckets* model : models) {
      if (!model->empty()) max_free = std::max(max_free, model->rbegin()->first);
    }
    for (uint32_t step = 0; request.gpu_count + step <= max_free; ++step) {
      uint32_t free = strategy == LEAST_LOADED ? max_free - step : request.gpu_count + step;
      for (ModelBuckets* model : models) {
        auto bucket = model->find(free);
        if (bucket == model->end()) continue;
        for (const auto& host_id : bucket->second.hosts) {
          if (auto choice = try_host(host_id)) return std::move(*choice);
        }
      }
    }
  }
  return Status::ResourceExhausted("no schedulable host has " + Describe(request) + " (" +
                                   std::to_string(checked) + " candidates checked)");
}

// First-fit and round-robin walk the hosts in id order; CPU-only requests
// use this walk for every strategy.
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
    case FIRST_FIT: return "first-fit";
    case BEST_FIT: return "best-fit";
    case LEAST_LOADED: return "least-loaded";
    case ROUND_ROBIN: return "round-robin";
    case RANDOM: return "random";
    default: return "default";
  }
}

}  // namespace remotegpu::domain
