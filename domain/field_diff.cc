#include "domain/field_diff.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

namespace remotegpu::domain {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string FieldText(const Message& message, const FieldDescriptor* field) {
  const Reflection* reflection = message.GetReflection();
  if (field->is_repeated()) {
    std::string out = "[";
    int size = reflection->FieldSize(message, field);
    for (int i = 0; i < size; ++i) {
      std::string item;
      google::protobuf::TextFormat::PrintFieldValueToString(message, field, i, &item);
      out += (i > 0 ? ", " : "") + item;
    }
    return out + "]";
  }
  std::string text;
  google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1, &text);
  if (field->type() == FieldDescriptor::TYPE_STRING && text.size() >= 2) {
    text = text.substr(1, text.size() - 2);  // Drop TextFormat's quotes.
  }
  return text;
}

}  // namespace

std::vector<FieldChange> DiffFields(const Message& before, const Message& after) {
  std::vector<FieldChange> changes;
  const auto* descriptor = before.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::string old_value = FieldText(before, field);
    std::string new_value = FieldText(after, field);
    if (old_value == new_value) continue;
    FieldChange change;
    change.set_field(field->name());
    change.set_old_value(std::move(old_value));
    change.set_new_value(std::move(new_value));
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace remotegpu::domain
