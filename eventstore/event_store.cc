#include "eventstore/event_store.h"

#include <algorithm>

namespace remotegpu::eventstore {

bool ExpectedVersion::IsSatisfiedBy(uint64_t actual) const {
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kNoStream:
      return actual == 0;
    case Kind::kExists:
      return actual > 0;
    case Kind::kExact:
      return actual == version_;
  }
  return false;
}

std::string ExpectedVersion::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no_stream";
    case Kind::kExists:
      return "exists";
    case Kind::kExact:
      return std::to_string(version_);
  }
  return "?";
}

void EventStore::AppendAsync(std::vector<StreamAppend> streams, const AppendOptions& options,
                             AppendCallback done) {
  done(Append(std::move(streams), options));
}

Result<bool> EventStore::StreamExists(const std::string& stream_id) {
  auto head = StreamHead(stream_id);
  if (!head.ok()) return head.status();
  return *head > 0;
}

Status ValidateStreamId(const std::string& stream_id) {
  if (stream_id.size() < 3 || stream_id.size() > 200) {
    return Status::InvalidArgument("stream id '" + stream_id + "' must be 3 to 200 bytes long");
  }
  size_t dash = stream_id.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == stream_id.size()) {
    return Status::InvalidArgument("stream id '" + stream_id + "' must look like <kind>-<id>");
  }
  for (unsigned char c : stream_id) {
    if (c <= 0x20 || c >= 0x7f) {
      return Status::InvalidArgument("stream id '" + stream_id +
                                     "' must be printable ASCII without spaces");
    }
  }
  return Status::Ok();
}

Status ValidateIdText(const std::string& text, const std::string& what) {
  const bool fits = !text.empty() && text.size() <= kMaxIdText &&
                    std::all_of(text.begin(), text.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '_' || c == '-';
                    });
  if (fits) return Status::Ok();
  // The id is not echoed: it may be long or hold bytes a log should not.
  return Status::InvalidArgument(what + " must be 1 to " + std::to_string(kMaxIdText) +
                                 " of A-Z, a-z, 0-9, '_' and '-'");
}

Status ValidateStreamIdOfKind(const std::string& stream_id, const std::string& kind) {
  RGPU_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  if (!stream_id.starts_with(kind + "-")) {
    return Status::InvalidArgument("'" + stream_id + "' is not a " + kind + " id: it must start " +
                                   "with " + kind + "-");
  }
  return Status::Ok();
}

Status ValidateNewStreamId(const std::string& stream_id, const std::string& kind) {
  if (!stream_id.starts_with(kind + "-")) {
    if (stream_id.size() > 2 * kMaxIdText) {
      return Status::InvalidArgument("not a " + kind + " id: it must start with " + kind + "-");
    }
    return Status::InvalidArgument("'" + stream_id + "' is not a " + kind + " id: it must start " +
                                   "with " + kind + "-");
  }
  return ValidateIdText(stream_id.substr(kind.size() + 1),
                        "a " + kind + " id after '" + kind + "-'");
}

}  // namespace remotegpu::eventstore
