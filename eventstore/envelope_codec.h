// Encoding of RecordedEvent as the protobuf Envelope, and the hash chain.
// Internal to the event store and its tools; callers of EventStore never see
// protobuf.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "eventstore/event_store.h"

namespace remotegpu::eventstore {

// SHA-256(prev_hash ‖ envelope encoded without `hash`), per envelope.proto.
Sha256Digest ComputeEventHash(const RecordedEvent& event);

// Sets event->hash from its other fields and returns the stored encoding.
std::string SealAndEncode(RecordedEvent* event);

// The encoding of an event whose hash is already set.
std::string EncodeEnvelope(const RecordedEvent& event);

// Decodes a stored envelope. Corruption when the bytes do not parse or the
// ids or hashes have the wrong length. Does not verify the hash.
Result<RecordedEvent> DecodeEnvelope(std::string_view bytes);

}  // namespace remotegpu::eventstore
