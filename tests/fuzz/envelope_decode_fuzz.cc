// The stored envelope's decoder and every domain event's parser on any bytes
// (a damaged log, a hostile Kafka message): an error, never a crash; what
// decodes encodes again to bytes that decode to the same event.
#include <google/protobuf/stubs/logging.h>

#include "domain/proto/billing.pb.h"
#include "domain/proto/environment.pb.h"
#include "domain/proto/host.pb.h"
#include "domain/proto/identity.pb.h"
#include "domain/proto/lease.pb.h"
#include "eventstore/envelope_codec.h"
#include "tests/fuzz/fuzz_target.h"

FUZZ_TARGET(envelope_decode) {
  // protobuf logs every string that is not UTF-8; the parse result is what counts.
  [[maybe_unused]] static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = remotegpu::eventstore::DecodeEnvelope(bytes);
  if (decoded.ok()) {
    const std::string encoded = remotegpu::eventstore::EncodeEnvelope(*decoded);
    auto again = remotegpu::eventstore::DecodeEnvelope(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->global_position == decoded->global_position);
    FUZZ_CHECK(again->stream_id == decoded->stream_id);
    FUZZ_CHECK(again->data.payload == decoded->data.payload);
  }
  const std::string payload(bytes);
  remotegpu::domain::HostEvent host;
  (void)host.ParseFromString(payload);
  remotegpu::domain::EnvironmentEvent environment;
  (void)environment.ParseFromString(payload);
  remotegpu::domain::LeaseEvent lease;
  (void)lease.ParseFromString(payload);
  remotegpu::domain::UserEvent user;
  (void)user.ParseFromString(payload);
  remotegpu::domain::AccountEvent account;
  (void)account.ParseFromString(payload);
  return 0;
}
