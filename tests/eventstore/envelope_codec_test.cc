#include "eventstore/envelope_codec.h"

#include <gtest/gtest.h>

#include "domain/proto/envelope.pb.h"

namespace remotegpu::eventstore {
namespace {

RecordedEvent SampleEvent() {
  RecordedEvent event;
  event.stream_id = "host-42";
  event.stream_version = 3;
  event.global_position = 17;
  event.recorded_at_us = 1'767'225'600'000'000;
  event.data.event_id = *Uuid::Parse("0190f5a8-1c2b-7d3e-8f40-123456789abc");
  event.data.type = "HostRegistered";
  event.data.schema_version = 2;
  event.data.occurred_at_us = 1'767'225'599'000'000;
  event.data.actor = {ActorKind::kAgent, "agent-7", "gpu-node-07"};
  event.data.correlation_id = "req-1";
  event.data.causation_id = "cmd-1";
  event.data.trace_id = "trace-1";
  event.data.payload = std::string("\x00\x01payload", 9);
  event.prev_hash = Sha256("previous");
  return event;
}

TEST(EnvelopeCodecTest, SealedBytesEqualTheFullEncodingAndDecodeBack) {
  RecordedEvent event = SampleEvent();
  std::string stored = SealAndEncode(&event);
  EXPECT_EQ(stored, EncodeEnvelope(event));
  EXPECT_EQ(event.hash, ComputeEventHash(event));

  auto decoded = DecodeEnvelope(stored);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->stream_id, event.stream_id);
  EXPECT_EQ(decoded->stream_version, event.stream_version);
  EXPECT_EQ(decoded->global_position, event.global_position);
  EXPECT_EQ(decoded->recorded_at_us, event.recorded_at_us);
  EXPECT_EQ(decoded->data, event.data);
  EXPECT_EQ(decoded->prev_hash, event.prev_hash);
  EXPECT_EQ(decoded->hash, event.hash);
}

TEST(EnvelopeCodecTest, HashIsOverPrevHashAndEnvelopeWithoutHash) {
  // The documented rule, computed independently with the generated class.
  RecordedEvent event = SampleEvent();
  std::string stored = SealAndEncode(&event);
  domain::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(stored));
  envelope.clear_hash();
  std::string unhashed;
  ASSERT_TRUE(envelope.SerializeToString(&unhashed));
  EXPECT_EQ(event.hash, Sha256(DigestBytes(event.prev_hash), unhashed));
}

TEST(EnvelopeCodecTest, AnyChangedFieldChangesTheHash) {
  RecordedEvent event = SampleEvent();
  SealAndEncode(&event);
  RecordedEvent tampered = event;
  tampered.data.payload += "!";
  EXPECT_NE(ComputeEventHash(tampered), event.hash);
  tampered = event;
  tampered.data.actor.id = "someone-else";
  EXPECT_NE(ComputeEventHash(tampered), event.hash);
  tampered = event;
  tampered.prev_hash[0] ^= 1;
  EXPECT_NE(ComputeEventHash(tampered), event.hash);
}

TEST(EnvelopeCodecTest, GarbageIsCorruption) {
  auto decoded = DecodeEnvelope("\xff\xff\xff garbage");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

TEST(EnvelopeCodecTest, WrongLengthIdIsCorruption) {
  domain::Envelope envelope;
  envelope.set_event_id("short");
  auto decoded = DecodeEnvelope(envelope.SerializeAsString());
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace remotegpu::eventstore
