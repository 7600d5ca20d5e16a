#include "projections/queries/stream_state.h"

#include <cstdio>
#include <ctime>
#include <functional>
#include <set>

#include <google/protobuf/util/json_util.h>

#include "domain/environment.h"
#include "domain/host.h"
#include "domain/lease.h"
#include "domain/scheduling_policy.h"
#include "domain/stream_id.h"

namespace remotegpu::queries {
namespace {

using nlohmann::json;

// States print every field, defaults included, so diffs see 0 and "".
json StateProtoJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  return json::parse(text, nullptr, false);
}

json ToJson(const domain::HostState& h) {
  json gpus = json::object();
  for (const auto& [index, gpu] : h.gpus) gpus[std::to_string(index)] = StateProtoJson(gpu);
  json allocations = json::object();
  for (const auto& [id, a] : h.allocations) {
    json ports = json::array();
    for (const auto& port : a.ports) ports.push_back(StateProtoJson(port));
    allocations[id] = {{"holder", a.holder},       {"cpu_cores", a.cpu_cores},
                       {"memory_mb", a.memory_mb}, {"gpu_indexes", a.gpu_indexes},
                       {"ports", ports},           {"whole_machine", a.whole_machine}};
  }
  return {{"registered", h.registered},
          {"spec", StateProtoJson(h.spec)},
          {"asset", StateProtoJson(h.asset)},
          {"gpus", gpus},
          {"operational_status", domain::Name(h.status)},
          {"maintenance_by_person", h.maintenance_by_person},
          {"reserved_for", h.reserved_for},
          {"online", h.online},
          {"health", domain::Name(h.health)},
          {"health_reasons", h.health_reasons},
          {"isolated", h.isolated},
          {"allocations", allocations}};
}

json ToJson(const domain::EnvironmentState& e) {
  return {{"created", e.created},
          {"spec", StateProtoJson(e.spec)},
          {"status", domain::Name(e.status)},
          {"placed", e.placed},
          {"placement", e.placed ? StateProtoJson(e.placement) : json(nullptr)},
          {"access", StateProtoJson(e.access)},  // The password stays sealed.
          {"attempts", e.attempts}};
}

json ToJson(const domain::LeaseState& l) {
  return {{"created", l.created},
          {"status", domain::Name(l.status)},
          {"customer_id", l.customer_id},
          {"host_ids", l.host_ids},
          {"starts_at", FormatRfc3339(l.starts_at_us)},
          {"expires_at", FormatRfc3339(l.expires_at_us)}};
}

json ToJson(const domain::PolicyState& p) { return StateProtoJson(p.policy); }

// Folds `stream_id`'s events that `moment` admits, calling `each` with every
// event and the states before and after it.
template <typename State, typename Event>
Result<StreamState> Fold(
    eventstore::EventStore& store, const std::string& stream_id, const Moment& moment, State state,
    const std::function<void(const eventstore::RecordedEvent&, const json&, const json&)>& each) {
  StreamState out;
  out.state = ToJson(state);
  uint64_t next = 1;
  bool any = false;
  while (true) {
    auto events = store.ReadStream(stream_id, {.from_version = next, .max_count = 1000});
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    any = true;
    for (const auto& recorded : *events) {
      next = recorded.stream_version + 1;
      if (recorded.stream_version > moment.max_version ||
          recorded.global_position > moment.max_position ||
          recorded.recorded_at_us > moment.max_time_us) {
        return out;  // Versions, positions and times all grow along a stream.
      }
      Event event;
      if (!event.ParseFromString(recorded.data.payload)) {
        return Status::Corruption("event at position " + std::to_string(recorded.global_position) +
                                  " does not parse");
      }
      domain::Apply(state, event);
      json after = ToJson(state);
      if (each) each(recorded, out.state, after);
      out.state = std::move(after);
      out.version = recorded.stream_version;
      out.position = recorded.global_position;
      out.recorded_at_us = recorded.recorded_at_us;
    }
  }
  if (!any) return Status::NotFound("no stream " + stream_id);
  return out;
}

Result<StreamState> FoldAny(
    eventstore::EventStore& store, const std::string& stream_id, const Moment& moment,
    const std::function<void(const eventstore::RecordedEvent&, const json&, const json&)>& each) {
  RGPU_RETURN_IF_ERROR(eventstore::ValidateStreamId(stream_id));
  if (domain::IsKind(stream_id, domain::StreamKind::kHost)) {
    return Fold<domain::HostState, domain::HostEvent>(store, stream_id, moment, {}, each);
  }
  if (domain::IsKind(stream_id, domain::StreamKind::kEnvironment)) {
    return Fold<domain::EnvironmentState, domain::EnvironmentEvent>(store, stream_id, moment, {},
                                                                    each);
  }
  if (domain::IsKind(stream_id, domain::StreamKind::kLease)) {
    return Fold<domain::LeaseState, domain::LeaseEvent>(store, stream_id, moment, {}, each);
  }
  if (stream_id.starts_with(domain::PolicyStreamId(""))) {
    auto initial = domain::DefaultPolicy(stream_id.substr(domain::PolicyStreamId("").size()));
    if (!initial.ok()) return initial.status();
    return Fold<domain::PolicyState, domain::PolicyEvent>(store, stream_id, moment, *initial, each);
  }
  return Status::InvalidArgument("cannot fold " + stream_id +
                                 ": streams of hosts, environments, leases and policies only");
}

void DiffInto(const std::string& path, const json& before, const json& after,
              std::vector<FieldChange>* out) {
  if (before.is_object() && after.is_object()) {
    std::set<std::string> keys;
    for (const auto& [key, value] : before.items()) keys.insert(key);
    for (const auto& [key, value] : after.items()) keys.insert(key);
    for (const auto& key : keys) {
      const std::string child = path.empty() ? key : path + "." + key;
      DiffInto(child, before.contains(key) ? before[key] : json(nullptr),
               after.contains(key) ? after[key] : json(nullptr), out);
    }
    return;
  }
  if (before != after) out->push_back({path, before, after});
}

}  // namespace

Result<Moment> ParseMoment(const std::string& text) {
  Moment moment;
  if (text.size() > 1 && text[0] == 'v' &&
      text.find_first_not_of("0123456789", 1) == std::string::npos && text.size() <= 20) {
    moment.max_version = std::stoull(text.substr(1));
    return moment;
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 19) return Status::InvalidArgument("position " + text + " is too large");
    moment.max_position = std::stoull(text);
    return moment;
  }
  auto at = ParseRfc3339(text);
  if (!at.ok()) {
    return Status::InvalidArgument("'" + text +
                                   "' is neither a log position nor an RFC 3339 time (" +
                                   at.status().message() + ")");
  }
  moment.max_time_us = *at;
  return moment;
}

json StateJson(const std::string& id_key, const std::string& stream_id, const StreamState& state) {
  return {{id_key, stream_id},
          {"version", state.version},
          {"position", state.position},
          {"recorded_at", state.version == 0 ? json() : json(FormatRfc3339(state.recorded_at_us))},
          {"state", state.state}};
}

Result<StreamState> StateAt(eventstore::EventStore& store, const std::string& stream_id,
                            const Moment& moment) {
  return FoldAny(store, stream_id, moment, nullptr);
}

std::vector<FieldChange> Diff(const json& before, const json& after) {
  std::vector<FieldChange> out;
  DiffInto("", before, after, &out);
  return out;
}

Result<std::vector<HistoryEntry>> History(eventstore::EventStore& store,
                                          const std::string& stream_id) {
  std::vector<HistoryEntry> entries;
  auto folded =
      FoldAny(store, stream_id, Moment{},
              [&](const eventstore::RecordedEvent& event, const json& before, const json& after) {
                entries.push_back({event, Diff(before, after)});
              });
  if (!folded.ok()) return folded.status();
  return entries;
}

}  // namespace remotegpu::queries
