#include "eventstore/key_format.h"

namespace remotegpu::eventstore::keys {

void AppendBigEndian64(std::string* out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (56 - 8 * i));
  out->append(bytes, 8);
}

uint64_t DecodeBigEndian64(std::string_view in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<unsigned char>(in[i]);
  return value;
}

std::string PositionKey(uint64_t position) {
  std::string key;
  AppendBigEndian64(&key, position);
  return key;
}

std::string StreamIndexPrefix(std::string_view stream_id) {
  std::string key(stream_id);
  key.push_back('\0');
  return key;
}

std::string StreamIndexKey(std::string_view stream_id, uint64_t version) {
  std::string key = StreamIndexPrefix(stream_id);
  AppendBigEndian64(&key, version);
  return key;
}

std::string EventIdValue(uint64_t position, uint64_t version) {
  std::string value;
  AppendBigEndian64(&value, position);
  AppendBigEndian64(&value, version);
  return value;
}

}  // namespace remotegpu::eventstore::keys
