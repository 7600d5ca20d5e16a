// The quota decider (domain/proto/quota.proto): a customer's level and
// overrides, and the share every live environment of the customer holds.
//
//   set:      any time; lowering a limit below the usage keeps what exists
//             and refuses what would go further
//   reserve:  QuotaExceeded when the environment's share would take any
//             resource past its limit; reserving an id twice changes nothing
//   release:  gives an environment's share back; an unknown id changes nothing
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/quota.pb.h"

namespace remotegpu::domain {

struct QuotaState {
  bool set = false;  // False: the stream does not exist; nothing is limited.
  QuotaLevel level = QUOTA_LEVEL_UNSPECIFIED;
  QuotaOverrides overrides;
  std::map<std::string, QuotaAmounts> reserved;  // By environment id.
  QuotaAmounts used;                             // The sum of `reserved`.
};

void Apply(QuotaState& state, const QuotaEvent& event);

// InvalidArgument for a missing level or environment id; QuotaExceeded as above.
Result<std::vector<QuotaEvent>> Decide(const QuotaState& state, const QuotaCommand& command,
                                       const DecideContext& context);

// The level's own limits (the table in README's "Quotas").
QuotaAmounts LevelLimits(QuotaLevel level);
// The limits in force: the level's, with the overrides laid over them.
QuotaAmounts EffectiveLimits(QuotaLevel level, const QuotaOverrides& overrides);

const char* Name(QuotaLevel level);  // "free", "basic", "pro", "enterprise".
// InvalidArgument naming the four levels for anything else.
Result<QuotaLevel> ParseQuotaLevel(const std::string& name);

}  // namespace remotegpu::domain
