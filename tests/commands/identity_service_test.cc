// The identity service over a real RocksDB store: customers, users, logins,
// refresh-token rotation, API keys, and what the log keeps of secrets.
#include "commands/identity_service.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "commands/credentials.h"
#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

constexpr char kPassword[] = "correct horse 42";

class IdentityServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    index_ = std::make_unique<IdentityIndex>();
    ASSERT_TRUE(index_->CatchUp(*store_).ok());
    identity_ = std::make_unique<IdentityService>(*store_, clock_, *index_, ids_, &outbox_);
    domain::CreateCustomer form;
    form.set_name("Acme AI");
    ASSERT_TRUE(identity_->CreateCustomer(form, domain::QUOTA_BASIC, meta_, &customer_).ok());
    auto user = identity_->CreateUser(
        {.username = "ada", .password = kPassword, .customer_id = customer_}, meta_, &user_);
    ASSERT_TRUE(user.ok()) << user.status().ToString();
  }
  void TearDown() override {
    identity_.reset();
    index_.reset();
    ServiceTest::TearDown();
  }

  Login LogIn() {
    auto login = identity_->LogIn("ada", kPassword, meta_);
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    return login.ok() ? *login : Login{};
  }

  // The code in the newest message sent.
  std::string LastCode() {
    const auto sent = outbox_.sent();
    if (sent.empty()) return "";
    const std::string& body = sent.back().body;
    const size_t at = body.find("code is ");
    return at == std::string::npos ? "" : body.substr(at + 8, 8);
  }

  SequentialIdGenerator ids_;
  MemoryNotificationSink outbox_;
  std::unique_ptr<IdentityIndex> index_;
  std::unique_ptr<IdentityService> identity_;
  std::string customer_, user_;
};

TEST_F(IdentityServiceTest, LogInChecksThePasswordAndSaysTheSameForAnUnknownName) {
  Login login = LogIn();
  EXPECT_EQ(login.principal.user_id, user_);
  EXPECT_EQ(login.principal.customer_id, customer_);
  EXPECT_FALSE(login.principal.admin);
  EXPECT_TRUE(index_->ForSession(user_, login.principal.session_id).ok());

  auto wrong = identity_->LogIn("ada", "wrong password 1", meta_);
  auto unknown = identity_->LogIn("nobody", kPassword, meta_);
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
}

TEST_F(IdentityServiceTest, RefreshRotatesAndAReusedTokenEndsTheSession) {
  Login login = LogIn();
  auto refreshed = identity_->Refresh(login.refresh_token, meta_);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status().ToString();
  EXPECT_NE(refreshed->refresh_token, login.refresh_token);
  // The first token again: refused, and the session (with the new token) ends.
  EXPECT_EQ(identity_->Refresh(login.refresh_token, meta_).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(identity_->Refresh(refreshed->refresh_token, meta_).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_FALSE(index_->ForSession(user_, login.principal.session_id).ok());
  EXPECT_EQ(identity_->Refresh("rt1.user-x.s.t", meta_).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(identity_->Refresh("garbage", meta_).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(IdentityServiceTest, LogOutAndExpiryEndTheSession) {
  Login login = LogIn();
  ASSERT_TRUE(identity_->LogOut(user_, login.principal.session_id, meta_).ok());
  EXPECT_FALSE(index_->ForSession(user_, login.principal.session_id).ok());
  EXPECT_EQ(identity_->Refresh(login.refresh_token, meta_).status().code(),
            StatusCode::kUnauthenticated);
  Login later = LogIn();
  clock_.Advance(kRefreshLifetimeUs);
  EXPECT_EQ(identity_->Refresh(later.refresh_token, meta_).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(IdentityServiceTest, DisablingTheCustomerStopsLoginsSessionsAndKeysAtOnce) {
  Login login = LogIn();
  auto key = identity_->CreateApiKey(user_, "ci", 0, "", meta_);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(identity_->AuthenticateApiKey(key->key).ok());
  ASSERT_TRUE(identity_->SetCustomerEnabled(customer_, false, "unpaid", meta_).ok());
  EXPECT_FALSE(index_->ForSession(user_, login.principal.session_id).ok());
  EXPECT_EQ(identity_->AuthenticateApiKey(key->key).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(identity_->LogIn("ada", kPassword, meta_).status().code(),
            StatusCode::kUnauthenticated);
  ASSERT_TRUE(identity_->SetCustomerEnabled(customer_, true, "", meta_).ok());
  EXPECT_TRUE(index_->ForSession(user_, login.principal.session_id).ok());
  EXPECT_TRUE(identity_->AuthenticateApiKey(key->key).ok());
}

TEST_F(IdentityServiceTest, ApiKeysAreShownOnceStoredAsDigestsAndRevocable) {
  auto key = identity_->CreateApiKey(user_, "ci", clock_.NowMicros() + 1'000'000, "", meta_);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->key.starts_with(key->info.prefix + "."));
  auto principal = identity_->AuthenticateApiKey(key->key);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->user_id, user_);
  EXPECT_EQ(principal->api_key_id, key->info.key_id);
  // A changed secret, a malformed key, an expired key, a revoked key.
  std::string tampered = key->key;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(identity_->AuthenticateApiKey(tampered).ok());
  EXPECT_FALSE(identity_->AuthenticateApiKey("rgk.nope").ok());
  clock_.Advance(1'000'000);
  EXPECT_EQ(identity_->AuthenticateApiKey(key->key).status().message(), "the API key has expired");
  auto second = identity_->CreateApiKey(user_, "deploy", 0, "", meta_);
  ASSERT_TRUE(identity_->RevokeApiKey(second->info.key_id, "rotated", meta_).ok());
  EXPECT_EQ(identity_->AuthenticateApiKey(second->key).status().message(),
            "the API key was deleted");
  EXPECT_EQ(index_->ApiKeysOf(user_).size(), 2u);
}

TEST_F(IdentityServiceTest, PasswordChangeNeedsTheOldOneAndEndsSessions) {
  Login login = LogIn();
  EXPECT_EQ(identity_->ChangePassword(user_, "wrong password 1", "new password 99", false, meta_)
                .status()
                .code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(identity_->ChangePassword(user_, kPassword, "short1", false, meta_).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(identity_->ChangePassword(user_, kPassword, "new password 99", false, meta_).ok());
  EXPECT_FALSE(index_->ForSession(user_, login.principal.session_id).ok());
  EXPECT_FALSE(identity_->LogIn("ada", kPassword, meta_).ok());
  EXPECT_TRUE(identity_->LogIn("ada", "new password 99", meta_).ok());
}

TEST_F(IdentityServiceTest, PasswordResetWithAOneTimeCodeEndsSessions) {
  const Login before = LogIn();
  ASSERT_TRUE(identity_->RequestPasswordReset("ada", meta_).ok());
  ASSERT_EQ(outbox_.sent().size(), 1u);
  EXPECT_EQ(outbox_.sent()[0].user_id, user_);
  const std::string code = LastCode();
  ASSERT_EQ(code.size(), 8u);
  // An unknown name gets the same answer and nothing is sent.
  ASSERT_TRUE(identity_->RequestPasswordReset("nobody", meta_).ok());
  EXPECT_EQ(outbox_.sent().size(), 1u);

  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  EXPECT_EQ(identity_->ResetPassword("ada", wrong, "a new password 9", meta_).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(identity_->ResetPassword("ada", code, "short", meta_).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(identity_->ResetPassword("ada", code, "a new password 9", meta_).ok());
  // Every session ended; the new password works, the old does not; the code is spent.
  EXPECT_FALSE(index_->ForSession(user_, before.principal.session_id).ok());
  EXPECT_EQ(identity_->Refresh(before.refresh_token, meta_).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_FALSE(identity_->LogIn("ada", kPassword, meta_).ok());
  EXPECT_TRUE(identity_->LogIn("ada", "a new password 9", meta_).ok());
  EXPECT_EQ(identity_->ResetPassword("ada", code, "another password 9", meta_).code(),
            StatusCode::kUnauthenticated);
}

TEST_F(IdentityServiceTest, ResetCodesExpireAndDieAfterTooManyWrongTries) {
  ASSERT_TRUE(identity_->RequestPasswordReset("ada", meta_).ok());
  std::string code = LastCode();
  clock_.Advance(kResetCodeLifetimeUs);
  EXPECT_EQ(identity_->ResetPassword("ada", code, "a new password 9", meta_).code(),
            StatusCode::kUnauthenticated);

  ASSERT_TRUE(identity_->RequestPasswordReset("ada", meta_).ok());
  code = LastCode();
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  for (int i = 0; i < domain::kMaxResetFailures; ++i) {
    EXPECT_EQ(identity_->ResetPassword("ada", wrong, "a new password 9", meta_).code(),
              StatusCode::kUnauthenticated);
  }
  // Guessing is over: even the right code no longer works.
  EXPECT_EQ(identity_->ResetPassword("ada", code, "a new password 9", meta_).code(),
            StatusCode::kUnauthenticated);
  EXPECT_TRUE(identity_->LogIn("ada", kPassword, meta_).ok());
  // The log holds the code's argon2id hash, never the code.
  auto events = store_->ReadAll(1, 10'000);
  ASSERT_TRUE(events.ok());
  for (const auto& recorded : *events) {
    EXPECT_EQ(recorded.data.payload.find(code), std::string::npos) << recorded.stream_id;
  }
}

TEST_F(IdentityServiceTest, RacingCreationsOfOneUsernameMakeOneUser) {
  std::atomic<int> created{0}, taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::string id;
      auto result = identity_->CreateUser(
          {.username = "grace", .password = kPassword, .customer_id = customer_}, meta_, &id);
      if (result.ok()) ++created;
      if (result.status().code() == StatusCode::kAlreadyExists) ++taken;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(taken, 7);
}

TEST_F(IdentityServiceTest, TheLogHoldsNoClearPasswordOrTokenAndAFreshIndexAgrees) {
  Login login = LogIn();
  auto key = identity_->CreateApiKey(user_, "ci", 0, "", meta_);
  ASSERT_TRUE(key.ok());
  const std::string key_secret = key->key.substr(key->key.rfind('.') + 1);
  const std::string refresh_secret = login.refresh_token.substr(login.refresh_token.rfind('.') + 1);
  auto events = store_->ReadAll(1, 100000);
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    EXPECT_EQ(e.data.payload.find(kPassword), std::string::npos) << e.data.type;
    EXPECT_EQ(e.data.payload.find(key_secret), std::string::npos) << e.data.type;
    EXPECT_EQ(e.data.payload.find(refresh_secret), std::string::npos) << e.data.type;
  }
  // An index built from the log alone knows the same.
  IdentityIndex fresh;
  ASSERT_TRUE(fresh.CatchUp(*store_).ok());
  EXPECT_TRUE(fresh.ForSession(user_, login.principal.session_id).ok());
  EXPECT_TRUE(fresh.ForApiKey(key->info.key_id, SecretDigest(key_secret), clock_.NowMicros()).ok());
  EXPECT_EQ(fresh.UserIdByName("ada"), user_);
}

TEST_F(IdentityServiceTest, EnsureAdminCreatesOneAdminOnce) {
  auto first = identity_->EnsureAdmin("");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  const std::string password = **first;
  auto login = identity_->LogIn("admin", password, meta_);
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(login->principal.admin);
  auto second = identity_->EnsureAdmin("");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
}

}  // namespace
}  // namespace remotegpu::commands
