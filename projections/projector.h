// A projector turns committed events into rows of its read models. The
// runner (projection_runner.h) calls Apply with a batch inside a transaction
// that also moves the projector's checkpoint, so a batch is applied entirely
// or not at all.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "eventstore/event_store.h"

namespace remotegpu::projections {

class Projector {
 public:
  virtual ~Projector() = default;
  // Names the projector's checkpoint; stable across releases.
  virtual std::string name() const = 0;
  // The read-model tables only this projector writes (a rebuild of this
  // projection alone replaces exactly these).
  virtual std::vector<std::string> tables() const = 0;
  // Writes the read-model rows for `batch` through `tx`, into tables of
  // `schema`. The batch holds events in position order, each stream's
  // without gaps after the events already applied or warmed (consecutive
  // events of the whole log, or of some Kafka partitions). May throw what
  // libpqxx throws; the runner rolls back and retries the batch.
  virtual void Apply(pqxx::work& tx, const std::string& schema,
                     const std::vector<eventstore::RecordedEvent>& batch) = 0;
  // Learns from events already applied by an earlier run (folds them into
  // in-memory state) without writing anything.
  virtual void Warm(const std::vector<eventstore::RecordedEvent>& events) = 0;
  // Forgets in-memory state derived from events: called after a rolled-back
  // batch, so the retry starts from what the database holds.
  virtual void Reset() {}
};

}  // namespace remotegpu::projections
