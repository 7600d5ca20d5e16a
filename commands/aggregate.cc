#include "commands/aggregate.h"

#include <google/protobuf/message.h>

namespace remotegpu::commands {

std::string EventTypeName(const google::protobuf::Message& wrapper) {
  const auto* descriptor = wrapper.GetDescriptor();
  if (descriptor->oneof_decl_count() == 0) return descriptor->name();
  const auto* field =
      wrapper.GetReflection()->GetOneofFieldDescriptor(wrapper, descriptor->oneof_decl(0));
  if (field == nullptr || field->message_type() == nullptr) return descriptor->name();
  return field->message_type()->name();
}

eventstore::EventData EventDataOf(const google::protobuf::Message& event, std::string type,
                                  const CommandMeta& meta, UnixMicros now_us) {
  eventstore::EventData data;
  data.type = std::move(type);
  data.occurred_at_us = now_us;
  data.actor = meta.actor;
  data.correlation_id = meta.correlation_id;
  data.causation_id = meta.causation_id;
  data.trace_id = meta.trace_id;
  event.SerializeToString(&data.payload);
  return data;
}

}  // namespace remotegpu::commands
