#include "eventstore/log_verifier.h"

#include <string>
#include <unordered_map>

#include "eventstore/envelope_codec.h"

namespace remotegpu::eventstore {

Result<VerifyReport> VerifyLog(EventStore& store, const std::function<void(uint64_t)>& progress) {
  constexpr size_t kChunk = 4096;
  VerifyReport report;
  std::unordered_map<std::string, uint64_t> stream_versions;
  uint64_t expected_position = 1;
  while (true) {
    auto chunk = store.ReadAll(expected_position, kChunk);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) break;
    for (const RecordedEvent& event : *chunk) {
      const std::string at = "position " + std::to_string(expected_position) + ": ";
      if (event.global_position != expected_position) {
        return Status::Corruption(at + "found position " + std::to_string(event.global_position) +
                                  " (a gap in the log)");
      }
      if (event.prev_hash != report.chain_head) {
        return Status::Corruption(at + "prev_hash does not match the previous event's hash");
      }
      if (ComputeEventHash(event) != event.hash) {
        return Status::Corruption(at + "hash does not match the event's contents");
      }
      uint64_t& version = stream_versions[event.stream_id];
      if (event.stream_version != version + 1) {
        return Status::Corruption(at + "stream " + event.stream_id + " jumps from version " +
                                  std::to_string(version) + " to " +
                                  std::to_string(event.stream_version));
      }
      version = event.stream_version;
      report.chain_head = event.hash;
      ++report.events;
      ++expected_position;
    }
    if (progress) progress(report.events);
  }
  report.streams = stream_versions.size();
  return report;
}

}  // namespace remotegpu::eventstore
