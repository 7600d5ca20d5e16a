// Status and Result<T>: expected failures as values (LevelDB/RocksDB style).
//
// A Status is either OK or carries a code a program can switch on and a
// message a person can act on. A version conflict additionally carries the
// stream, the expected version and the actual one, so a command handler can
// decide to reload and retry without parsing text.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from distinct threads, one object is not synchronised.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace remotegpu {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // The caller's input is malformed or breaks a rule.
  kNotFound,            // The named thing does not exist.
  kAlreadyExists,       // Creating something that is already there.
  kVersionConflict,     // Optimistic concurrency: a stream is not at the expected version.
  kFailedPrecondition,  // The system is not in a state that allows the operation.
  kResourceExhausted,   // A pool, queue or quota is full.
  kIoError,             // The disk, a socket or a child process failed.
  kCorruption,          // Stored data does not decode or does not verify.
  kUnavailable,         // The component is closed or not ready.
  kInternal,            // A bug or an unexpected library error.
  kUnauthenticated,     // No credentials, or credentials that do not verify.
  kPermissionDenied,    // Known caller, not allowed to do this.
  kQuotaExceeded,       // Allowed, but past the caller's quota.
  kOutOfRange,          // A position or offset past what exists (yet).
};

const char* StatusCodeName(StatusCode code);

// Details of an optimistic-concurrency conflict. `expected` is the textual
// form of the expectation ("no_stream", "exists", "any" or a number).
struct VersionConflict {
  std::string stream_id;
  std::string expected;
  uint64_t actual = 0;  // 0: the stream does not exist.
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status QuotaExceeded(std::string m) { return {StatusCode::kQuotaExceeded, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status Conflict(VersionConflict conflict);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Non-null exactly when code() == kVersionConflict.
  const VersionConflict* conflict() const { return conflict_.get(); }

  // "VersionConflict: stream host-1 is at version 3, expected 2".
  std::string ToString() const;

  // Marks a deliberately ignored status; grep for it when auditing error paths.
  void PermitUnchecked() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::shared_ptr<const VersionConflict> conflict_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT: implicit by design.
  Result(Status status) : value_(std::move(status)) {  // NOLINT: implicit by design.
    assert(!std::get<Status>(value_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(value_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(value_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(value_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(value_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace remotegpu

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define RGPU_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::remotegpu::Status rgpu_status__ = (expr);    \
    if (!rgpu_status__.ok()) return rgpu_status__; \
  } while (0)
