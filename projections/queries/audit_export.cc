#include "projections/queries/audit_export.h"

#include <sstream>

#include "common/csv.h"
#include "projections/queries/event_json.h"
#include "projections/queries/stream_state.h"

namespace remotegpu::queries {
namespace {

std::string Hex(const Sha256Digest& digest) { return ToHex(DigestBytes(digest)); }

}  // namespace

bool AuditFilter::Matches(const eventstore::RecordedEvent& event) const {
  return event.global_position >= from_position && event.global_position <= to_position &&
         event.recorded_at_us >= from_time_us && event.recorded_at_us <= to_time_us &&
         (types.empty() || types.count(event.data.type) > 0) &&
         event.stream_id.starts_with(stream_prefix) &&
         (actor.empty() || event.data.actor.id == actor);
}

Result<AuditFilter> ParseAuditFilter(const std::string& from, const std::string& to,
                                     const std::string& types, const std::string& stream_prefix,
                                     const std::string& actor) {
  AuditFilter filter;
  for (const auto& [name, text, is_from] :
       {std::tuple{"from", &from, true}, std::tuple{"to", &to, false}}) {
    if (text->empty()) continue;
    auto moment = ParseMoment(*text);
    if (!moment.ok() || moment->max_version != std::numeric_limits<uint64_t>::max()) {
      return Status::InvalidArgument(std::string(name) +
                                     " must be a log position or an RFC 3339 time");
    }
    if (moment->max_position != std::numeric_limits<uint64_t>::max()) {
      (is_from ? filter.from_position : filter.to_position) = moment->max_position;
    } else {
      (is_from ? filter.from_time_us : filter.to_time_us) = moment->max_time_us;
    }
  }
  std::stringstream list(types);
  for (std::string type; std::getline(list, type, ',');) {
    if (!type.empty()) filter.types.insert(type);
  }
  filter.stream_prefix = stream_prefix;
  filter.actor = actor;
  return filter;
}

Result<AuditFormat> ParseAuditFormat(const std::string& name) {
  if (name == "jsonl") return AuditFormat::kJsonLines;
  if (name == "csv") return AuditFormat::kCsv;
  return Status::InvalidArgument("format must be jsonl or csv");
}

AuditWriter::AuditWriter(AuditFormat format, Sink sink) : format_(format), sink_(std::move(sink)) {
  if (format_ == AuditFormat::kCsv) {
    Line(
        "position,recorded_at,occurred_at,stream_id,stream_version,type,actor_kind,actor_id,"
        "correlation_id,causation_id,trace_id,event_id,data,prev_hash,hash");
  }
}

void AuditWriter::Line(const std::string& line) {
  chain_ = Sha256(DigestBytes(chain_), line);
  sink_(line);
  sink_("\n");
}

void AuditWriter::Write(const eventstore::RecordedEvent& event) {
  const nlohmann::json json = EventJson(event);
  if (format_ == AuditFormat::kJsonLines) {
    Line(json.dump());
  } else {
    std::string row;
    for (const char* key :
         {"position", "recorded_at", "occurred_at", "stream_id", "stream_version", "type"}) {
      const auto& value = json[key];
      row += CsvField(value.is_string() ? value.get<std::string>() : value.dump()) + ",";
    }
    row += CsvField(json["actor"]["kind"]) + "," + CsvField(json["actor"]["id"]) + ",";
    for (const char* key : {"correlation_id", "causation_id", "trace_id", "event_id"}) {
      row += CsvField(json[key].get<std::string>()) + ",";
    }
    row += CsvField(json["data"].dump()) + "," + json["prev_hash"].get<std::string>() + "," +
           json["hash"].get<std::string>();
    Line(row);
  }
  if (count_++ == 0) first_position_ = event.global_position;
  last_position_ = event.global_position;
}

void AuditWriter::Finish(const eventstore::RecordedEvent* log_last) {
  const uint64_t log_position = log_last == nullptr ? 0 : log_last->global_position;
  const std::string head = log_last == nullptr ? Hex(Sha256Digest{}) : Hex(log_last->hash);
  if (format_ == AuditFormat::kJsonLines) {
    const nlohmann::json trailer = {{"trailer",
                                     {{"count", count_},
                                      {"first_position", first_position_},
                                      {"last_position", last_position_},
                                      {"log_last_position", log_position},
                                      {"log_chain_head", head},
                                      {"lines_sha256", Hex(chain_)}}}};
    sink_(trailer.dump() + "\n");
  } else {
    sink_("#trailer,count=" + std::to_string(count_) + ",first_position=" +
          std::to_string(first_position_) + ",last_position=" + std::to_string(last_position_) +
          ",log_last_position=" + std::to_string(log_position) + ",log_chain_head=" + head +
          ",lines_sha256=" + Hex(chain_) + "\n");
  }
}

Status AuditWriter::Finish(eventstore::EventStore& store, uint64_t log_last_position) {
  if (log_last_position == 0) {
    Finish(nullptr);
    return Status::Ok();
  }
  auto events = store.ReadAll(log_last_position, 1);
  if (!events.ok()) return events.status();
  Finish(events->empty() ? nullptr : &(*events)[0]);
  return Status::Ok();
}

Result<uint64_t> ExportEvents(eventstore::EventStore& store, const AuditFilter& filter,
                              AuditWriter& writer, uint64_t limit,
                              const std::function<void(uint64_t)>& progress) {
  uint64_t position = std::max<uint64_t>(filter.from_position, 1);
  uint64_t written = 0;
  while (position <= filter.to_position) {
    auto batch = store.ReadAll(position, 4096);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (const auto& event : *batch) {
      if (event.global_position > filter.to_position) return uint64_t{0};
      if (limit != 0 && written == limit) return event.global_position;
      if (filter.Matches(event)) {
        writer.Write(event);
        ++written;
      }
      position = event.global_position + 1;
    }
    if (progress) progress(position - 1);
  }
  return uint64_t{0};
}

}  // namespace remotegpu::queries
