// The audit export: events of the log that pass a filter, written as JSON
// lines or CSV in constant memory, ended by a trailer a reader can check.
//
// JSON lines: one EventJson object per line, then
//   {"trailer":{"count":N,"first_position":P,"last_position":Q,
//               "log_last_position":L,"log_chain_head":"<hex>",
//               "lines_sha256":"<hex>"}}
// CSV: a header row, one row per event (data as JSON text), then a last row
//   #trailer,count=N,first_position=P,last_position=Q,log_last_position=L,
//   log_chain_head=<hex>,lines_sha256=<hex>
// lines_sha256 chains the lines before the trailer: h0 = 32 zero bytes,
// h(i) = SHA-256(h(i-1) || line(i) without its newline). A cut or edited file
// no longer matches it; each event also carries prev_hash and hash, which
// link consecutive positions (an unfiltered export is one unbroken chain
// ending at log_chain_head). Secrets stay sealed: the payloads hold them
// encrypted, as the log does.
#pragma once

#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include "common/sha256.h"
#include "eventstore/event_store.h"

namespace remotegpu::queries {

struct AuditFilter {
  uint64_t from_position = 1;
  uint64_t to_position = std::numeric_limits<uint64_t>::max();
  UnixMicros from_time_us = std::numeric_limits<UnixMicros>::min();
  UnixMicros to_time_us = std::numeric_limits<UnixMicros>::max();
  std::set<std::string> types;  // Empty: every type.
  std::string stream_prefix;
  std::string actor;  // Actor id; empty: anyone.

  bool Matches(const eventstore::RecordedEvent& event) const;
};

// `from` and `to` are each empty, a log position or an RFC 3339 time (both
// ends inclusive); `types` a comma-separated list. InvalidArgument naming the
// parameter otherwise.
Result<AuditFilter> ParseAuditFilter(const std::string& from, const std::string& to,
                                     const std::string& types, const std::string& stream_prefix,
                                     const std::string& actor);

enum class AuditFormat { kJsonLines, kCsv };
Result<AuditFormat> ParseAuditFormat(const std::string& name);  // "jsonl" or "csv".

class AuditWriter {
 public:
  using Sink = std::function<void(std::string_view)>;
  AuditWriter(AuditFormat format, Sink sink);

  void Write(const eventstore::RecordedEvent& event);
  // Writes the trailer; `log_last` is the log's last event (its position and
  // hash), or null for an empty log.
  void Finish(const eventstore::RecordedEvent* log_last);
  // The same with the event at `log_last_position` read from `store`
  // (0: an empty log).
  Status Finish(eventstore::EventStore& store, uint64_t log_last_position);
  uint64_t count() const { return count_; }

 private:
  void Line(const std::string& line);

  AuditFormat format_;
  Sink sink_;
  Sha256Digest chain_{};
  uint64_t count_ = 0;
  uint64_t first_position_ = 0;
  uint64_t last_position_ = 0;
};

// Reads the log from filter.from_position in batches and writes every event
// that passes to `writer`, stopping after `limit` events (0: no limit).
// `progress` (may be empty) sees the position reached now and then. Returns
// the position to continue from (0 when the log was read to the end or to
// filter.to_position).
Result<uint64_t> ExportEvents(eventstore::EventStore& store, const AuditFilter& filter,
                              AuditWriter& writer, uint64_t limit = 0,
                              const std::function<void(uint64_t position)>& progress = nullptr);

}  // namespace remotegpu::queries
