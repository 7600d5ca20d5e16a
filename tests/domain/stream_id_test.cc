#include "domain/stream_id.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

TEST(StreamId, EachKindIsToldByItsPrefixAndBack) {
  for (StreamKind kind :
       {StreamKind::kHost, StreamKind::kEnvironment, StreamKind::kLease, StreamKind::kPolicy,
        StreamKind::kCustomer, StreamKind::kUser, StreamKind::kUsername, StreamKind::kApiKey,
        StreamKind::kQuota, StreamKind::kWorkspace, StreamKind::kSpec, StreamKind::kRates,
        StreamKind::kBill, StreamKind::kAccount, StreamKind::kPayment, StreamKind::kInvoice}) {
    const std::string id = std::string(PrefixOf(kind)) + "0193-abc";
    EXPECT_FALSE(PrefixOf(kind).empty());
    EXPECT_EQ(KindOf(id), kind) << id;
    EXPECT_TRUE(IsKind(id, kind)) << id;
  }
}

TEST(StreamId, PrefixesThatLookAlikeAreNotConfused) {
  EXPECT_EQ(KindOf("username-alice"), StreamKind::kUsername);
  EXPECT_EQ(KindOf("user-01"), StreamKind::kUser);
  EXPECT_EQ(KindOf("hostile-1"), StreamKind::kUnknown);  // "host" without the dash.
  EXPECT_EQ(KindOf("host"), StreamKind::kUnknown);
  EXPECT_EQ(KindOf(""), StreamKind::kUnknown);
  EXPECT_EQ(KindOf("Host-1"), StreamKind::kUnknown);  // Prefixes are lower case.
  EXPECT_EQ(PrefixOf(StreamKind::kUnknown), "");
}

}  // namespace
}  // namespace remotegpu::domain
