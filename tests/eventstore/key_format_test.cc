#include "eventstore/key_format.h"

#include <gtest/gtest.h>

namespace remotegpu::eventstore::keys {
namespace {

TEST(KeyFormatTest, PositionKeysSortNumerically) {
  EXPECT_LT(PositionKey(1), PositionKey(2));
  EXPECT_LT(PositionKey(255), PositionKey(256));
  EXPECT_LT(PositionKey(0xffffffff), PositionKey(0x100000000));
  EXPECT_EQ(PositionKey(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
}

TEST(KeyFormatTest, BigEndianRoundTrip) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40, UINT64_MAX}) {
    EXPECT_EQ(DecodeBigEndian64(PositionKey(v)), v);
  }
}

TEST(KeyFormatTest, OneStreamsIndexIsContiguousAndSortedByVersion) {
  // "host-1" must not interleave with "host-10" however many versions it has.
  EXPECT_LT(StreamIndexKey("host-1", 1), StreamIndexKey("host-1", 2));
  EXPECT_LT(StreamIndexKey("host-1", 1000000), StreamIndexKey("host-10", 1));
  EXPECT_TRUE(StreamIndexKey("host-1", 7).starts_with(StreamIndexPrefix("host-1")));
  EXPECT_FALSE(StreamIndexKey("host-10", 7).starts_with(StreamIndexPrefix("host-1")));
}

}  // namespace
}  // namespace remotegpu::eventstore::keys
