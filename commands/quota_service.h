// Reading and setting a customer's quota (stream "quota-<customer id>",
// domain/quota.h). Reservations are not made here: the environment service
// makes them in the same append as the environment (environment_service.h).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <string>

#include "commands/execute.h"

namespace remotegpu::commands {

struct QuotaView {
  bool set = false;  // False: no quota stream; nothing is limited.
  domain::QuotaLevel level = domain::QUOTA_LEVEL_UNSPECIFIED;
  domain::QuotaOverrides overrides;
  domain::QuotaAmounts limits;  // The level's with the overrides laid over them.
  domain::QuotaAmounts used;
  std::map<std::string, domain::QuotaAmounts> reserved;  // By environment id.
  uint64_t version = 0;
};

class QuotaService {
 public:
  QuotaService(eventstore::EventStore& store, const Clock& clock)
      : store_(store), clock_(clock), quotas_(store) {}

  // InvalidArgument for an id that is not "customer-…".
  Result<QuotaView> Get(const std::string& customer_id);

  // Replaces the level and overrides. The caller checks that the customer
  // exists; a customer from before quotas gets its quota stream here.
  Result<CommandResult> Set(const std::string& customer_id, domain::QuotaLevel level,
                            const domain::QuotaOverrides& overrides, const CommandMeta& meta);

 private:
  eventstore::EventStore& store_;
  const Clock& clock_;
  AggregateCache<QuotaTraits> quotas_;
};

}  // namespace remotegpu::commands
