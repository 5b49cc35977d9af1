#include "cloud/accounts/token_service.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/security/encoding.hpp"

namespace shopeasy::cloud::accounts {
namespace {

constexpr const char* kRefreshPrefix = "rt_";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string sha256(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// The private key PEM at `path`, created (0600, exclusively) when missing.
StatusOr<std::string> load_or_create_key(const std::string& path, const log::Logger& logger) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return Status(StatusCode::kFailedPrecondition,
                    "the customer token signing key may be read by others; chmod 600 it",
                    "auth.issuer_key_file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return unavailable("cannot read the customer token signing key");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return internal_error("cannot generate a P-256 key");
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return internal_error("cannot encode the signing key");
  }
  const std::string pem = bio_string(bio.get());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return unavailable("cannot create the customer token signing key file: " +
                       std::string(std::strerror(errno)));
  }
  const bool written =
      ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return unavailable("cannot write the customer token signing key file");
  }
  logger.info("customer_token_key_created",
              {{"effect", "customer tokens signed before are invalid"}});
  return pem;
}

}  // namespace

std::string token_hash(const std::string& token) { return security::hex_encode(sha256(token)); }

StatusOr<std::unique_ptr<TokenService>> TokenService::open(TokenOptions options,
                                                           AccountStore& store, const Clock& clock,
                                                           log::Logger logger,
                                                           metrics::Registry& metrics) {
  SHOPEASY_ASSIGN_OR_RETURN(std::string pem, load_or_create_key(options.key_file, logger));
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  char group[64] = {};
  std::size_t group_len = 0;
  if (!key ||
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_len) != 1 ||
      std::string(group) != "prime256v1") {
    return Status(StatusCode::kFailedPrecondition,
                  "the customer token signing key is not a P-256 private key",
                  "auth.issuer_key_file");
  }
  Bio pub(BIO_new(BIO_s_mem()));
  if (!pub || PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    return internal_error("cannot encode the public key");
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_PUBKEY(key.get(), &der);
  if (der_len <= 0) return internal_error("cannot encode the public key");
  const std::string der_bytes(reinterpret_cast<const char*>(der),
                              static_cast<std::size_t>(der_len));
  OPENSSL_free(der);
  const std::string kid = security::base64url_encode(sha256(der_bytes).substr(0, 12));

  std::string coords[2];
  const char* names[2] = {OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y};
  for (int i = 0; i < 2; ++i) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), names[i], &bn) != 1) {
      return internal_error("cannot read the public key's coordinates");
    }
    std::unique_ptr<BIGNUM, BnFree> owned(bn);
    unsigned char buf[32];
    if (BN_bn2binpad(bn, buf, sizeof buf) != 32) return internal_error("bad coordinate size");
    coords[i] = security::base64url_encode(std::string_view(reinterpret_cast<char*>(buf), 32));
  }
  nlohmann::json jwks = {{"keys",
                          {{{"kty", "EC"},
                            {"crv", "P-256"},
                            {"x", coords[0]},
                            {"y", coords[1]},
                            {"kid", kid},
                            {"alg", "ES256"},
                            {"use", "sig"}}}}};
  SHOPEASY_ASSIGN_OR_RETURN(
      security::JwtSigner signer,
      security::JwtSigner::create({security::JwtAlgorithm::kES256, std::move(pem), kid}));
  security::JwtKey public_key{security::JwtAlgorithm::kES256, bio_string(pub.get()), kid};
  return std::unique_ptr<TokenService>(
      new TokenService(std::move(options), store, clock, std::move(logger), metrics,
                       std::move(signer), std::move(public_key), std::move(jwks)));
}

TokenService::TokenService(TokenOptions options, AccountStore& store, const Clock& clock,
                           log::Logger logger, metrics::Registry& metrics,
                           security::JwtSigner signer, security::JwtKey public_key,
                           nlohmann::json jwks)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      logger_(std::move(logger)),
      metrics_(metrics),
      signer_(std::move(signer)),
      public_key_(std::move(public_key)),
      jwks_(std::move(jwks)) {}

StatusOr<std::string> TokenService::access_token(const std::string& customer_id) const {
  const std::int64_t now = to_unix_ms(clock_.wall_now()) / 1000;
  SHOPEASY_ASSIGN_OR_RETURN(std::string jti, security::random_hex(12));
  return signer_.sign({{"iss", options_.issuer},
                       {"aud", options_.audience},
                       {"sub", customer_id},
                       {"role", "customer"},
                       {"iat", now},
                       {"exp", now + options_.access_ttl_s},
                       {"jti", jti}});
}

StatusOr<TokenPair> TokenService::issue(const std::string& customer_id) {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  SHOPEASY_ASSIGN_OR_RETURN(std::string refresh, security::random_hex(32));
  refresh = kRefreshPrefix + refresh;
  SHOPEASY_ASSIGN_OR_RETURN(std::string family, security::random_hex(16));
  SHOPEASY_RETURN_IF_ERROR(store_.add_refresh(token_hash(refresh), family, customer_id, now,
                                              now + options_.refresh_ttl_s * 1000));
  SHOPEASY_ASSIGN_OR_RETURN(std::string access, access_token(customer_id));
  return TokenPair{std::move(access), std::move(refresh), options_.access_ttl_s, customer_id};
}

StatusOr<std::string> TokenService::check_refresh_shape(const std::string& token) const {
  if (token.empty()) return invalid_argument("is required", "refresh_token");
  if (token.size() != 3 + 64 || token.rfind(kRefreshPrefix, 0) != 0) {
    return invalid_argument("is not a refresh token", "refresh_token");
  }
  return token_hash(token);
}

StatusOr<TokenPair> TokenService::refresh(const std::string& refresh_token) {
  SHOPEASY_ASSIGN_OR_RETURN(std::string hash, check_refresh_shape(refresh_token));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  SHOPEASY_ASSIGN_OR_RETURN(std::string next, security::random_hex(32));
  next = kRefreshPrefix + next;
  SHOPEASY_ASSIGN_OR_RETURN(
      RotateResult r,
      store_.rotate_refresh(hash, token_hash(next), now, now + options_.refresh_ttl_s * 1000));
  auto refused = [&](const char* why) {
    metrics_
        .counter("cloud_auth_refresh_refused_total", "Refresh tokens refused by reason",
                 {{"reason", why}})
        .inc();
    return Status(StatusCode::kUnauthenticated, "the refresh token is not valid; sign in again",
                  "refresh_token");
  };
  switch (r.outcome) {
    case RotateOutcome::kRotated:
      break;
    case RotateOutcome::kReused:
      logger_.warn("refresh_token_reused",
                   {{"customer", r.customer_id}, {"effect", "every token of the family revoked"}});
      return refused("reused");
    case RotateOutcome::kExpired:
      return refused("expired");
    case RotateOutcome::kRevoked:
      return refused("revoked");
    case RotateOutcome::kUnknown:
      return refused("unknown");
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::string access, access_token(r.customer_id));
  metrics_.counter("cloud_auth_refreshed_total", "Refresh tokens rotated").inc();
  return TokenPair{std::move(access), std::move(next), options_.access_ttl_s, r.customer_id};
}

Status TokenService::logout(const std::string& refresh_token) {
  SHOPEASY_ASSIGN_OR_RETURN(std::string hash, check_refresh_shape(refresh_token));
  SHOPEASY_ASSIGN_OR_RETURN(bool found, store_.revoke_family(hash));
  if (!found) {
    return Status(StatusCode::kUnauthenticated, "the refresh token is not valid", "refresh_token");
  }
  return Status::ok();
}

}  // namespace shopeasy::cloud::accounts
