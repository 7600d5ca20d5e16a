// Field-by-field differences between two messages of one type, for the
// change log's old and new values.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "domain/proto/host.pb.h"

namespace remotegpu::domain {

// One FieldChange per top-level field whose value differs, in field-number
// order. Scalars print as text, enums by name, repeated and message fields in
// protobuf's short text form. `before` and `after` must be the same type.
std::vector<FieldChange> DiffFields(const google::protobuf::Message& before,
                                    const google::protobuf::Message& after);

}  // namespace remotegpu::domain
