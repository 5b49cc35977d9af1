#include "common/security/password.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "common/security/encoding.hpp"

namespace shopeasy::security {
namespace {

const PasswordParams kWeak = PasswordParams::weak();

TEST(PasswordTest, HashVerifiesTheRightPasswordOnly) {
  auto hash = hash_password("correct horse battery staple", kWeak);
  ASSERT_TRUE(hash.ok()) << hash.status().to_string();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << *hash;

  auto good = verify_password("correct horse battery staple", *hash);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(*good);
  for (const char* wrong : {"correct horse battery stapl", "Correct horse battery staple",
                            "correct horse battery staple ", "x"}) {
    auto bad = verify_password(wrong, *hash);
    ASSERT_TRUE(bad.ok());
    EXPECT_FALSE(*bad) << wrong;
  }
}

TEST(PasswordTest, SaltsDiffer) {
  auto a = hash_password("same password", kWeak);
  auto b = hash_password("same password", kWeak);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*verify_password("same password", *b));
}

TEST(PasswordTest, RefusesEmptyAndOverlongPasswords) {
  EXPECT_EQ(hash_password("", kWeak).status().code(), StatusCode::kInvalidArgument);
  const std::string longest(kMaxPasswordBytes, 'p');
  auto ok = hash_password(longest, kWeak);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(*verify_password(longest, *ok));
  auto too_long = hash_password(longest + "p", kWeak);
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_long.status().field(), "password");
  // Verifying never accepts them, even against a hash made of a prefix.
  EXPECT_FALSE(*verify_password("", *ok));
  EXPECT_FALSE(*verify_password(longest + "p", *ok));
}

TEST(PasswordTest, PasswordsMayContainAnyBytes) {
  const std::string pw("p\0\xff\xfe w\xc3\xa4rd", 10);
  auto hash = hash_password(pw, kWeak);
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(*verify_password(pw, *hash));
  EXPECT_FALSE(*verify_password(pw.substr(0, 1), *hash)) << "NUL must not truncate";
}

TEST(PasswordTest, RejectsMalformedOrHostileHashStrings) {
  auto hash = hash_password("pw", kWeak);
  ASSERT_TRUE(hash.ok());
  const std::string salt_and_hash = hash->substr(hash->find("$", 20));
  const std::string bad[] = {
      "",
      "plaintext",
      "$argon2i$v=19$m=64,t=1,p=1" + salt_and_hash,        // other variant
      "$argon2id$v=16$m=64,t=1,p=1" + salt_and_hash,       // old version
      "$argon2id$v=19$m=064,t=1,p=1" + salt_and_hash,      // leading zero
      "$argon2id$v=19$t=1,m=64,p=1" + salt_and_hash,       // wrong order
      "$argon2id$v=19$m=64,t=1" + salt_and_hash,           // missing p
      "$argon2id$v=19$m=64,t=0,p=1" + salt_and_hash,       // zero passes
      "$argon2id$v=19$m=4194304,t=1,p=1" + salt_and_hash,  // 4 GiB of memory
      "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",         // salt and hash too short
      "$argon2id$v=19$m=64,t=1,p=1$!!!!$aGFzaA",
      *hash + "$extra",
  };
  for (const auto& s : bad) {
    auto r = verify_password("pw", s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(needs_rehash(s, kWeak)) << s;
  }
}

TEST(PasswordTest, TamperedHashDoesNotVerify) {
  auto hash = hash_password("pw", kWeak);
  ASSERT_TRUE(hash.ok());
  std::string tampered = *hash;
  char& last = tampered[tampered.size() - 2];
  last = last == 'A' ? 'B' : 'A';
  auto r = verify_password("pw", tampered);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(*r);
}

TEST(PasswordTest, NeedsRehashWhenParametersChange) {
  auto hash = hash_password("pw", kWeak);
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(needs_rehash(*hash, kWeak));
  PasswordParams stronger = kWeak;
  stronger.time_cost = 2;
  EXPECT_TRUE(needs_rehash(*hash, stronger));
  // The old hash still verifies after the parameters are raised.
  EXPECT_TRUE(*verify_password("pw", *hash));
}

TEST(PasswordTest, ValidatesParameters) {
  PasswordParams p = kWeak;
  p.memory_kib = 4;
  EXPECT_EQ(hash_password("pw", p).status().field(), "memory_kib");
  p = kWeak;
  p.salt_bytes = 4;
  EXPECT_EQ(hash_password("pw", p).status().field(), "salt_bytes");
  p = kWeak;
  p.time_cost = 0;
  EXPECT_EQ(p.validate().field(), "time_cost");
  EXPECT_TRUE(PasswordParams{}.validate().is_ok());
}

// The production parameters: prints the cost so it can be checked on the target box.
TEST(PasswordTest, DefaultParametersRoundTrip) {
  const auto start = std::chrono::steady_clock::now();
  auto hash = hash_password("a real password");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *hash;
  EXPECT_TRUE(*verify_password("a real password", *hash));
  std::cout << "[ info ] one default Argon2id hash took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
}

}  // namespace
}  // namespace shopeasy::security
