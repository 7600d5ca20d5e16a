// Given/when/then tests of the identity deciders: customers, users with
// their sessions, API keys.
#include "domain/identity.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

constexpr int64_t kNow = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z
constexpr char kHash[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
const std::string kDigestA(32, 'a'), kDigestB(32, 'b'), kDigestC(32, 'c');

template <typename State, typename Event>
State Given(const std::vector<Event>& events) {
  State state;
  for (const auto& e : events) Apply(state, e);
  return state;
}

template <typename State, typename Command>
auto Then(const State& state, const Command& command, int64_t now = kNow) {
  auto events = Decide(state, command, {"user-1", now});
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  using Events = std::remove_reference_t<decltype(*events)>;
  return events.ok() ? *events : Events{};
}

UserCommand CreateUserCmd(PlatformRole role, const std::string& customer) {
  UserCommand c;
  c.mutable_create()->set_username("ada");
  c.mutable_create()->set_role(role);
  c.mutable_create()->set_customer_id(customer);
  c.mutable_create()->set_password_hash(kHash);
  return c;
}

UserCommand StartCmd(const std::string& session, const std::string& digest, int64_t expires) {
  UserCommand c;
  c.mutable_start_session()->set_session_id(session);
  c.mutable_start_session()->set_refresh_hash(digest);
  c.mutable_start_session()->set_expires_at_us(expires);
  return c;
}

UserCommand RefreshCmd(const std::string& session, const std::string& presented,
                       const std::string& next) {
  UserCommand c;
  c.mutable_refresh_session()->set_session_id(session);
  c.mutable_refresh_session()->set_presented_hash(presented);
  c.mutable_refresh_session()->set_new_refresh_hash(next);
  c.mutable_refresh_session()->set_expires_at_us(kNow + 1000);
  return c;
}

UserState UserWithSession() {
  UserState state;
  for (const auto& e : Then(UserState{}, CreateUserCmd(ROLE_CUSTOMER, "customer-1"))) {
    Apply(state, e);
  }
  for (const auto& e : Then(state, StartCmd("s1", kDigestA, kNow + 1000))) Apply(state, e);
  return state;
}

TEST(CustomerDeciderTest, CreateDisableEnable) {
  CustomerCommand create;
  create.mutable_create()->set_name("Acme AI");
  auto created = Then(CustomerState{}, create);
  ASSERT_EQ(created.size(), 1u);
  auto state = Given<CustomerState>(created);
  EXPECT_TRUE(state.enabled);
  EXPECT_EQ(Decide(state, create, {"customer-1", kNow}).status().code(),
            StatusCode::kAlreadyExists);
  CustomerCommand disable;
  disable.mutable_disable()->set_reason("unpaid");
  auto disabled = Then(state, disable);
  ASSERT_EQ(disabled.size(), 1u);
  Apply(state, disabled[0]);
  EXPECT_FALSE(state.enabled);
  EXPECT_TRUE(Then(state, disable).empty());  // Already disabled: nothing to say.
  CustomerCommand enable;
  enable.mutable_enable();
  ASSERT_EQ(Then(state, enable).size(), 1u);
  CustomerCommand nameless;
  nameless.mutable_create();
  EXPECT_EQ(Decide(CustomerState{}, nameless, {"customer-2", kNow}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(CustomerState{}, disable, {"customer-3", kNow}).status().code(),
            StatusCode::kNotFound);
}

TEST(UserDeciderTest, CreateChecksNameHashRoleAndCustomer) {
  EXPECT_EQ(Then(UserState{}, CreateUserCmd(ROLE_CUSTOMER, "customer-1")).size(), 1u);
  EXPECT_EQ(Then(UserState{}, CreateUserCmd(ROLE_ADMIN, "")).size(), 1u);
  auto refused = [](UserCommand c) {
    return Decide(UserState{}, c, {"user-1", kNow}).status().code();
  };
  EXPECT_EQ(refused(CreateUserCmd(ROLE_ADMIN, "customer-1")), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused(CreateUserCmd(ROLE_CUSTOMER, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused(CreateUserCmd(PLATFORM_ROLE_UNSPECIFIED, "")), StatusCode::kInvalidArgument);
  UserCommand clear = CreateUserCmd(ROLE_ADMIN, "");
  clear.mutable_create()->set_password_hash("hunter2hunter2");  // Never a clear password.
  EXPECT_EQ(refused(clear), StatusCode::kInvalidArgument);
  for (const char* bad : {"ab", "Ada", "1ada", "ada lovelace", "ada@x"}) {
    UserCommand c = CreateUserCmd(ROLE_ADMIN, "");
    c.mutable_create()->set_username(bad);
    EXPECT_EQ(refused(c), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UserDeciderTest, RefreshRotatesAndAReusedTokenEndsTheSession) {
  UserState state = UserWithSession();
  auto rotated = Then(state, RefreshCmd("s1", kDigestA, kDigestB));
  ASSERT_EQ(rotated.size(), 1u);
  ASSERT_TRUE(rotated[0].has_session_refreshed());
  Apply(state, rotated[0]);
  // The old token, presented again: theft; the session ends.
  auto reused = Then(state, RefreshCmd("s1", kDigestA, kDigestC));
  ASSERT_EQ(reused.size(), 1u);
  ASSERT_TRUE(reused[0].has_session_ended());
  EXPECT_EQ(reused[0].session_ended().reason(), "refresh token reused");
  Apply(state, reused[0]);
  EXPECT_EQ(Decide(state, RefreshCmd("s1", kDigestB, kDigestC), {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(UserDeciderTest, RefreshRefusesAWrongOrExpiredToken) {
  UserState state = UserWithSession();
  EXPECT_EQ(Decide(state, RefreshCmd("s1", kDigestC, kDigestB), {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      Decide(state, RefreshCmd("s1", kDigestA, kDigestB), {"user-1", kNow + 1000}).status().code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(Decide(state, RefreshCmd("s9", kDigestA, kDigestB), {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(UserDeciderTest, PasswordChangeAndDisablementEndEverySession) {
  UserState state = UserWithSession();
  for (const auto& e : Then(state, StartCmd("s2", kDigestB, kNow + 1000))) Apply(state, e);
  ASSERT_EQ(state.sessions.size(), 2u);
  UserCommand change;
  change.mutable_change_password()->set_password_hash(kHash);
  auto changed = Then(state, change);
  ASSERT_EQ(changed.size(), 3u);  // The change and two session ends.
  UserState after = state;
  for (const auto& e : changed) Apply(after, e);
  EXPECT_TRUE(after.sessions.empty());

  UserCommand disable;
  disable.mutable_disable()->set_reason("left");
  auto disabled = Then(state, disable);
  for (const auto& e : disabled) Apply(state, e);
  EXPECT_TRUE(state.disabled);
  EXPECT_TRUE(state.sessions.empty());
  EXPECT_EQ(Decide(state, StartCmd("s3", kDigestC, kNow + 1000), {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(UserDeciderTest, TooManySessionsEndTheOneClosestToExpiry) {
  UserState state = UserWithSession();  // s1 expires first.
  for (size_t i = 1; i < kMaxSessionsPerUser; ++i) {
    for (const auto& e : Then(state, StartCmd("s" + std::to_string(i + 1), kDigestB,
                                              kNow + 2000 + static_cast<int64_t>(i)))) {
      Apply(state, e);
    }
  }
  auto events = Then(state, StartCmd("new", kDigestC, kNow + 5000));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].session_ended().session_id(), "s1");
  EXPECT_TRUE(events[1].has_session_started());
}

TEST(ApiKeyDeciderTest, CreateValidatesAndRevokeIsFinal) {
  ApiKeyCommand create;
  create.mutable_create()->set_user_id("user-1");
  create.mutable_create()->set_name("ci");
  create.mutable_create()->set_secret_hash(kDigestA);
  auto created = Then(ApiKeyState{}, create);
  ASSERT_EQ(created.size(), 1u);
  auto state = Given<ApiKeyState>(created);
  ApiKeyCommand revoke;
  revoke.mutable_revoke()->set_reason("leaked");
  auto revoked = Then(state, revoke);
  ASSERT_EQ(revoked.size(), 1u);
  Apply(state, revoked[0]);
  EXPECT_TRUE(state.revoked);
  EXPECT_TRUE(Then(state, revoke).empty());
  ApiKeyCommand past = create;
  past.mutable_create()->set_expires_at_us(kNow - 1);
  EXPECT_EQ(Decide(ApiKeyState{}, past, {"apikey-1", kNow}).status().code(),
            StatusCode::kInvalidArgument);
  ApiKeyCommand short_hash = create;
  short_hash.mutable_create()->set_secret_hash("abc");
  EXPECT_EQ(Decide(ApiKeyState{}, short_hash, {"apikey-1", kNow}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PasswordResetDeciderTest, WrongCodesCountTheRightOneChangesThePasswordAndEndsSessions) {
  UserState state = UserWithSession();
  ASSERT_FALSE(state.sessions.empty());
  UserCommand request;
  request.mutable_request_password_reset()->set_code_hash(kHash);
  request.mutable_request_password_reset()->set_expires_at_us(kNow + 1000);
  for (const auto& e : Then(state, request)) Apply(state, e);
  UserCommand wrong;
  wrong.mutable_reset_password()->set_code_matches(false);
  for (int i = 0; i < kMaxResetFailures; ++i) {
    auto events = Then(state, wrong);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(events[0].has_reset_failed());
    Apply(state, events[0]);
  }
  UserCommand right;
  right.mutable_reset_password()->set_code_matches(true);
  right.mutable_reset_password()->set_password_hash(kHash);
  EXPECT_EQ(Decide(state, right, {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);  // Too many wrong codes.

  for (const auto& e : Then(state, request)) Apply(state, e);  // A new code.
  EXPECT_EQ(Decide(state, right, {"user-1", kNow + 1000}).status().code(),
            StatusCode::kFailedPrecondition);  // Expired.
  auto changed = Then(state, right);
  ASSERT_GE(changed.size(), 2u);
  EXPECT_TRUE(changed[0].password_changed().by_reset());
  EXPECT_TRUE(changed[1].has_session_ended());
  for (const auto& e : changed) Apply(state, e);
  EXPECT_TRUE(state.sessions.empty());
  EXPECT_EQ(Decide(state, right, {"user-1", kNow}).status().code(),
            StatusCode::kFailedPrecondition);  // Spent.
}

}  // namespace
}  // namespace remotegpu::domain
