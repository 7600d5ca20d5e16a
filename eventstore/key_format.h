// The RocksDB layout of the event log. Every integer in a key or value is
// unsigned 64-bit big-endian, so RocksDB's bytewise order is numeric order.
// See key_format.md beside this file for the same with examples.
//
//  column family   key                                   value
//  -------------   -----------------------------------   ---------------------------------
//  default         "format_version"                      "1"
//  log             position                              Envelope (protobuf, hash set)
//  stream_index    stream_id ‖ 0x00 ‖ version            position
//  event_ids       event_id (16 raw bytes)               position ‖ version
//  snapshots       stream_id                             version ‖ state bytes
//  checkpoints     name                                  position
//
// Stream ids never contain 0x00 (ValidateStreamId), so one stream's index
// entries are contiguous and sorted by version, and "host-1" sorts before
// "host-10". One WriteBatch writes the log, index, heads and ids of a
// group commit together: after any crash they agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace remotegpu::eventstore::keys {

inline constexpr char kFormatVersionKey[] = "format_version";
inline constexpr char kFormatVersion[] = "1";

inline constexpr char kLogFamily[] = "log";
inline constexpr char kStreamIndexFamily[] = "stream_index";
inline constexpr char kEventIdsFamily[] = "event_ids";
inline constexpr char kSnapshotsFamily[] = "snapshots";
inline constexpr char kCheckpointsFamily[] = "checkpoints";

void AppendBigEndian64(std::string* out, uint64_t value);
// Reads 8 bytes; `in` must hold at least 8.
uint64_t DecodeBigEndian64(std::string_view in);

std::string PositionKey(uint64_t position);
std::string StreamIndexKey(std::string_view stream_id, uint64_t version);
// Every index key of the stream starts with this.
std::string StreamIndexPrefix(std::string_view stream_id);
std::string EventIdValue(uint64_t position, uint64_t version);

}  // namespace remotegpu::eventstore::keys
