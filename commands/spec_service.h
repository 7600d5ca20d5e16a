// Product specs (stream "spec-<id>", domain/product_spec.h): what customers
// order and its hourly price over time. Every spec is kept in memory
// (StreamCatalog): there are tens, not thousands.
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <map>
#include <string>

#include "commands/execute.h"
#include "commands/stream_catalog.h"

namespace remotegpu::commands {

class SpecService {
 public:
  SpecService(eventstore::EventStore& store, const Clock& clock)
      : store_(store), clock_(clock), specs_(store), catalog_("spec-") {}

  // Reads every spec from the log and follows it. IoError when it cannot.
  Status Open();
  void Stop() { catalog_.Stop(); }

  // InvalidArgument for an id that is not "spec-…" or a bad spec or price;
  // AlreadyExists, NotFound, FailedPrecondition (a retroactive price).
  Result<CommandResult> Create(const std::string& spec_id, const domain::ProductSpec& spec,
                               int64_t fen_per_hour, const CommandMeta& meta);
  Result<CommandResult> Update(const std::string& spec_id, const domain::ProductSpec& spec,
                               const CommandMeta& meta);
  Result<CommandResult> ChangePrice(const std::string& spec_id, int64_t fen_per_hour,
                                    int64_t effective_at_us, const CommandMeta& meta);

  // NotFound when it does not exist.
  Result<Loaded<SpecTraits>> Get(const std::string& spec_id);
  // Every spec by id; listed ones only when `listed_only`.
  std::map<std::string, Loaded<SpecTraits>> List(bool listed_only) const;

 private:
  Result<CommandResult> Execute(const std::string& spec_id, const domain::SpecCommand& command,
                                const CommandMeta& meta);

  eventstore::EventStore& store_;
  const Clock& clock_;
  AggregateCache<SpecTraits> specs_;
  StreamCatalog<SpecTraits> catalog_;
};

}  // namespace remotegpu::commands
