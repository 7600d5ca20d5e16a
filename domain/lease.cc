#include "domain/lease.h"

#include <chrono>
#include <set>

namespace remotegpu::domain {
namespace {

using Events = std::vector<LeaseEvent>;

bool Open(LeaseStatus status) { return status == ACTIVE || status == EXPIRING; }

}  // namespace

int64_t AddMonths(int64_t at_us, uint32_t months) {
  using namespace std::chrono;
  const sys_time<microseconds> at{microseconds(at_us)};
  const sys_days day = floor<days>(at);
  const microseconds time_of_day = at - day;
  year_month_day date(day);
  year_month target = year_month(date.year(), date.month()) + std::chrono::months(months);
  auto last_day = year_month_day_last(target.year(), month_day_last(target.month())).day();
  year_month_day result(target.year(), target.month(), std::min(date.day(), last_day));
  return (sys_days(result) + time_of_day).time_since_epoch().count();
}

void Apply(LeaseState& state, const LeaseEvent& event) {
  switch (event.event_case()) {
    case LeaseEvent::kCreated: {
      const auto& created = event.created();
      state.created = true;
      state.status = PENDING;
      state.customer_id = created.customer_id();
      state.host_ids.assign(created.host_ids().begin(), created.host_ids().end());
      state.starts_at_us = created.starts_at_us();
      state.expires_at_us = created.expires_at_us();
      break;
    }
    case LeaseEvent::kActivated:
      state.status = ACTIVE;
      break;
    case LeaseEvent::kExtended:
      state.expires_at_us = event.extended().new_expires_at_us();
      if (state.status == EXPIRING) state.status = ACTIVE;
      break;
    case LeaseEvent::kExpiring:
      state.status = EXPIRING;
      break;
    case LeaseEvent::kExpired:
      state.status = EXPIRED;
      break;
    case LeaseEvent::kReclaimed:
      state.status = RECLAIMED;
      break;
    case LeaseEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<LeaseEvent>> Decide(const LeaseState& state, const LeaseCommand& command,
                                       const DecideContext& context) {
  if (command.command_case() == LeaseCommand::kCreate) {
    const auto& create = command.create();
    if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
    if (create.customer_id().empty()) return Status::InvalidArgument("customer_id is required");
    if (create.host_ids().empty()) return Status::InvalidArgument("host_ids needs a machine");
    std::set<std::string> unique(create.host_ids().begin(), create.host_ids().end());
    if (unique.size() != static_cast<size_t>(create.host_ids_size())) {
      return Status::InvalidArgument("host_ids lists a machine twice");
    }
    if (create.months() == 0 || create.months() > kLeaseMaxMonths) {
      return Status::InvalidArgument("months must be 1 to 60");
    }
    const int64_t starts = create.starts_at_us() != 0 ? create.starts_at_us() : context.now_us;
    Events events(1);
    auto* created = events[0].mutable_created();
    *created = [&] {
      LeaseCreated c;
      c.set_customer_id(create.customer_id());
      *c.mutable_host_ids() = create.host_ids();
      c.set_starts_at_us(starts);
      c.set_months(create.months());
      c.set_expires_at_us(AddMonths(starts, create.months()));
      return c;
    }();
    return events;
  }
  if (!state.created) return Status::NotFound(context.stream_id + " does not exist");
  Events events;
  switch (command.command_case()) {
    case LeaseCommand::kActivate:
      if (state.status != PENDING) {
        return Status::FailedPrecondition(std::string("lease is ") + Name(state.status) +
                                          ", not pending");
      }
      events.emplace_back().mutable_activated();
      return events;
    case LeaseCommand::kExtend: {
      if (!Open(state.status)) {
        return Status::FailedPrecondition(std::string("a lease that is ") + Name(state.status) +
                                          " cannot be extended");
      }
      uint32_t months = command.extend().months();
      if (months == 0 || months > kLeaseMaxMonths) {
        return Status::InvalidArgument("months must be 1 to 60");
      }
      auto* extended = events.emplace_back().mutable_extended();
      extended->set_months(months);
      extended->set_old_expires_at_us(state.expires_at_us);
      extended->set_new_expires_at_us(AddMonths(state.expires_at_us, months));
      return events;
    }
    case LeaseCommand::kCheckExpiry: {
      const int64_t now = command.check_expiry().now_us();
      if (!Open(state.status)) return events;
      if (now >= state.expires_at_us) {
        events.emplace_back().mutable_expired();
      } else if (state.status == ACTIVE && now >= state.expires_at_us - kLeaseExpiringWindowUs) {
        events.emplace_back().mutable_expiring()->set_expires_at_us(state.expires_at_us);
      }
      return events;
    }
    case LeaseCommand::kReclaim:
      if (state.status != PENDING && !Open(state.status)) {
        return Status::FailedPrecondition(std::string("a lease that is ") + Name(state.status) +
                                          " cannot be reclaimed");
      }
      if (command.reclaim().reason().empty()) return Status::InvalidArgument("reason is required");
      events.emplace_back().mutable_reclaimed()->set_reason(command.reclaim().reason());
      return events;
    default:
      break;
  }
  return Status::InvalidArgument("empty lease command");
}

const char* Name(LeaseStatus status) {
  switch (status) {
    case PENDING:
      return "pending";
    case ACTIVE:
      return "active";
    case EXPIRING:
      return "expiring";
    case EXPIRED:
      return "expired";
    case RECLAIMED:
      return "reclaimed";
    default:
      return "unspecified";
  }
}

}  // namespace remotegpu::domain
