// Checks a whole log against its guarantees. Used by tests after crashes and
// by the replay tool's `verify`.
#pragma once

#include <cstdint>
#include <functional>

#include "eventstore/event_store.h"

namespace remotegpu::eventstore {

struct VerifyReport {
  uint64_t events = 0;
  uint64_t streams = 0;
  Sha256Digest chain_head{};  // Hash of the last event; zeros for an empty log.
};

// Walks the log from position 1 and checks that positions are 1, 2, 3, … with
// no gap, that every event's prev_hash is its predecessor's hash and its hash
// recomputes, and that every stream's versions are 1, 2, 3, …. Returns
// Corruption naming the first bad position. `progress`, when given, is called
// every few thousand events with the number checked so far.
Result<VerifyReport> VerifyLog(EventStore& store,
                               const std::function<void(uint64_t)>& progress = nullptr);

}  // namespace remotegpu::eventstore
