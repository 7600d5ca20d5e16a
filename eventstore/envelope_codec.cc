#include "eventstore/envelope_codec.h"

#include <cstring>

#include "domain/proto/envelope.pb.h"

namespace remotegpu::eventstore {
namespace {

void ToProto(const RecordedEvent& event, domain::Envelope* out) {
  out->set_event_id(std::string(event.data.event_id.Raw()));
  out->set_stream_id(event.stream_id);
  out->set_stream_version(event.stream_version);
  out->set_global_position(event.global_position);
  out->set_type(event.data.type);
  out->set_schema_version(event.data.schema_version);
  out->set_occurred_at_us(event.data.occurred_at_us);
  out->set_recorded_at_us(event.recorded_at_us);
  if (event.data.actor.kind != ActorKind::kUnspecified || !event.data.actor.id.empty() ||
      !event.data.actor.display_name.empty()) {
    auto* actor = out->mutable_actor();
    actor->set_kind(static_cast<domain::ActorKind>(event.data.actor.kind));
    actor->set_id(event.data.actor.id);
    actor->set_display_name(event.data.actor.display_name);
  }
  out->set_correlation_id(event.data.correlation_id);
  out->set_causation_id(event.data.causation_id);
  out->set_trace_id(event.data.trace_id);
  out->set_payload(event.data.payload);
  out->set_prev_hash(std::string(DigestBytes(event.prev_hash)));
}

std::string SerializeDeterministic(const domain::Envelope& envelope) {
  std::string bytes;
  envelope.SerializeToString(&bytes);  // Fields in number order; no maps or unknown fields.
  return bytes;
}

// Moves a parsed string field out of its message; an empty (default) field
// is left alone, since asking for it mutably would allocate.
void Take(const std::string& field, std::string* (domain::Envelope::*mutable_field)(),
          domain::Envelope& envelope, std::string& out) {
  if (!field.empty()) out = std::move(*(envelope.*mutable_field)());
}

bool CopyDigest(const std::string& bytes, Sha256Digest* out) {
  if (bytes.size() != out->size()) return false;
  std::memcpy(out->data(), bytes.data(), bytes.size());
  return true;
}

}  // namespace

Sha256Digest ComputeEventHash(const RecordedEvent& event) {
  domain::Envelope envelope;
  ToProto(event, &envelope);
  return Sha256(DigestBytes(event.prev_hash), SerializeDeterministic(envelope));
}

std::string SealAndEncode(RecordedEvent* event) {
  domain::Envelope envelope;
  ToProto(*event, &envelope);
  std::string bytes = SerializeDeterministic(envelope);
  event->hash = Sha256(DigestBytes(event->prev_hash), bytes);
  // `hash` has the highest field number, so the full encoding is the unhashed
  // one followed by that field; appending it avoids a second serialisation.
  envelope.Clear();
  envelope.set_hash(std::string(DigestBytes(event->hash)));
  bytes += SerializeDeterministic(envelope);
  return bytes;
}

std::string EncodeEnvelope(const RecordedEvent& event) {
  // Reused per thread: its strings keep their capacity, so encoding a stream
  // of events (the Kafka relay) allocates little beyond the result.
  thread_local domain::Envelope envelope;
  envelope.Clear();
  ToProto(event, &envelope);
  envelope.set_hash(std::string(DigestBytes(event.hash)));
  return SerializeDeterministic(envelope);
}

Result<RecordedEvent> DecodeEnvelope(std::string_view bytes) {
  domain::Envelope envelope;
  if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("event envelope does not parse");
  }
  RecordedEvent event;
  auto id = Uuid::FromRaw(envelope.event_id());
  if (!id) return Status::Corruption("event id is not 16 bytes");
  // The parsed strings move into the event: every read of the log decodes,
  // so each copy saved is saved on every replay, projection and relay.
  Take(envelope.stream_id(), &domain::Envelope::mutable_stream_id, envelope, event.stream_id);
  event.stream_version = envelope.stream_version();
  event.global_position = envelope.global_position();
  event.recorded_at_us = envelope.recorded_at_us();
  event.data.event_id = *id;
  Take(envelope.type(), &domain::Envelope::mutable_type, envelope, event.data.type);
  event.data.schema_version = envelope.schema_version();
  event.data.occurred_at_us = envelope.occurred_at_us();
  if (envelope.has_actor()) {
    event.data.actor.kind = static_cast<ActorKind>(envelope.actor().kind());
    domain::Actor& actor = *envelope.mutable_actor();
    if (!actor.id().empty()) event.data.actor.id = std::move(*actor.mutable_id());
    if (!actor.display_name().empty()) {
      event.data.actor.display_name = std::move(*actor.mutable_display_name());
    }
  }
  Take(envelope.correlation_id(), &domain::Envelope::mutable_correlation_id, envelope,
       event.data.correlation_id);
  Take(envelope.causation_id(), &domain::Envelope::mutable_causation_id, envelope,
       event.data.causation_id);
  Take(envelope.trace_id(), &domain::Envelope::mutable_trace_id, envelope, event.data.trace_id);
  Take(envelope.payload(), &domain::Envelope::mutable_payload, envelope, event.data.payload);
  if (!CopyDigest(envelope.prev_hash(), &event.prev_hash) ||
      !CopyDigest(envelope.hash(), &event.hash)) {
    return Status::Corruption("event at position " + std::to_string(event.global_position) +
                              " has a hash that is not 32 bytes");
  }
  return event;
}

}  // namespace remotegpu::eventstore
