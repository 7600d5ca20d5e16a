// Events and aggregate states as JSON, the shape every replay tool and the
// audit routes print. Field names are the protobuf ones (snake_case).
#pragma once

#include <nlohmann/json.hpp>

#include "eventstore/event_store.h"

namespace google::protobuf {
class Message;
}

namespace remotegpu::queries {

// "user", "api_key", "agent", "system" or "unspecified".
const char* ActorKindName(eventstore::ActorKind kind);

// The domain event inside `recorded`, decoded by its stream's kind (host-,
// env-, lease-, policy-, customer-, user-, username-, apikey-); null when the
// kind is unknown to this build or the payload does not parse. Secrets stay
// sealed (bytes as base64); password hashes and token digests read
// "[redacted]".
nlohmann::json PayloadJson(const eventstore::RecordedEvent& recorded);

// Any protobuf message as JSON (field names as in the .proto).
nlohmann::json ProtoJson(const google::protobuf::Message& message);

// One event as the audit export writes it: position, stream, version, ids,
// type, times (RFC 3339), actor, correlation/causation/trace ids, `data`
// (PayloadJson) and the hash chain (`prev_hash`, `hash`, hex).
nlohmann::json EventJson(const eventstore::RecordedEvent& recorded);

}  // namespace remotegpu::queries
