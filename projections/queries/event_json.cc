#include "projections/queries/event_json.h"

#include <google/protobuf/util/json_util.h>

#include "common/sha256.h"
#include "domain/proto/billing.pb.h"
#include "domain/proto/commerce.pb.h"
#include "domain/proto/environment.pb.h"
#include "domain/proto/host.pb.h"
#include "domain/proto/identity.pb.h"
#include "domain/proto/lease.pb.h"
#include "domain/proto/quota.pb.h"
#include "domain/proto/scheduling_policy.pb.h"
#include "domain/proto/workspace.pb.h"
#include "domain/stream_id.h"

namespace remotegpu::queries {
namespace {

template <typename Message>
nlohmann::json Decode(const std::string& payload) {
  Message message;
  if (!message.ParseFromString(payload)) return nullptr;
  return ProtoJson(message);
}

std::string Hex(const Sha256Digest& digest) { return ToHex(DigestBytes(digest)); }

// Password hashes and token digests stay out of every export, even though
// none of them is a secret in clear.
constexpr const char* kRedactedFields[] = {"password_hash",    "refresh_hash", "presented_hash",
                                           "new_refresh_hash", "secret_hash",  "code_hash"};

void Redact(nlohmann::json& value) {
  if (value.is_object()) {
    for (auto& [key, field] : value.items()) {
      bool secret = false;
      for (const char* name : kRedactedFields) secret |= key == name;
      if (secret) {
        field = "[redacted]";
      } else {
        Redact(field);
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) Redact(item);
  }
}

template <typename Message>
nlohmann::json DecodeRedacted(const std::string& payload) {
  nlohmann::json json = Decode<Message>(payload);
  Redact(json);
  return json;
}

}  // namespace

nlohmann::json ProtoJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  return nlohmann::json::parse(text, nullptr, false);
}

const char* ActorKindName(eventstore::ActorKind kind) {
  switch (kind) {
    case eventstore::ActorKind::kUser:
      return "user";
    case eventstore::ActorKind::kApiKey:
      return "api_key";
    case eventstore::ActorKind::kAgent:
      return "agent";
    case eventstore::ActorKind::kSystem:
      return "system";
    default:
      return "unspecified";
  }
}

nlohmann::json PayloadJson(const eventstore::RecordedEvent& recorded) {
  const std::string& payload = recorded.data.payload;
  using domain::StreamKind;
  switch (domain::KindOf(recorded.stream_id)) {
    case StreamKind::kHost:
      return Decode<domain::HostEvent>(payload);
    case StreamKind::kEnvironment:
      return Decode<domain::EnvironmentEvent>(payload);
    case StreamKind::kLease:
      return Decode<domain::LeaseEvent>(payload);
    case StreamKind::kPolicy:
      return Decode<domain::PolicyEvent>(payload);
    case StreamKind::kCustomer:
      return Decode<domain::CustomerEvent>(payload);
    case StreamKind::kUser:
      return DecodeRedacted<domain::UserEvent>(payload);
    case StreamKind::kUsername:
      return Decode<domain::UsernameClaimed>(payload);
    case StreamKind::kApiKey:
      return DecodeRedacted<domain::ApiKeyEvent>(payload);
    case StreamKind::kQuota:
      return Decode<domain::QuotaEvent>(payload);
    case StreamKind::kWorkspace:
      return Decode<domain::WorkspaceEvent>(payload);
    case StreamKind::kSpec:
      return Decode<domain::SpecEvent>(payload);
    case StreamKind::kRates:
      return Decode<domain::RatesEvent>(payload);
    case StreamKind::kBill:
      return Decode<domain::BillEvent>(payload);
    case StreamKind::kAccount:
      return Decode<domain::AccountEvent>(payload);
    case StreamKind::kPayment:
      return Decode<domain::OrderClaimed>(payload);
    case StreamKind::kInvoice:
      return Decode<domain::InvoiceEvent>(payload);
    case StreamKind::kUnknown:
      break;
  }
  return nullptr;
}

nlohmann::json EventJson(const eventstore::RecordedEvent& recorded) {
  const eventstore::EventData& data = recorded.data;
  return {{"position", recorded.global_position},
          {"stream_id", recorded.stream_id},
          {"stream_version", recorded.stream_version},
          {"event_id", data.event_id.ToString()},
          {"type", data.type},
          {"schema_version", data.schema_version},
          {"occurred_at", FormatRfc3339(data.occurred_at_us)},
          {"recorded_at", FormatRfc3339(recorded.recorded_at_us)},
          {"actor",
           {{"kind", ActorKindName(data.actor.kind)},
            {"id", data.actor.id},
            {"name", data.actor.display_name}}},
          {"correlation_id", data.correlation_id},
          {"causation_id", data.causation_id},
          {"trace_id", data.trace_id},
          {"data", PayloadJson(recorded)},
          {"prev_hash", Hex(recorded.prev_hash)},
          {"hash", Hex(recorded.hash)}};
}

}  // namespace remotegpu::queries
