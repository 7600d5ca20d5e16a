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

}  // namespace remotegpu::commands
