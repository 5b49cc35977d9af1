// Tokens the cloud issues to signed-in customers: short-lived ES256 access JWTs signed
// with the cloud's own key, and rotating refresh tokens. The signing key is a P-256
// private key in the state directory (created on first start with mode 0600, refused
// when others may read it, never logged); its public half joins the customer JWT
// verifier's keys and is published at /.well-known/jwks.json. A refresh token is 32
// random bytes, stored as SHA-256; each use returns a new one in the same family, and a
// second use of an old one revokes the whole family (it was copied). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cloud/accounts/account_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/jwt.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::accounts {

struct TokenOptions {
  std::string key_file{};  // PEM P-256 private key; created when missing
  std::string issuer{};
  std::string audience{};
  std::int64_t access_ttl_s = 15 * 60;
  std::int64_t refresh_ttl_s = 30 * 86400;
};

struct TokenPair {
  std::string access_token{};
  std::string refresh_token{};
  std::int64_t expires_in_s = 0;
  std::string customer_id{};
};

class TokenService {
 public:
  // Loads or creates the key. kFailedPrecondition when the file is readable by others or
  // is not a P-256 private key; kUnavailable when it cannot be read or written.
  static StatusOr<std::unique_ptr<TokenService>> open(TokenOptions options, AccountStore& store,
                                                      const Clock& clock, log::Logger logger,
                                                      metrics::Registry& metrics);

  // A new family for a customer who just signed in.
  StatusOr<TokenPair> issue(const std::string& customer_id);
  // Rotates a refresh token. kInvalidArgument naming "refresh_token" when malformed;
  // kUnauthenticated when unknown, expired or revoked, or when it was used before (the
  // family is then revoked).
  StatusOr<TokenPair> refresh(const std::string& refresh_token);
  // Revokes the token's family. kUnauthenticated when the token is unknown.
  Status logout(const std::string& refresh_token);

  // The verifier's view of the signing key: its public PEM and kid.
  const security::JwtKey& public_key() const { return public_key_; }
  // {"keys":[{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}]}
  const nlohmann::json& jwks() const { return jwks_; }

 private:
  TokenService(TokenOptions options, AccountStore& store, const Clock& clock, log::Logger logger,
               metrics::Registry& metrics, security::JwtSigner signer, security::JwtKey public_key,
               nlohmann::json jwks);
  StatusOr<std::string> access_token(const std::string& customer_id) const;
  StatusOr<std::string> check_refresh_shape(const std::string& token) const;

  TokenOptions options_;
  AccountStore& store_;
  const Clock& clock_;
  log::Logger logger_;
  metrics::Registry& metrics_;
  security::JwtSigner signer_;
  security::JwtKey public_key_;
  nlohmann::json jwks_;
};

// SHA-256 hex of a token, as stored.
std::string token_hash(const std::string& token);

}  // namespace shopeasy::cloud::accounts
