#include "common/security/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/security/encoding.hpp"

namespace shopeasy::security {

namespace {

constexpr std::size_t kHs256MinSecret = 32;
constexpr std::size_t kEs256CoordBytes = 32;
constexpr std::size_t kMaxSubjectBytes = 256;
// Numeric dates beyond this (year 5138) are nonsense and would overflow time points.
constexpr double kMaxNumericDate = 1e11;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Status unauthenticated(std::string message) {
  return Status(StatusCode::kUnauthenticated, std::move(message));
}

std::optional<JwtAlgorithm> parse_algorithm(std::string_view name) {
  if (name == "HS256") return JwtAlgorithm::kHS256;
  if (name == "RS256") return JwtAlgorithm::kRS256;
  if (name == "ES256") return JwtAlgorithm::kES256;
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A PEM public or private key; which one is told by `want_private`.
StatusOr<PkeyPtr> read_pem(std::string_view pem, bool want_private) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return internal_error("out of memory reading a PEM key");
  PkeyPtr key(want_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key && !want_private) {
    // A private key also carries its public half.
    ERR_clear_error();
    std::unique_ptr<BIO, BioFree> again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (again) key.reset(PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr));
  }
  ERR_clear_error();
  if (!key) {
    return invalid_argument(want_private ? "not a PEM private key" : "not a PEM public key");
  }
  return key;
}

Status check_key_type(EVP_PKEY* key, JwtAlgorithm alg) {
  if (alg == JwtAlgorithm::kRS256) {
    if (!EVP_PKEY_is_a(key, "RSA")) return invalid_argument("RS256 needs an RSA key");
    if (EVP_PKEY_get_bits(key) < 2048) {
      return invalid_argument("RS256 keys must have at least 2048 bits");
    }
    return Status::ok();
  }
  if (!EVP_PKEY_is_a(key, "EC")) return invalid_argument("ES256 needs an EC key");
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
          1 ||
      (std::string_view(group) != "prime256v1" && std::string_view(group) != "P-256")) {
    ERR_clear_error();
    return invalid_argument("ES256 needs a key on the P-256 curve");
  }
  return Status::ok();
}

struct ParsedKey {
  JwtAlgorithm algorithm;
  std::string kid;
  std::string secret;  // HS256
  PkeyPtr pkey;        // RS256, ES256
};

StatusOr<ParsedKey> parse_key(const JwtKey& key, bool want_private) {
  ParsedKey out{key.algorithm, key.kid, {}, nullptr};
  if (key.algorithm == JwtAlgorithm::kHS256) {
    if (key.material.size() < kHs256MinSecret) {
      return invalid_argument("HS256 secrets must be at least 32 bytes");
    }
    out.secret = key.material;
    return out;
  }
  auto pkey = read_pem(key.material, want_private);
  if (!pkey.ok()) return pkey.status();
  SHOPEASY_RETURN_IF_ERROR(check_key_type(pkey->get(), key.algorithm));
  out.pkey = std::move(*pkey);
  return out;
}

StatusOr<std::string> hmac_sha256(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof mac,
                &len) == nullptr) {
    ERR_clear_error();
    return internal_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// JWS carries an ES256 signature as R || S (32 bytes each); OpenSSL speaks DER.
std::optional<std::string> es256_raw_to_der(std::string_view raw) {
  if (raw.size() != 2 * kEs256CoordBytes) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), kEs256CoordBytes, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + kEs256CoordBytes,
                        kEs256CoordBytes, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

std::optional<std::string> es256_der_to_raw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kEs256CoordBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kEs256CoordBytes) != static_cast<int>(kEs256CoordBytes) ||
      BN_bn2binpad(s, out + kEs256CoordBytes, kEs256CoordBytes) !=
          static_cast<int>(kEs256CoordBytes)) {
    return std::nullopt;
  }
  return raw;
}

bool verify_with(const ParsedKey& key, std::string_view signing_input, std::string_view signature) {
  if (key.algorithm == JwtAlgorithm::kHS256) {
    auto mac = hmac_sha256(key.secret, signing_input);
    return mac.ok() && mac->size() == signature.size() &&
           CRYPTO_memcmp(mac->data(), signature.data(), signature.size()) == 0;
  }
  std::string der;
  if (key.algorithm == JwtAlgorithm::kES256) {
    auto converted = es256_raw_to_der(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) == 1 &&
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

StatusOr<std::string> sign_with(const ParsedKey& key, std::string_view signing_input) {
  if (key.algorithm == JwtAlgorithm::kHS256) return hmac_sha256(key.secret, signing_input);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    ERR_clear_error();
    return internal_error("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    ERR_clear_error();
    return internal_error("signing failed");
  }
  sig.resize(len);
  if (key.algorithm == JwtAlgorithm::kES256) {
    auto raw = es256_der_to_raw(sig);
    if (!raw) return internal_error("cannot convert the ECDSA signature");
    return *raw;
  }
  return sig;
}

StatusOr<nlohmann::json> decode_json_part(std::string_view part, const char* what) {
  auto bytes = base64url_decode(part);
  if (!bytes.ok()) return unauthenticated(std::string("malformed token: ") + what + " encoding");
  nlohmann::json j = nlohmann::json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return unauthenticated(std::string("malformed token: ") + what + " is not a JSON object");
  }
  return j;
}

// A NumericDate claim (seconds since the epoch, integer or fraction), if present.
StatusOr<std::optional<WallTime>> numeric_date(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<WallTime>();
  if (!it->is_number()) {
    return unauthenticated(std::string("claim '") + name + "' must be a number");
  }
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) {
    return unauthenticated(std::string("claim '") + name + "' is out of range");
  }
  return std::optional<WallTime>(from_unix_ms(static_cast<std::int64_t>(seconds * 1000)));
}

}  // namespace

std::string_view jwt_algorithm_name(JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kHS256:
      return "HS256";
    case JwtAlgorithm::kRS256:
      return "RS256";
    case JwtAlgorithm::kES256:
      return "ES256";
  }
  return "?";
}

struct JwtVerifier::Impl {
  std::vector<ParsedKey> keys;
};

struct JwtSigner::Impl {
  ParsedKey key;
};

JwtVerifier::JwtVerifier(JwtVerifierOptions options, std::shared_ptr<const Impl> impl,
                         const Clock& clock)
    : options_(std::move(options)), impl_(std::move(impl)), clock_(&clock) {}

StatusOr<JwtVerifier> JwtVerifier::create(JwtVerifierOptions options,
                                          const std::vector<JwtKey>& keys, const Clock& clock) {
  if (options.issuer.empty()) return invalid_argument("issuer must not be empty", "issuer");
  if (options.audience.empty()) return invalid_argument("audience must not be empty", "audience");
  if (options.leeway < std::chrono::seconds(0) || options.leeway > std::chrono::seconds(600)) {
    return invalid_argument("leeway must be 0..600 seconds", "leeway");
  }
  if (options.max_lifetime <= std::chrono::seconds(0)) {
    return invalid_argument("max_lifetime must be positive", "max_lifetime");
  }
  if (options.role.empty()) return invalid_argument("role must not be empty", "role");
  if (keys.empty()) return invalid_argument("at least one key is needed", "keys");
  auto impl = std::make_shared<Impl>();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto parsed = parse_key(keys[i], false);
    if (!parsed.ok()) return parsed.status().with_field_prefix("keys[" + std::to_string(i) + "]");
    impl->keys.push_back(std::move(*parsed));
  }
  return JwtVerifier(std::move(options), std::move(impl), clock);
}

StatusOr<JwtClaims> JwtVerifier::verify(std::string_view token) const {
  if (token.size() > options_.max_token_bytes) return unauthenticated("token too long");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return unauthenticated("malformed token: expected header.payload.signature");
  }
  const std::string_view signing_input = token.substr(0, dot2);
  auto header = decode_json_part(token.substr(0, dot1), "header");
  if (!header.ok()) return header.status();

  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) {
    return unauthenticated("malformed token: header has no algorithm");
  }
  const std::string alg_name = alg_it->get<std::string>();
  if (iequals(alg_name, "none")) return unauthenticated("unsigned tokens (alg none) are refused");
  const auto alg = parse_algorithm(alg_name);
  if (!alg) return unauthenticated("unsupported token algorithm '" + alg_name + "'");
  if (header->contains("crit")) {
    return unauthenticated("token header has critical extensions this server does not know");
  }
  if (const auto typ = header->find("typ"); typ != header->end()) {
    if (!typ->is_string() ||
        !(iequals(typ->get<std::string>(), "JWT") || iequals(typ->get<std::string>(), "at+jwt"))) {
      return unauthenticated("token type must be JWT");
    }
  }
  std::string kid;
  if (const auto k = header->find("kid"); k != header->end()) {
    if (!k->is_string()) return unauthenticated("malformed token: kid must be a string");
    kid = k->get<std::string>();
  }

  std::vector<const ParsedKey*> candidates;
  bool same_alg = false;
  for (const auto& key : impl_->keys) {
    if (key.algorithm != *alg) continue;
    same_alg = true;
    if (!kid.empty() && key.kid == kid) candidates.push_back(&key);
  }
  if (!same_alg) return unauthenticated("token algorithm '" + alg_name + "' is not accepted here");
  if (candidates.empty()) {
    for (const auto& key : impl_->keys) {
      if (key.algorithm == *alg && key.kid.empty()) candidates.push_back(&key);
    }
  }
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!signature.ok() || signature->empty()) {
    return unauthenticated("malformed token: signature encoding");
  }
  const bool verified = std::any_of(candidates.begin(), candidates.end(), [&](const ParsedKey* k) {
    return verify_with(*k, signing_input, *signature);
  });
  if (!verified) return unauthenticated("bad token signature");

  // Only a token with a good signature gets its claims looked at.
  auto claims = decode_json_part(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
  if (!claims.ok()) return claims.status();
  const WallTime now = clock_->wall_now();
  const auto leeway = options_.leeway;

  auto exp = numeric_date(*claims, "exp");
  if (!exp.ok()) return exp.status();
  if (!exp->has_value()) return unauthenticated("token has no expiry (exp)");
  if (now >= **exp + leeway) return unauthenticated("token expired");
  auto nbf = numeric_date(*claims, "nbf");
  if (!nbf.ok()) return nbf.status();
  if (nbf->has_value() && now + leeway < **nbf) return unauthenticated("token not yet valid");
  auto iat = numeric_date(*claims, "iat");
  if (!iat.ok()) return iat.status();
  if (iat->has_value() && **iat > now + leeway) {
    return unauthenticated("token issued in the future");
  }
  const WallTime start = iat->has_value() ? **iat : now;
  if (**exp - start > options_.max_lifetime) {
    return unauthenticated("token lifetime exceeds the accepted maximum");
  }

  const auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string() || iss->get<std::string>() != options_.issuer) {
    return unauthenticated("token issuer is not accepted");
  }
  bool audience_ok = false;
  if (const auto aud = claims->find("aud"); aud != claims->end()) {
    if (aud->is_string()) {
      audience_ok = aud->get<std::string>() == options_.audience;
    } else if (aud->is_array()) {
      audience_ok = std::any_of(aud->begin(), aud->end(), [&](const nlohmann::json& a) {
        return a.is_string() && a.get<std::string>() == options_.audience;
      });
    }
  }
  if (!audience_ok) return unauthenticated("token audience is not accepted");
  const auto sub = claims->find("sub");
  if (sub == claims->end() || !sub->is_string() || sub->get<std::string>().empty() ||
      sub->get<std::string>().size() > kMaxSubjectBytes) {
    return unauthenticated("token has no valid subject (sub)");
  }

  JwtClaims out;
  out.subject = sub->get<std::string>();
  out.issuer = options_.issuer;
  out.expires_at = **exp;
  out.not_before = *nbf;
  out.issued_at = *iat;
  out.payload = std::move(*claims);
  return out;
}

StatusOr<http::Principal> JwtAuthenticator::authenticate(const http::Request& request) const {
  const std::string token = http::bearer_token(request);
  const bool jwt_shaped = std::count(token.begin(), token.end(), '.') == 2;
  if (!jwt_shaped) {
    if (fallback_ != nullptr) return fallback_->authenticate(request);
    if (token.empty()) {
      return unauthenticated("missing bearer token (Authorization: Bearer ...)");
    }
    return unauthenticated("malformed token: expected header.payload.signature");
  }
  auto claims = verifier_.verify(token);
  if (claims.ok()) return http::Principal{claims->subject, verifier_.options().role};
  if (fallback_ != nullptr) {
    auto other = fallback_->authenticate(request);
    if (other.ok()) return other;
  }
  return claims.status();
}

StatusOr<JwtSigner> JwtSigner::create(const JwtKey& key) {
  auto parsed = parse_key(key, true);
  if (!parsed.ok()) return parsed.status().with_field_prefix("key");
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(*parsed);
  return JwtSigner(std::move(impl));
}

StatusOr<std::string> JwtSigner::sign(const nlohmann::json& claims) const {
  if (!claims.is_object()) return invalid_argument("claims must be a JSON object", "claims");
  nlohmann::json header = {{"alg", jwt_algorithm_name(impl_->key.algorithm)}, {"typ", "JWT"}};
  if (!impl_->key.kid.empty()) header["kid"] = impl_->key.kid;
  const std::string input =
      base64url_encode(header.dump()) + "." +
      base64url_encode(claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  auto sig = sign_with(impl_->key, input);
  if (!sig.ok()) return sig.status();
  return input + "." + base64url_encode(*sig);
}

}  // namespace shopeasy::security
