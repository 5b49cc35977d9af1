#include "common/security/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/security/encoding.hpp"

namespace shopeasy::security {
namespace {

using std::chrono::seconds;

const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256-test-secret";
const std::string kOtherSecret = "fedcba9876543210fedcba9876543210-another-secret!";

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

KeyPair make_key(const char* type, const char* param) {
  EVP_PKEY* key = std::string_view(type) == "RSA"
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
  KeyPair out;
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  if (key != nullptr && priv != nullptr && pub != nullptr &&
      PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
      PEM_write_bio_PUBKEY(pub, key) == 1) {
    out.private_pem = bio_text(priv);
    out.public_pem = bio_text(pub);
  }
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

// Generated once per test run (RSA key generation is slow) and never changed.
struct TestKeys {
  KeyPair rsa = make_key("RSA", nullptr);
  KeyPair rsa_other = make_key("RSA", nullptr);
  KeyPair ec = make_key("EC", "P-256");
  KeyPair ec_other = make_key("EC", "P-256");
  KeyPair ec_384 = make_key("EC", "P-384");
};

const TestKeys& test_keys() {
  static const TestKeys keys;
  return keys;
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest()
      : rsa_(&test_keys().rsa),
        rsa_other_(&test_keys().rsa_other),
        ec_(&test_keys().ec),
        ec_other_(&test_keys().ec_other),
        ec_384_(&test_keys().ec_384) {}

  JwtVerifierOptions options() const {
    JwtVerifierOptions o;
    o.issuer = "https://id.shopeasy.example";
    o.audience = "shopeasy-cloud";
    o.leeway = seconds(30);
    o.max_lifetime = std::chrono::hours(24);
    return o;
  }

  JwtVerifier verifier(std::vector<JwtKey> keys) const {
    auto v = JwtVerifier::create(options(), keys, clock_);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return std::move(v).value();
  }

  // Claims valid at the fake clock's now.
  nlohmann::json claims() const {
    const std::int64_t now = to_unix_ms(clock_.wall_now()) / 1000;
    return {{"iss", "https://id.shopeasy.example"},
            {"aud", "shopeasy-cloud"},
            {"sub", "cust-42"},
            {"iat", now},
            {"nbf", now},
            {"exp", now + 3600}};
  }

  std::string sign(const JwtKey& key, const nlohmann::json& c) const {
    auto signer = JwtSigner::create(key);
    EXPECT_TRUE(signer.ok()) << signer.status().to_string();
    if (!signer.ok()) return {};
    auto token = signer->sign(c);
    EXPECT_TRUE(token.ok()) << token.status().to_string();
    return token.ok() ? *token : std::string();
  }

  // A token with an arbitrary header and payload and the given raw signature.
  static std::string forge(const nlohmann::json& header, const nlohmann::json& payload,
                           std::string_view signature) {
    return base64url_encode(header.dump()) + "." + base64url_encode(payload.dump()) + "." +
           base64url_encode(signature);
  }

  static std::string reason(const StatusOr<JwtClaims>& r) {
    return r.ok() ? "accepted" : r.status().message();
  }

  FakeClock clock_;
  const KeyPair* rsa_;
  const KeyPair* rsa_other_;
  const KeyPair* ec_;
  const KeyPair* ec_other_;
  const KeyPair* ec_384_;
};

TEST_F(JwtTest, AcceptsValidTokensOfEachAlgorithm) {
  ASSERT_FALSE(rsa_->public_pem.empty());
  ASSERT_FALSE(ec_->public_pem.empty());
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""},
                                  {JwtAlgorithm::kRS256, rsa_->public_pem, ""},
                                  {JwtAlgorithm::kES256, ec_->public_pem, ""}});
  const std::pair<JwtAlgorithm, std::string> signers[] = {{JwtAlgorithm::kHS256, kSecret},
                                                          {JwtAlgorithm::kRS256, rsa_->private_pem},
                                                          {JwtAlgorithm::kES256, ec_->private_pem}};
  for (const auto& [alg, material] : signers) {
    const std::string token = sign({alg, material, ""}, claims());
    auto r = v.verify(token);
    ASSERT_TRUE(r.ok()) << jwt_algorithm_name(alg) << ": " << r.status().to_string();
    EXPECT_EQ(r->subject, "cust-42");
    EXPECT_EQ(r->issuer, "https://id.shopeasy.example");
    EXPECT_EQ(r->expires_at, clock_.wall_now() + seconds(3600));
    EXPECT_EQ(r->payload["aud"], "shopeasy-cloud");
  }
}

TEST_F(JwtTest, RefusesAForgedSignature) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""},
                                  {JwtAlgorithm::kRS256, rsa_->public_pem, ""},
                                  {JwtAlgorithm::kES256, ec_->public_pem, ""}});
  // Signed with keys the verifier does not trust.
  EXPECT_EQ(reason(v.verify(sign({JwtAlgorithm::kHS256, kOtherSecret, ""}, claims()))),
            "bad token signature");
  EXPECT_EQ(reason(v.verify(sign({JwtAlgorithm::kRS256, rsa_other_->private_pem, ""}, claims()))),
            "bad token signature");
  EXPECT_EQ(reason(v.verify(sign({JwtAlgorithm::kES256, ec_other_->private_pem, ""}, claims()))),
            "bad token signature");

  // A good token whose payload was swapped for another subject.
  const std::string good = sign({JwtAlgorithm::kHS256, kSecret, ""}, claims());
  nlohmann::json evil = claims();
  evil["sub"] = "cust-1";
  const std::size_t d1 = good.find('.');
  const std::size_t d2 = good.find('.', d1 + 1);
  const std::string swapped =
      good.substr(0, d1 + 1) + base64url_encode(evil.dump()) + good.substr(d2);
  EXPECT_EQ(reason(v.verify(swapped)), "bad token signature");
  // Truncated and emptied signatures.
  auto truncated = v.verify(good.substr(0, good.size() - 4));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(v.verify(good.substr(0, d2 + 1)).ok());
}

TEST_F(JwtTest, RefusesAlgNoneInAnySpelling) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    const std::string token =
        base64url_encode(nlohmann::json{{"alg", none}, {"typ", "JWT"}}.dump()) + "." +
        base64url_encode(claims().dump()) + ".";
    EXPECT_EQ(reason(v.verify(token)), "unsigned tokens (alg none) are refused") << none;
    // With a junk signature too.
    EXPECT_EQ(reason(v.verify(token + "c2ln")), "unsigned tokens (alg none) are refused");
  }
}

TEST_F(JwtTest, RefusesUnexpectedAlgorithms) {
  const JwtVerifier rsa_only = verifier({{JwtAlgorithm::kRS256, rsa_->public_pem, ""}});
  // The classic confusion attack: HS256 keyed with the RSA public key's PEM text.
  auto confused_signer = JwtSigner::create(
      {JwtAlgorithm::kHS256, rsa_->public_pem, ""});  // a PEM is "just bytes" to HMAC
  ASSERT_TRUE(confused_signer.ok());
  auto confused = confused_signer->sign(claims());
  ASSERT_TRUE(confused.ok());
  EXPECT_EQ(reason(rsa_only.verify(*confused)), "token algorithm 'HS256' is not accepted here");

  EXPECT_EQ(reason(rsa_only.verify(sign({JwtAlgorithm::kES256, ec_->private_pem, ""}, claims()))),
            "token algorithm 'ES256' is not accepted here");
  for (const char* alg : {"HS512", "RS384", "PS256", "EdDSA", "hs256"}) {
    EXPECT_EQ(reason(rsa_only.verify(forge({{"alg", alg}}, claims(), "sig"))),
              std::string("unsupported token algorithm '") + alg + "'");
  }
  EXPECT_EQ(reason(rsa_only.verify(forge({{"typ", "JWT"}}, claims(), "sig"))),
            "malformed token: header has no algorithm");
  EXPECT_EQ(reason(rsa_only.verify(forge({{"alg", 256}}, claims(), "sig"))),
            "malformed token: header has no algorithm");
}

TEST_F(JwtTest, RefusesCriticalExtensionsAndOtherTypes) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  EXPECT_EQ(reason(v.verify(forge({{"alg", "HS256"}, {"crit", {"exp"}}}, claims(), "x"))),
            "token header has critical extensions this server does not know");
  EXPECT_EQ(reason(v.verify(forge({{"alg", "HS256"}, {"typ", "JWE"}}, claims(), "x"))),
            "token type must be JWT");
}

TEST_F(JwtTest, ChecksExpiryWithLeeway) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  const JwtKey key{JwtAlgorithm::kHS256, kSecret, ""};
  const std::string token = sign(key, claims());
  clock_.advance(seconds(3600 + 29));
  EXPECT_TRUE(v.verify(token).ok()) << "inside the 30 s leeway";
  clock_.advance(seconds(1));
  EXPECT_EQ(reason(v.verify(token)), "token expired");

  nlohmann::json no_exp = claims();
  no_exp.erase("exp");
  EXPECT_EQ(reason(v.verify(sign(key, no_exp))), "token has no expiry (exp)");
  nlohmann::json text_exp = claims();
  text_exp["exp"] = "tomorrow";
  EXPECT_EQ(reason(v.verify(sign(key, text_exp))), "claim 'exp' must be a number");
  nlohmann::json huge_exp = claims();
  huge_exp["exp"] = 1e300;
  EXPECT_EQ(reason(v.verify(sign(key, huge_exp))), "claim 'exp' is out of range");
}

TEST_F(JwtTest, ChecksNotBeforeAndIssuedAtWithLeeway) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  const JwtKey key{JwtAlgorithm::kHS256, kSecret, ""};
  const std::int64_t now = to_unix_ms(clock_.wall_now()) / 1000;

  nlohmann::json early = claims();
  early["nbf"] = now + 30;
  EXPECT_TRUE(v.verify(sign(key, early)).ok()) << "a clock 30 s behind is tolerated";
  early["nbf"] = now + 31;
  EXPECT_EQ(reason(v.verify(sign(key, early))), "token not yet valid");

  nlohmann::json future = claims();
  future["iat"] = now + 31;
  future.erase("nbf");
  EXPECT_EQ(reason(v.verify(sign(key, future))), "token issued in the future");

  nlohmann::json fractional = claims();
  fractional["nbf"] = static_cast<double>(now) + 0.5;
  EXPECT_TRUE(v.verify(sign(key, fractional)).ok());
}

TEST_F(JwtTest, RefusesOverlongLifetimes) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  const JwtKey key{JwtAlgorithm::kHS256, kSecret, ""};
  nlohmann::json forever = claims();
  forever["exp"] = forever["iat"].get<std::int64_t>() + 365 * 24 * 3600;
  EXPECT_EQ(reason(v.verify(sign(key, forever))), "token lifetime exceeds the accepted maximum");
}

TEST_F(JwtTest, ChecksIssuerAudienceAndSubject) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  const JwtKey key{JwtAlgorithm::kHS256, kSecret, ""};
  auto with = [&](const char* claim, const nlohmann::json& value) {
    nlohmann::json c = claims();
    if (value.is_null()) {
      c.erase(claim);
    } else {
      c[claim] = value;
    }
    return reason(v.verify(sign(key, c)));
  };
  EXPECT_EQ(with("iss", "https://evil.example"), "token issuer is not accepted");
  EXPECT_EQ(with("iss", nullptr), "token issuer is not accepted");
  EXPECT_EQ(with("aud", "other-service"), "token audience is not accepted");
  EXPECT_EQ(with("aud", nullptr), "token audience is not accepted");
  EXPECT_EQ(with("aud", nlohmann::json::array({"a", "b"})), "token audience is not accepted");
  EXPECT_EQ(with("aud", nlohmann::json::array({"a", "shopeasy-cloud"})), "accepted");
  EXPECT_EQ(with("sub", ""), "token has no valid subject (sub)");
  EXPECT_EQ(with("sub", 42), "token has no valid subject (sub)");
  EXPECT_EQ(with("sub", nullptr), "token has no valid subject (sub)");
}

TEST_F(JwtTest, RefusesMalformedTokens) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  const std::string good = sign({JwtAlgorithm::kHS256, kSecret, ""}, claims());
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("a.b"), good + ".x", std::string(".."),
        std::string("!!!.e30.c2ln"), base64url_encode("[1,2]") + ".e30.c2ln",
        base64url_encode("{\"alg\":\"HS256\"") + ".e30.c2ln"}) {
    auto r = v.verify(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(reason(v.verify(std::string(9000, 'a'))), "token too long");
  // A well-signed payload that is not JSON.
  auto signer = JwtSigner::create({JwtAlgorithm::kHS256, kSecret, ""});
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(signer->sign(nlohmann::json::array()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(JwtTest, PicksKeysByKidForRotation) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, "2026-01"},
                                  {JwtAlgorithm::kHS256, kOtherSecret, "2026-02"}});
  EXPECT_TRUE(v.verify(sign({JwtAlgorithm::kHS256, kSecret, "2026-01"}, claims())).ok());
  EXPECT_TRUE(v.verify(sign({JwtAlgorithm::kHS256, kOtherSecret, "2026-02"}, claims())).ok());
  // The right key under the wrong kid does not verify.
  EXPECT_EQ(reason(v.verify(sign({JwtAlgorithm::kHS256, kSecret, "2026-02"}, claims()))),
            "bad token signature");
  // Keys without ids are tried for any token.
  const JwtVerifier plain =
      verifier({{JwtAlgorithm::kHS256, kOtherSecret, ""}, {JwtAlgorithm::kHS256, kSecret, ""}});
  EXPECT_TRUE(plain.verify(sign({JwtAlgorithm::kHS256, kSecret, ""}, claims())).ok());
  EXPECT_TRUE(plain.verify(sign({JwtAlgorithm::kHS256, kSecret, "unknown"}, claims())).ok());
}

TEST_F(JwtTest, ValidatesConfiguration) {
  auto o = options();
  EXPECT_EQ(JwtVerifier::create(o, {{JwtAlgorithm::kHS256, "short", ""}}, clock_).status().field(),
            "keys[0]");
  EXPECT_EQ(JwtVerifier::create(o, {}, clock_).status().field(), "keys");
  EXPECT_EQ(
      JwtVerifier::create(
          o, {{JwtAlgorithm::kHS256, kSecret, ""}, {JwtAlgorithm::kRS256, "not a pem", ""}}, clock_)
          .status()
          .field(),
      "keys[1]");
  EXPECT_FALSE(JwtVerifier::create(o, {{JwtAlgorithm::kRS256, ec_->public_pem, ""}}, clock_).ok());
  EXPECT_FALSE(JwtVerifier::create(o, {{JwtAlgorithm::kES256, rsa_->public_pem, ""}}, clock_).ok());
  auto p384 = JwtVerifier::create(o, {{JwtAlgorithm::kES256, ec_384_->public_pem, ""}}, clock_);
  ASSERT_FALSE(p384.ok());
  EXPECT_NE(p384.status().message().find("P-256"), std::string::npos);
  // A private key is fine for verifying; a public one cannot sign.
  EXPECT_TRUE(JwtVerifier::create(o, {{JwtAlgorithm::kRS256, rsa_->private_pem, ""}}, clock_).ok());
  EXPECT_FALSE(JwtSigner::create({JwtAlgorithm::kRS256, rsa_->public_pem, ""}).ok());

  auto no_iss = options();
  no_iss.issuer.clear();
  EXPECT_EQ(
      JwtVerifier::create(no_iss, {{JwtAlgorithm::kHS256, kSecret, ""}}, clock_).status().field(),
      "issuer");
  auto no_aud = options();
  no_aud.audience.clear();
  EXPECT_EQ(
      JwtVerifier::create(no_aud, {{JwtAlgorithm::kHS256, kSecret, ""}}, clock_).status().field(),
      "audience");
  auto skew = options();
  skew.leeway = seconds(3600);
  EXPECT_EQ(
      JwtVerifier::create(skew, {{JwtAlgorithm::kHS256, kSecret, ""}}, clock_).status().field(),
      "leeway");
}

http::Request bearer(const std::string& token) {
  http::Request r;
  r.headers["Authorization"] = "Bearer " + token;
  return r;
}

TEST_F(JwtTest, AuthenticatorMakesCustomersAndFallsBackForOtherTokens) {
  const JwtVerifier v = verifier({{JwtAlgorithm::kHS256, kSecret, ""}});
  http::TokenAuthenticator admins(
      {http::TokenEntry{"ops", "admin", http::sha256_hex("admin-token")}});
  JwtAuthenticator jwt_only(v);
  JwtAuthenticator chained(v, &admins);

  const std::string token = sign({JwtAlgorithm::kHS256, kSecret, ""}, claims());
  for (const JwtAuthenticator* a : {&jwt_only, &chained}) {
    auto who = a->authenticate(bearer(token));
    ASSERT_TRUE(who.ok()) << who.status().to_string();
    EXPECT_EQ(who->subject, "cust-42");
    EXPECT_EQ(who->role, "customer");
  }
  auto admin = chained.authenticate(bearer("admin-token"));
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->role, "admin");
  EXPECT_EQ(jwt_only.authenticate(bearer("admin-token")).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(jwt_only.authenticate(http::Request{}).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(chained.authenticate(http::Request{}).status().code(), StatusCode::kUnauthenticated);

  clock_.advance(std::chrono::hours(2));
  auto expired = chained.authenticate(bearer(token));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().message(), "token expired");
}

}  // namespace
}  // namespace shopeasy::security
