// Rebuilding the read models: replay the whole log into a fresh schema while
// the live one keeps answering, then swap the fresh one in atomically.
//
//   1. The standard projections replay the log into "<schema>_rebuild"
//      (dropped first if a failed rebuild left it), in large batches.
//   2. The live runners pause; the fresh schema catches up with the head.
//   3. One transaction renames <schema> to "<schema>_old" and the fresh one
//      to <schema>; readers see the old tables or the new, never a mix.
//   4. The live runners reopen on the new schema (their checkpoints are the
//      fresh ones) and resume; the old schema is dropped.
//
// Queries keep answering throughout; projection lag grows only during steps
// 2 to 4, which cover the events committed while step 1 ran.
//
// A rebuild of some projections only (RebuildOptions::projections) replays
// just those, and step 3 instead moves their tables (Projector::tables())
// into the live schema in place of the old ones and sets their live
// checkpoints, in one transaction; the other read models are not touched.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "projections/projection_runner.h"

namespace remotegpu::projections {

struct RebuildProgress {
  std::string phase;      // "replaying", "catching up", "swapping", "done".
  uint64_t position = 0;  // Lowest checkpoint of the fresh runners.
  uint64_t target = 0;    // The log's last position when the phase began.
  double events_per_second = 0;
};

struct RebuildOptions {
  ProjectionRunnerOptions runner;  // conninfo and the live schema's name.
  size_t batch_size = 5000;        // Larger batches than live: nobody waits on them.
  std::function<void(const RebuildProgress&)> progress;  // Called about once a second.
  // For a store read beside its writer (a read-only store): brings
  // LastPosition forward (RocksDbEventStore::CatchUpWithWriter).
  std::function<Status()> refresh;
  // Names of the projections to rebuild ("cmdb", "environments",
  // "leases"); empty: all of them.
  std::vector<std::string> projections;
};

// `live`: the runners serving options.runner.schema in this process (paused
// and reopened around the swap). Empty when they run elsewhere (a server
// beside `remotegpu-replay rebuild`): the swap then locks the live
// checkpoints, so those runners wait, brings the fresh schema at least as far
// as they got, and renames; they find the new checkpoints on their next
// batch and continue from there. On failure the live schema is untouched.
// InvalidArgument for an unknown projection name; FailedPrecondition for a
// partial rebuild when there are no live read models yet.
Status RebuildAndSwap(eventstore::EventStore& store, const RebuildOptions& options,
                      const std::vector<ProjectionRunner*>& live);

}  // namespace remotegpu::projections
