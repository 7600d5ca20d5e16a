#include "common/sha256.h"

#include <gtest/gtest.h>

namespace remotegpu {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(ToHex(DigestBytes(Sha256(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(DigestBytes(Sha256("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, TwoPartsHashLikeTheirConcatenation) {
  EXPECT_EQ(Sha256("ab", "c"), Sha256("abc"));
}

}  // namespace
}  // namespace remotegpu
