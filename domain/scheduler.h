// Placement of environments on hosts: an in-memory capacity index and the
// strategies of seed 03 §5.1. Pure: the index changes only through Update,
// randomness comes from the caller's seeded generator.
//
// Strategies, all over the hosts that pass the constraints:
//   first-fit     the first host in host-id order
//   best-fit      the host with the fewest free GPUs (then least free CPU) that fits
//   least-loaded  the host with the most free GPUs (then most free CPU)
//   round-robin   the first host after the previously chosen one, wrapping
//   random        a uniformly chosen host
// Constraints: GPU model, minimum memory per GPU, region, labels (all must
// match), OS, a named host, and for several GPUs a preference for a set
// linked by NVLink. A reserved host takes only its reserved_for owner.
//
// Thread-safety: none; the owner serialises access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "domain/host.h"
#include "domain/proto/environment.pb.h"

namespace remotegpu::domain {

struct PlacementRequest {
  std::string owner;
  uint32_t cpu_cores = 0;
  uint64_t memory_mb = 0;
  uint32_t gpu_count = 0;
  PlacementConstraints constraints;
  SchedulingStrategy strategy = SCHEDULING_STRATEGY_UNSPECIFIED;
};

struct PlacementChoice {
  std::string host_id;
  std::vector<uint32_t> gpu_indexes;
  SchedulingStrategy strategy;
  uint32_t candidates_checked = 0;  // Hosts looked at before the choice.
};

// A free GPU as the index sees it: small, so updating a host is cheap.
struct FreeGpu {
  uint32_t index = 0;
  std::string model;
  uint64_t memory_mb = 0;
  uint64_t nvlink_mask = 0;  // Bit i: linked to GPU i (indexes below 64).
};

// Resources a placement has chosen but not yet committed.
struct Reserved {
  std::vector<uint32_t> gpus;
  uint64_t cpu_cores = 0;
  uint64_t memory_mb = 0;
};

// What the index knows of one host.
struct HostCapacity {
  std::string host_id;
  bool schedulable = false;
  std::string reserved_for;  // Non-empty: only this owner.
  std::string region;
  std::string os;
  std::map<std::string, std::string> labels;
  uint64_t cpu_free = 0;
  uint64_t memory_free = 0;
  std::vector<FreeGpu> free_gpus;  // By index.
  std::map<std::string, uint32_t> free_by_model;
  uint32_t total_gpus = 0;
};

class CapacityIndex {
 public:
  // Replaces what the index knows of `host_id` with `state`, less what
  // pending placements have reserved on it.
  void Update(const std::string& host_id, const HostState& state, const Reserved& reserved = {});
  void Remove(const std::string& host_id);
  const HostCapacity* Find(const std::string& host_id) const;
  size_t size() const { return hosts_.size(); }

  // Chooses a host and GPUs for `request`, or ResourceExhausted saying why
  // nothing fits. `random` is used by the random strategy only.
  Result<PlacementChoice> Place(const PlacementRequest& request, std::mt19937_64& random);

  // The strategy used when a request names none.
  void set_default_strategy(SchedulingStrategy strategy) { default_strategy_ = strategy; }

 private:
  // Hosts with `free` free GPUs of one model: a vector for random picks and
  // a position map for O(1) removal.
  struct Bucket {
    std::vector<std::string> hosts;
    std::unordered_map<std::string, size_t> positions;
    void Add(const std::string& host_id);
    void Erase(const std::string& host_id);
  };
  // Schedulable hosts with free GPUs of one model in one region.
  struct Pool {
    std::string model;
    std::string region;
    uint64_t max_gpu_memory_mb = 0;      // Of any GPU ever indexed here.
    std::map<uint32_t, Bucket> buckets;  // Free GPU count -> hosts.
    std::set<std::string> ordered;       // The same hosts, by id.
  };

  void Unindex(const HostCapacity& capacity);
  void Index(const HostCapacity& capacity);
  // The GPUs chosen on `capacity` for the request (empty for a CPU-only
  // request), or nullopt when the host does not fit.
  std::optional<std::vector<uint32_t>> Fit(const HostCapacity& capacity,
                                           const PlacementRequest& request) const;
  // The pools a request may draw from.
  std::vector<Pool*> PoolsFor(const PlacementRequest& request);
  Result<PlacementChoice> PlaceGpus(const PlacementRequest& request, SchedulingStrategy strategy,
                                    std::mt19937_64& random);
  Result<PlacementChoice> PlaceGpusInOrder(const PlacementRequest& request,
                                           SchedulingStrategy strategy);
  Result<PlacementChoice> PlaceInOrder(const PlacementRequest& request, SchedulingStrategy strategy,
                                       std::mt19937_64& random);

  std::unordered_map<std::string, HostCapacity> hosts_;
  std::set<std::string> ordered_;                              // Every host, by id.
  std::map<std::pair<std::string, std::string>, Pool> pools_;  // (model, region) -> pool.
  std::string round_robin_cursor_;
  SchedulingStrategy default_strategy_ = BEST_FIT;
};

const char* Name(SchedulingStrategy strategy);

}  // namespace remotegpu::domain
