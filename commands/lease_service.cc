#include "commands/lease_service.h"

#include "domain/stream_id.h"

namespace remotegpu::commands {
namespace {

using domain::LeaseCommand;
using eventstore::ExpectedVersion;

bool Ended(domain::LeaseStatus status) {
  return status == domain::EXPIRED || status == domain::RECLAIMED;
}

}  // namespace

Result<CommandResult> LeaseService::Create(const std::string& lease_id,
                                           const domain::CreateLease& create,
                                           const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateNewStreamId(lease_id, "lease"));
  LeaseCommand command;
  *command.mutable_create() = create;
  return Execute(lease_id, command, meta);
}

Result<CommandResult> LeaseService::Activate(const std::string& lease_id, const CommandMeta& meta) {
  LeaseCommand command;
  command.mutable_activate();
  return Execute(lease_id, command, meta);
}

Result<CommandResult> LeaseService::Extend(const std::string& lease_id, uint32_t months,
                                           const CommandMeta& meta) {
  LeaseCommand command;
  command.mutable_extend()->set_months(months);
  return Execute(lease_id, command, meta);
}

Result<CommandResult> LeaseService::Reclaim(const std::string& lease_id, const std::string& reason,
                                            const CommandMeta& meta) {
  LeaseCommand command;
  command.mutable_reclaim()->set_reason(reason);
  return Execute(lease_id, command, meta);
}

Result<CommandResult> LeaseService::CheckExpiry(const std::string& lease_id,
                                                const CommandMeta& meta) {
  LeaseCommand command;
  command.mutable_check_expiry()->set_now_us(clock_.NowMicros());
  return Execute(lease_id, command, meta);
}

Result<CommandResult> LeaseService::Execute(const std::string& lease_id,
                                            const LeaseCommand& command, const CommandMeta& meta) {
  return RetryOnConflict<CommandResult>(
      "command on " + lease_id, [&]() -> std::optional<Result<CommandResult>> {
        auto lease = leases_.Load(lease_id);
        if (!lease.ok()) return lease.status();
        const UnixMicros now = clock_.NowMicros();
        const domain::DecideContext context{lease_id, now};
        auto decided = domain::Decide(lease->state, command, context);
        if (!decided.ok()) return decided.status();
        std::vector<domain::LeaseEvent> events = std::move(*decided);
        domain::LeaseState after = Folded<LeaseTraits>(lease->state, events);
        if (command.has_create() && after.starts_at_us <= now) {
          LeaseCommand activate;
          activate.mutable_activate();
          auto activated = domain::Decide(after, activate, context);
          if (!activated.ok()) return activated.status();
          events.insert(events.end(), activated->begin(), activated->end());
          after = Folded<LeaseTraits>(after, *activated);
        }
        if (events.empty()) return CommandResult{lease->version, 0, 0, 0};

        // Machines to take (creation) or give back (the lease ended now).
        const bool taking = command.has_create();
        const bool giving_back = Ended(after.status) && !Ended(lease->state.status);
        std::vector<std::string> host_ids;
        if (taking || giving_back) host_ids = after.host_ids;
        auto locks = host_locks_.LockAll(host_ids);

        std::vector<eventstore::StreamAppend> request = {
            {lease_id, ExpectedVersion::Exact(lease->version), ToEventData(events, meta, now)}};
        std::vector<std::pair<std::string, Loaded<HostTraits>>> hosts_after;
        for (const auto& host_id : host_ids) {
          auto host = hosts_.Load(host_id);
          if (!host.ok()) return host.status();
          domain::HostCommand host_command;
          if (taking) {
            auto* allocate = host_command.mutable_allocate();
            allocate->set_allocation_id(lease_id);
            allocate->set_holder(lease_id);
            allocate->set_owner(after.customer_id);
            allocate->set_whole_machine(true);
          } else {
            host_command.mutable_release()->set_allocation_id(lease_id);
            host_command.mutable_release()->set_reason(std::string("lease ") +
                                                       domain::Name(after.status));
          }
          auto host_events = domain::Decide(host->state, host_command, {host_id, now});
          if (!host_events.ok()) {
            if (!taking && host_events.status().code() == StatusCode::kNotFound) continue;
            return Status(host_events.status().code(),
                          host_id + ": " + host_events.status().message());
          }
          request.push_back({host_id, ExpectedVersion::Exact(host->version),
                             ToEventData(*host_events, meta, now)});
          hosts_after.emplace_back(
              host_id, Loaded<HostTraits>{Folded<HostTraits>(host->state, *host_events), 0});
        }

        auto appended = store_.Append(std::move(request));
        if (!appended.ok()) {
          const auto* conflict = appended.status().conflict();
          if (conflict != nullptr && command.has_create() && conflict->stream_id == lease_id) {
            return Status::AlreadyExists(lease_id + " already exists");
          }
          if (conflict != nullptr) return std::nullopt;
          return appended.status();
        }
        leases_.Remember(lease_id, {after, appended->streams[0].last_version});
        for (size_t i = 0; i < hosts_after.size(); ++i) {
          auto& [host_id, loaded] = hosts_after[i];
          loaded.version = appended->streams[i + 1].last_version;
          hosts_.Remember(host_id, loaded);
          index_.ApplyHostState(host_id, loaded.version, loaded.state);
        }
        {
          std::lock_guard lock(open_mu_);
          if (Ended(after.status)) {
            open_.erase(lease_id);
          } else {
            open_.insert(lease_id);
          }
        }
        return CommandResult{
            appended->streams[0].last_version, appended->first_position, appended->last_position,
            static_cast<size_t>(appended->last_position - appended->first_position + 1)};
      });
}

std::set<std::string> LeaseService::OpenLeases() {
  std::lock_guard lock(open_mu_);
  return open_;
}

Status LeaseService::Recover() {
  std::set<std::string> open;
  for (uint64_t from = 1;;) {
    auto events = store_.ReadAll(from, 4096);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const auto& recorded : *events) {
      if (!domain::IsKind(recorded.stream_id, domain::StreamKind::kLease)) continue;
      if (recorded.data.type == "LeaseCreated") open.insert(recorded.stream_id);
      if (recorded.data.type == "LeaseExpired" || recorded.data.type == "LeaseReclaimed") {
        open.erase(recorded.stream_id);
      }
    }
    from = events->back().global_position + 1;
  }
  std::lock_guard lock(open_mu_);
  open_ = std::move(open);
  return Status::Ok();
}

}  // namespace remotegpu::commands
