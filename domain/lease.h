// The Lease decider: whole machines rented to a customer by the month.
// Pure; the expiry process sends CheckLeaseExpiry with its clock's time.
//
//   pending  -> active (activate) | reclaimed
//   active   -> expiring (7 days before expiry) | expired | reclaimed; extend
//   expiring -> active (extended past 7 days) | expired | reclaimed; extend
//   expired, reclaimed: final
#pragma once

#include <vector>

#include "common/status.h"
#include "domain/decider.h"
#include "domain/proto/lease.pb.h"

namespace remotegpu::domain {

inline constexpr int64_t kLeaseExpiringWindowUs = int64_t{7} * 24 * 3600 * 1'000'000;
inline constexpr uint32_t kLeaseMaxMonths = 60;

struct LeaseState {
  bool created = false;
  LeaseStatus status = LEASE_STATUS_UNSPECIFIED;
  std::string customer_id;
  std::vector<std::string> host_ids;
  int64_t starts_at_us = 0;
  int64_t expires_at_us = 0;
};

void Apply(LeaseState& state, const LeaseEvent& event);
Result<std::vector<LeaseEvent>> Decide(const LeaseState& state, const LeaseCommand& command,
                                       const DecideContext& context);

// `at_us` plus `months` calendar months (UTC), the day clamped to the end of
// a shorter month: 31 Jan + 1 month = 28/29 Feb.
int64_t AddMonths(int64_t at_us, uint32_t months);

const char* Name(LeaseStatus status);

}  // namespace remotegpu::domain
