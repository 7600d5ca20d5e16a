#include "commands/secrets.h"

#include <gtest/gtest.h>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

TEST(SecretsTest, SealedSecretsOpenOnlyWithTheirKeyAndContext) {
  testing::TempDir dir;
  FileDataKeyStore keys(dir.Sub("keys"));
  auto acme = keys.KeyFor("acme");
  ASSERT_TRUE(acme.ok()) << acme.status().ToString();
  EXPECT_EQ(keys.KeyFor("acme")->key, acme->key);  // Stable per tenant.
  auto globex = keys.KeyFor("globex");
  EXPECT_NE(globex->key, acme->key);

  auto sealed = Seal(*acme, "s3cret-pass", "env-1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("s3cret-pass"), std::string::npos);
  EXPECT_EQ(*Unseal(*acme, *sealed, "env-1"), "s3cret-pass");
  EXPECT_EQ(Unseal(*acme, *sealed, "env-2").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Unseal(*globex, *sealed, "env-1").status().code(), StatusCode::kCorruption);
  std::string tampered = *sealed;
  tampered[14] ^= 1;
  EXPECT_EQ(Unseal(*acme, tampered, "env-1").status().code(), StatusCode::kCorruption);
}

TEST(SecretsTest, ShreddingAKeyMakesItsSecretsUnreadable) {
  testing::TempDir dir;
  FileDataKeyStore keys(dir.Sub("keys"));
  auto key = keys.KeyFor("acme");
  ASSERT_TRUE(keys.Shred("acme").ok());
  EXPECT_EQ(keys.KeyById(key->key_id).status().code(), StatusCode::kNotFound);
  EXPECT_NE(keys.KeyFor("acme")->key, key->key);  // A new key, not the old one back.
}

TEST(SecretsTest, PasswordsAreLongRandomAndUnambiguous) {
  std::string a = GeneratePassword(), b = GeneratePassword();
  EXPECT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
  for (char c : a + b) EXPECT_EQ(std::string("0O1lI").find(c), std::string::npos) << c;
}

using AccessInfoTest = ServiceTest;

TEST_F(AccessInfoTest, PlacementRecordsSshAccessWithTheSealedPasswordOnly) {
  FileDataKeyStore keys(dir_.Sub("keys"));
  EnvironmentService service(*store_, clock_, *index_, *host_cache_, *env_cache_, host_locks_,
                             {.keys = &keys, .ssh_user = "gpu"});
  RegisterHost("host-1", 2);
  auto placed = service.Create("env-1", Spec(1), meta_);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  auto env = env_cache_->Load("env-1");
  const domain::AccessInfo& access = env->state.access;
  EXPECT_EQ(access.ssh_host(), "10.0.0.1");
  EXPECT_EQ(access.ssh_port(), placed->placement.ports(0).port());
  EXPECT_EQ(access.ssh_user(), "gpu");
  auto key = keys.KeyById(access.key_id());
  ASSERT_TRUE(key.ok());
  auto password = Unseal(*key, access.encrypted_password(), "env-1");
  ASSERT_TRUE(password.ok());
  EXPECT_EQ(password->size(), 20u);

  // The password never appears in clear anywhere in the log.
  auto all = store_->ReadAll(1, 1000);
  for (const auto& event : *all) {
    EXPECT_EQ(event.data.payload.find(*password), std::string::npos) << event.data.type;
  }
  // Shredding the owner's key leaves the log intact but the secret unreadable.
  ASSERT_TRUE(keys.Shred("acme").ok());
  EXPECT_FALSE(keys.KeyById(access.key_id()).ok());
}

}  // namespace
}  // namespace remotegpu::commands
