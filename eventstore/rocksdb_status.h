// Conversion of RocksDB statuses into ours. Internal to the event store.
#pragma once

#include <string>

#include <rocksdb/status.h>

#include "common/status.h"

namespace remotegpu::eventstore {

// OK stays OK; otherwise the code maps to ours and the message says what we
// were doing ("group commit: IO error: No space left on device").
inline Status FromRocksDb(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::Ok();
  std::string message = context + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsNotFound()) return Status::NotFound(std::move(message));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(message));
  if (s.IsBusy() || s.IsTryAgain() || s.IsIncomplete())
    return Status::Unavailable(std::move(message));
  return Status::IoError(std::move(message));
}

}  // namespace remotegpu::eventstore
