// The product spec decider (domain/proto/commerce.proto): what customers
// order, and its hourly price over time.
//
//   create        name (1–64 characters), CPU cores and memory at least 1,
//                 a GPU model when GPUs are asked for (a CPU-only spec has
//                 none and keeps no GPU fields); a price of 0 or more, in
//                 force from the creation
//   update        the whole spec again (listing and remark included); the
//                 same rules; nothing written when nothing changes
//   change price  from its effective time (now when unset), which may not
//                 be in the past nor at or before the last change's: prices
//                 are never changed retroactively
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/metering.h"
#include "domain/proto/commerce.pb.h"
#include "domain/proto/environment.pb.h"

namespace remotegpu::domain {

struct SpecState {
  bool created = false;
  ProductSpec spec;
  std::vector<PricePoint> prices;  // Per hour, in effective order.
};

void Apply(SpecState& state, const SpecEvent& event);

// InvalidArgument for a bad spec or price; AlreadyExists, NotFound;
// FailedPrecondition for a retroactive price change.
Result<std::vector<SpecEvent>> Decide(const SpecState& state, const SpecCommand& command,
                                      const DecideContext& context);

// An environment ordered from `product`: its CPU, memory (GiB → MiB), GPUs
// (count, model and memory as placement constraints; none for a CPU-only
// spec, so any host matches) and disks (system + data as storage).
void ApplyProductSpec(const ProductSpec& product, EnvironmentSpec* environment);

// The price in force at `at_us` (0 before the spec was created).
int64_t PriceAt(const SpecState& state, int64_t at_us);

}  // namespace remotegpu::domain
