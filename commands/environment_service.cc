#include "commands/environment_service.h"

#include <chrono>

#include "domain/stream_id.h"

namespace remotegpu::commands {
namespace {

using domain::EnvironmentCommand;
using domain::EnvironmentEvent;
using eventstore::ExpectedVersion;

domain::PlacementRequest RequestFor(const domain::EnvironmentSpec& spec) {
  domain::PlacementRequest request;
  request.owner = spec.owner();
  request.cpu_cores = spec.cpu_cores();
  request.memory_mb = spec.memory_mb();
  request.gpu_count = spec.gpu_count();
  request.constraints = spec.constraints();
  request.strategy = spec.strategy();
  return request;
}

int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

Result<PlacementResult> EnvironmentService::Create(const std::string& env_id,
                                                   const domain::EnvironmentSpec& spec,
                                                   const CommandMeta& meta) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateNewStreamId(env_id, "env"));
  EnvironmentCommand create;
  *create.mutable_create()->mutable_spec() = spec;
  auto created = domain::Decide(domain::EnvironmentState{}, create,
                                domain::DecideContext{env_id, clock_.NowMicros()});
  if (!created.ok()) return created.status();
  return PlaceAndAppend(env_id, Folded<EnvironmentTraits>({}, *created), 0, *created, meta);
}

Result<PlacementResult> EnvironmentService::Start(const std::string& env_id,
                                                  const CommandMeta& meta,
                                                  const std::string& on_host) {
  auto loaded = environments_.Load(env_id);
  if (!loaded.ok()) return loaded.status();
  if (loaded->version == 0) return Status::NotFound(env_id + " does not exist");
  if (!domain::CanMove(loaded->state.status, domain::SCHEDULED)) {
    return Status::FailedPrecondition(std::string("cannot place an environment that is ") +
                                      domain::Name(loaded->state.status));
  }
  domain::EnvironmentState env = loaded->state;
  if (!on_host.empty()) {
    const std::string& wanted = env.spec.constraints().host_id();
    if (!wanted.empty() && wanted != on_host) {
      return Status::FailedPrecondition(env_id + " is constrained to " + wanted);
    }
    // Only this placement's request: the recorded spec keeps its constraints.
    env.spec.mutable_constraints()->set_host_id(on_host);
  }
  return PlaceAndAppend(env_id, env, loaded->version, {}, meta);
}

Result<CommandResult> EnvironmentService::Release(const std::string& env_id,
                                                  const std::string& host_id,
                                                  const std::string& reason,
                                                  const CommandMeta& meta) {
  auto loaded = environments_.Load(env_id);
  if (!loaded.ok()) return loaded.status();
  if (loaded->version == 0) return Status::NotFound(env_id + " does not exist");
  const domain::EnvironmentState& env = loaded->state;
  if (!env.placed) return Status::FailedPrecondition(env_id + " holds no resources");
  if (!host_id.empty() && env.placement.host_id() != host_id) {
    return Status::FailedPrecondition(env_id + " is placed on " + env.placement.host_id() +
                                      ", not " + host_id);
  }
  auto stopping = ChangeStatus(env_id, domain::STOPPING, reason, meta);
  if (!stopping.ok()) return stopping.status();
  return ChangeStatus(env_id, domain::STOPPED, reason, meta);
}

Result<PlacementResult> EnvironmentService::PlaceAndAppend(
    const std::string& env_id, const domain::EnvironmentState& env, uint64_t env_version,
    const std::vector<EnvironmentEvent>& prefix, const CommandMeta& meta) {
  const domain::PlacementRequest request = RequestFor(env.spec);
  const std::string allocation_id = env_id + "/" + std::to_string(env.attempts + 1);
  return RetryOnConflict<PlacementResult>(
      "placing " + env_id, [&]() -> std::optional<Result<PlacementResult>> {
        // A new environment takes its share of the owner's quota in the same
        // append. One creation per customer with a quota at a time in this
        // process: racing ones would otherwise spend their retries on the quota
        // stream. Owners without a quota are not serialised.
        const UnixMicros now = clock_.NowMicros();
        std::unique_lock<std::mutex> quota_lock;
        std::optional<eventstore::StreamAppend> quota;
        if (env_version == 0) {
          auto reserved = QuotaChange(env_id, env.spec, /*reserve=*/true, meta, now, &quota_lock);
          if (!reserved.ok()) return reserved.status();
          quota = std::move(*reserved);
        }
        const auto started = std::chrono::steady_clock::now();
        auto chosen = index_.Place(request);
        const int64_t placement_micros = MicrosSince(started);

        if (!chosen.ok()) {
          const Status& why = chosen.status();
          // Nothing fits: keep the attempt in the scheduling history.
          EnvironmentCommand record;
          auto* failure = record.mutable_record_failure();
          failure->set_reason(why.message());
          failure->set_strategy(request.strategy);
          failure->set_duration_us(placement_micros);
          auto failed = domain::Decide(env, record, domain::DecideContext{env_id, now});
          if (!failed.ok()) return failed.status();
          std::vector<EnvironmentEvent> events = prefix;
          events.insert(events.end(), failed->begin(), failed->end());
          std::vector<eventstore::StreamAppend> appends = {
              {env_id, ExpectedVersion::Exact(env_version), ToEventData(events, meta, now)}};
          if (quota) appends.push_back(*quota);
          auto appended = store_.Append(std::move(appends));
          if (!appended.ok()) {
            const auto* conflict = appended.status().conflict();
            if (conflict != nullptr && conflict->stream_id == env_id && env_version == 0) {
              return Status::AlreadyExists(env_id + " already exists");
            }
            if (conflict != nullptr && quota && conflict->stream_id == quota->stream_id)
              return std::nullopt;
            return appended.status();
          }
          return why;
        }
        const domain::PlacementChoice* choice = &chosen->placement;
        // Whatever happens below, the reservation ends with this attempt.
        struct ReleaseOnExit {
          SchedulerIndex& index;
          uint64_t token;
          ~ReleaseOnExit() { index.Release(token); }
        } release_reservation{index_, chosen->reservation};

        std::lock_guard host_lock(host_locks_.For(choice->host_id));
        auto host = hosts_.Load(choice->host_id);
        if (!host.ok()) return host.status();
        domain::HostCommand allocate;
        auto* a = allocate.mutable_allocate();
        a->set_allocation_id(allocation_id);
        a->set_holder(env_id);
        a->set_owner(env.spec.owner());
        a->set_cpu_cores(env.spec.cpu_cores());
        a->set_memory_mb(env.spec.memory_mb());
        for (uint32_t index : choice->gpu_indexes) a->add_gpu_indexes(index);
        *a->mutable_ports() = env.spec.ports();
        auto host_events =
            domain::Decide(host->state, allocate, domain::DecideContext{choice->host_id, now});
        if (!host_events.ok()) {
          const StatusCode code = host_events.status().code();
          const bool refused =
              code == StatusCode::kResourceExhausted || code == StatusCode::kFailedPrecondition;
          if (refused && chosen->host_version < host->version) {
            // The choice was made on an older host than the one loaded: teach
            // the index and choose again.
            index_.ApplyHostState(choice->host_id, host->version, host->state);
            return std::nullopt;
          }
          // The choice saw this very host, so the refusal is about something the
          // index does not track (ports): report it as it is.
          return host_events.status();
        }

        EnvironmentCommand record;
        auto* placed = record.mutable_record_placement();
        placed->mutable_placement()->set_host_id(choice->host_id);
        placed->mutable_placement()->set_allocation_id(allocation_id);
        for (uint32_t index : choice->gpu_indexes)
          placed->mutable_placement()->add_gpu_indexes(index);
        *placed->mutable_placement()->mutable_ports() = (*host_events)[0].allocated().ports();
        placed->set_strategy(choice->strategy);
        placed->set_duration_us(placement_micros);
        placed->set_candidates(choice->candidates_checked);
        auto scheduled = domain::Decide(env, record, domain::DecideContext{env_id, now});
        if (!scheduled.ok()) return scheduled.status();
        auto access = AccessFor(env_id, env, host->state, placed->placement());
        if (!access.ok()) return access.status();
        if (access->has_value()) {
          EnvironmentCommand set_access;
          *set_access.mutable_set_access()->mutable_access() = **access;
          auto access_events = domain::Decide(Folded<EnvironmentTraits>(env, *scheduled),
                                              set_access, domain::DecideContext{env_id, now});
          if (!access_events.ok()) return access_events.status();
          scheduled->insert(scheduled->end(), access_events->begin(), access_events->end());
        }

        std::vector<EnvironmentEvent> env_events = prefix;
        env_events.insert(env_events.end(), scheduled->begin(), scheduled->end());
        std::vector<eventstore::StreamAppend> appends = {
            {env_id, ExpectedVersion::Exact(env_version), ToEventData(env_events, meta, now)},
            {choice->host_id, ExpectedVersion::Exact(host->version),
             ToEventData(*host_events, meta, now)}};
        if (quota) appends.push_back(*quota);
        auto appended = store_.Append(std::move(appends));
        if (!appended.ok()) {
          const auto* conflict = appended.status().conflict();
          if (conflict != nullptr && conflict->stream_id == env_id) {
            if (env_version == 0) return Status::AlreadyExists(env_id + " already exists");
            return appended.status();  // Someone else moved this environment meanwhile.
          }
          if (conflict != nullptr) return std::nullopt;  // The host or the quota moved on: again.
          return appended.status();
        }

        Loaded<HostTraits> host_after{Folded<HostTraits>(host->state, *host_events),
                                      appended->streams[1].last_version};
        hosts_.Remember(choice->host_id, host_after);
        index_.ApplyHostState(choice->host_id, host_after.version, host_after.state);
        environments_.Remember(env_id, {Folded<EnvironmentTraits>(env, *scheduled),
                                        appended->streams[0].last_version});

        PlacementResult result;
        result.placement = placed->placement();
        result.strategy = choice->strategy;
        result.placement_micros = placement_micros;
        result.env = {appended->streams[0].last_version, appended->first_position,
                      appended->last_position, env_events.size() + host_events->size()};
        return result;
      });
}

Result<std::optional<domain::AccessInfo>> EnvironmentService::AccessFor(
    const std::string& env_id, const domain::EnvironmentState& env, const domain::HostState& host,
    const domain::Placement& placement) {
  if (access_.keys == nullptr) return std::optional<domain::AccessInfo>();
  domain::AccessInfo access = env.access;  // A placed-again environment keeps its password.
  access.set_ssh_host(host.spec.public_ip().empty() ? host.spec.ip() : host.spec.public_ip());
  access.clear_ssh_port();
  for (const auto& port : placement.ports()) {
    if (port.service() == domain::SSH) access.set_ssh_port(port.port());
  }
  access.set_ssh_user(access_.ssh_user);
  if (access.encrypted_password().empty()) {
    auto key = access_.keys->KeyFor(env.spec.owner());
    if (!key.ok()) return key.status();
    auto sealed = Seal(*key, GeneratePassword(), env_id);
    if (!sealed.ok()) return sealed.status();
    access.set_encrypted_password(std::move(*sealed));
    access.set_key_id(key->key_id);
  }
  return std::optional<domain::AccessInfo>(std::move(access));
}

Result<std::optional<eventstore::StreamAppend>> EnvironmentService::QuotaChange(
    const std::string& env_id, const domain::EnvironmentSpec& spec, bool reserve,
    const CommandMeta& meta, UnixMicros now, std::unique_lock<std::mutex>* lock) {
  using Out = std::optional<eventstore::StreamAppend>;
  if (!domain::IsKind(spec.owner(), domain::StreamKind::kCustomer)) return Out();
  if (!lock->owns_lock()) *lock = std::unique_lock(quota_locks_.For(spec.owner()));
  const std::string quota_id = "quota-" + spec.owner();
  auto quota = quotas_.Load(quota_id);
  if (!quota.ok()) return quota.status();
  if (quota->version == 0) {  // No quota set: nothing is limited, nothing serialised.
    lock->unlock();
    return Out();
  }
  domain::QuotaCommand command;
  if (reserve) {
    auto* r = command.mutable_reserve();
    r->set_environment_id(env_id);
    auto* amounts = r->mutable_amounts();
    amounts->set_cpu_cores(spec.cpu_cores());
    amounts->set_memory_mb(spec.memory_mb());
    amounts->set_gpu_count(spec.gpu_count());
    amounts->set_storage_gb(spec.storage_gb());
  } else {
    command.mutable_release()->set_environment_id(env_id);
  }
  auto events = domain::Decide(quota->state, command, {quota_id, now});
  if (!events.ok()) return events.status();
  if (events->empty()) return Out();
  return Out(eventstore::StreamAppend{quota_id, ExpectedVersion::Exact(quota->version),
                                      ToEventData(*events, meta, now)});
}

Result<std::string> EnvironmentService::PlacedOn(const std::string& env_id) {
  auto state = StateOf(env_id);
  if (!state.ok()) return state.status();
  return state->placed ? state->placement.host_id() : std::string();
}

Result<domain::EnvironmentState> EnvironmentService::StateOf(const std::string& env_id) {
  auto env = environments_.Load(env_id);
  if (!env.ok()) return env.status();
  if (env->version == 0) return Status::NotFound(env_id + " does not exist");
  return std::move(env->state);
}

Result<domain::EnvironmentSpec> EnvironmentService::SpecOf(const std::string& env_id) {
  auto state = StateOf(env_id);
  if (!state.ok()) return state.status();
  return std::move(state->spec);
}

Result<EnvironmentService::Access> EnvironmentService::AccessOf(
    const std::string& env_id,
    const std::function<bool(const std::string& owner)>& may_see_password) {
  auto env = environments_.Load(env_id);
  if (!env.ok()) return env.status();
  if (env->version == 0) return Status::NotFound(env_id + " does not exist");
  const domain::EnvironmentState& state = env->state;
  if (state.access.ssh_host().empty()) {
    return Status::FailedPrecondition(env_id + " has not been placed yet; no access information");
  }
  Access out{state.spec.owner(), state.status, state.access, std::nullopt};
  out.info.clear_encrypted_password();
  if (!may_see_password(state.spec.owner()) || state.access.encrypted_password().empty() ||
      access_.keys == nullptr) {
    return out;
  }
  auto key = access_.keys->KeyById(state.access.key_id());
  if (!key.ok()) return key.status();
  auto password = Unseal(*key, state.access.encrypted_password(), env_id);
  if (!password.ok()) return password.status();
  out.password = std::move(*password);
  return out;
}

Result<CommandResult> EnvironmentService::ChangeStatus(const std::string& env_id,
                                                       domain::EnvironmentStatus to,
                                                       const std::string& reason,
                                                       const CommandMeta& meta) {
  EnvironmentCommand command;
  command.mutable_change_status()->set_to(to);
  command.mutable_change_status()->set_reason(reason);
  return RetryOnConflict<CommandResult>(
      "changing " + env_id, [&]() -> std::optional<Result<CommandResult>> {
        auto env = environments_.Load(env_id);
        if (!env.ok()) return env.status();
        // A customer's quota stripe before any host stripe, as in PlaceAndAppend.
        std::unique_lock<std::mutex> quota_lock;
        if (to == domain::DELETED &&
            domain::IsKind(env->state.spec.owner(), domain::StreamKind::kCustomer)) {
          quota_lock = std::unique_lock(quota_locks_.For(env->state.spec.owner()));
        }
        const UnixMicros now = clock_.NowMicros();
        auto events = domain::Decide(env->state, command, domain::DecideContext{env_id, now});
        if (!events.ok()) return events.status();

        std::vector<eventstore::StreamAppend> request = {
            {env_id, ExpectedVersion::Exact(env->version), ToEventData(*events, meta, now)}};
        std::string host_id;
        Loaded<HostTraits> host_after;
        std::vector<domain::HostEvent> host_events;
        std::unique_lock<std::mutex> host_lock;
        for (const auto& event : *events) {
          if (!event.has_placement_released()) continue;
          const auto& placement = event.placement_released().placement();
          host_id = placement.host_id();
          host_lock = std::unique_lock(host_locks_.For(host_id));
          auto host = hosts_.Load(host_id);
          if (!host.ok()) return host.status();
          domain::HostCommand release;
          release.mutable_release()->set_allocation_id(placement.allocation_id());
          release.mutable_release()->set_reason(event.placement_released().reason());
          auto released = domain::Decide(host->state, release, domain::DecideContext{host_id, now});
          if (released.ok()) {
            host_events = std::move(*released);
            host_after = {Folded<HostTraits>(host->state, host_events), host->version};
            request.push_back({host_id, ExpectedVersion::Exact(host->version),
                               ToEventData(host_events, meta, now)});
          } else if (released.status().code() != StatusCode::kNotFound) {
            return released.status();
          }  // NotFound: the host already let it go (reconciler); nothing to release.
        }
        // After the host's part: streams[1] is the host when it has one.
        if (to == domain::DELETED) {  // Gives the quota share back in the same append.
          auto released =
              QuotaChange(env_id, env->state.spec, /*reserve=*/false, meta, now, &quota_lock);
          if (!released.ok()) return released.status();
          if (*released) request.push_back(std::move(**released));
        }
        auto appended = store_.Append(std::move(request));
        if (!appended.ok()) {
          if (appended.status().code() == StatusCode::kVersionConflict) return std::nullopt;
          return appended.status();
        }
        environments_.Remember(env_id, {Folded<EnvironmentTraits>(env->state, *events),
                                        appended->streams[0].last_version});
        if (!host_events.empty()) {
          host_after.version = appended->streams[1].last_version;
          hosts_.Remember(host_id, host_after);
          index_.ApplyHostState(host_id, host_after.version, host_after.state);
        }
        return CommandResult{appended->streams[0].last_version, appended->first_position,
                             appended->last_position, events->size() + host_events.size()};
      });
}

}  // namespace remotegpu::commands
