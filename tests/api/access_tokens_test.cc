// Access tokens on a manual clock: issue and verify, expiry, tampering,
// foreign keys and key rotation.
#include "api/http/access_tokens.h"

#include <gtest/gtest.h>

#include "commands/credentials.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {
namespace {

TEST(AccessTokensTest, VerifiesWhatItIssuedUntilItExpires) {
  testing::TempDir dir;
  ManualClock clock(1'767'225'600'000'000);
  auto tokens = AccessTokens::Open(dir.Sub("jwt"), clock);
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  const std::string token = (*tokens)->Issue("user-1", "s1");
  auto claims = (*tokens)->Verify(token);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->user_id, "user-1");
  EXPECT_EQ(claims->session_id, "s1");
  clock.Advance((AccessTokens::kLifetimeSeconds - 1) * 1'000'000);
  EXPECT_TRUE((*tokens)->Verify(token).ok());
  clock.Advance(1'000'000);
  EXPECT_EQ((*tokens)->Verify(token).status().code(), StatusCode::kUnauthenticated);
}

TEST(AccessTokensTest, RefusesTamperedForeignAndUnsignedTokens) {
  testing::TempDir dir;
  ManualClock clock(1'767'225'600'000'000);
  auto ours = AccessTokens::Open(dir.Sub("ours"), clock);
  auto theirs = AccessTokens::Open(dir.Sub("theirs"), clock);
  ASSERT_TRUE(ours.ok() && theirs.ok());
  const std::string token = (*ours)->Issue("user-1", "s1");
  // Claims changed to another user, signature kept.
  const size_t first = token.find('.'), second = token.find('.', first + 1);
  const std::string forged_claims =
      commands::Base64UrlEncode(R"({"sub":"user-2","sid":"s1","iat":1767225600,"exp":1767226500})");
  EXPECT_FALSE(
      (*ours)->Verify(token.substr(0, first + 1) + forged_claims + token.substr(second)).ok());
  EXPECT_FALSE((*ours)->Verify((*theirs)->Issue("user-1", "s1")).ok());  // Unknown key.
  const std::string unsigned_token = commands::Base64UrlEncode(R"({"alg":"none","kid":"x"})") +
                                     "." + token.substr(first + 1, second - first - 1) + ".";
  EXPECT_FALSE((*ours)->Verify(unsigned_token).ok());
  EXPECT_FALSE((*ours)->Verify("").ok());
  EXPECT_FALSE((*ours)->Verify("a.b.c.d").ok());
}

TEST(AccessTokensTest, RotationKeepsOlderTokensValidAndSurvivesAReopen) {
  testing::TempDir dir;
  ManualClock clock(1'767'225'600'000'000);
  auto tokens = AccessTokens::Open(dir.Sub("jwt"), clock);
  ASSERT_TRUE(tokens.ok());
  const std::string before = (*tokens)->Issue("user-1", "s1");
  ASSERT_TRUE((*tokens)->Rotate().ok());
  const std::string after = (*tokens)->Issue("user-1", "s2");
  EXPECT_NE(before.substr(0, before.find('.')), after.substr(0, after.find('.')));  // New kid.
  auto reopened = AccessTokens::Open(dir.Sub("jwt"), clock);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Verify(before).ok());
  EXPECT_TRUE((*reopened)->Verify(after).ok());
}

}  // namespace
}  // namespace remotegpu::api
