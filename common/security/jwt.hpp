// Verification of customer JSON Web Tokens (RFC 7519) signed with JWS compact
// serialization (RFC 7515). The verifier is configured with keys, and each key fixes
// its algorithm: HS256 (a shared secret of at least 32 bytes), RS256 (an RSA public
// key of at least 2048 bits) or ES256 (a P-256 public key). A token is accepted only
// if its header names the algorithm of a configured key, so "alg":"none", an unknown
// algorithm, or an HS256 token "signed" with an RSA public key as secret are refused.
// After the signature, the claims are checked: exp (required), nbf and iat against the
// Clock with a leeway for clock skew, iss and aud against the configured values, and
// sub (required) becomes the Principal's subject.
//
// JwtSigner makes HS256/RS256/ES256 tokens, for tests, the demo and tools.
// OpenSSL stays inside jwt.cpp. All classes are immutable after construction and
// thread-safe; copies share their keys.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/http/types.hpp"
#include "common/status/status.hpp"

namespace shopeasy::security {

enum class JwtAlgorithm { kHS256, kRS256, kES256 };
// "HS256", "RS256", "ES256".
std::string_view jwt_algorithm_name(JwtAlgorithm alg);

struct JwtKey {
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  // HS256: the secret bytes (at least 32). RS256/ES256: a PEM public key (verifier) or
  // private key (signer).
  std::string material;
  // Optional key id. When a token's header has "kid", the keys with that id are tried,
  // or the keys without an id if none has it.
  std::string kid;
};

struct JwtVerifierOptions {
  std::string issuer;               // required; the "iss" claim must equal it
  std::string audience;             // required; "aud" (string or array) must contain it
  std::chrono::seconds leeway{60};  // clock skew tolerated for exp, nbf and iat (0..600 s)
  // Tokens whose exp is further than this after iat (or now, without iat) are refused,
  // so a leaked long-lived token is not accepted.
  std::chrono::seconds max_lifetime{std::chrono::hours(24)};
  std::string role = "customer";  // the role of every principal from this verifier
  std::size_t max_token_bytes = 8192;
};

// What a verified token says. Times are converted from NumericDate seconds.
struct JwtClaims {
  std::string subject;
  std::string issuer;
  WallTime expires_at;
  std::optional<WallTime> not_before;
  std::optional<WallTime> issued_at;
  nlohmann::json payload;  // every claim, for application-specific ones
};

class JwtVerifier {
 public:
  // Parses the keys (a PEM private key is accepted too; only its public half is used).
  // kInvalidArgument naming the key ("keys[1]") for a short HS256 secret, unparsable
  // PEM, or a key of the wrong type or size for its algorithm; kInvalidArgument naming
  // the option for an empty issuer or audience, no keys, or a leeway outside 0..600 s.
  // `clock` must outlive the verifier.
  static StatusOr<JwtVerifier> create(JwtVerifierOptions options, const std::vector<JwtKey>& keys,
                                      const Clock& clock);

  // The claims of a valid token. kUnauthenticated, with a reason a client may see, for
  // anything else: malformed, too long, unsupported or unexpected algorithm, bad
  // signature, expired, not yet valid, issued in the future, wrong issuer or audience,
  // missing subject, lifetime above max_lifetime.
  StatusOr<JwtClaims> verify(std::string_view token) const;

  const JwtVerifierOptions& options() const { return options_; }

  struct Impl;  // the parsed keys; defined in jwt.cpp

 private:
  JwtVerifier(JwtVerifierOptions options, std::shared_ptr<const Impl> impl, const Clock& clock);
  JwtVerifierOptions options_;
  std::shared_ptr<const Impl> impl_;
  const Clock* clock_;
};

// Accepts "Authorization: Bearer <JWT>". A bearer value that is not shaped like a JWT
// (three dot-separated parts) goes to `fallback` when one is given (e.g. the admin
// TokenAuthenticator); a JWT that fails verification is refused with the verifier's
// reason unless the fallback accepts it. The verifier and fallback must outlive it.
class JwtAuthenticator final : public http::Authenticator {
 public:
  explicit JwtAuthenticator(const JwtVerifier& verifier,
                            const http::Authenticator* fallback = nullptr)
      : verifier_(verifier), fallback_(fallback) {}
  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  const JwtVerifier& verifier_;
  const http::Authenticator* fallback_;
};

// Signs tokens with one key.
class JwtSigner {
 public:
  // kInvalidArgument as for JwtVerifier's keys; RS256/ES256 need a private key.
  static StatusOr<JwtSigner> create(const JwtKey& key);
  // The compact JWS of `claims` (a JSON object) with header {"alg","typ":"JWT"[,"kid"]}.
  // kInvalidArgument if claims is not an object; kInternal if OpenSSL fails.
  StatusOr<std::string> sign(const nlohmann::json& claims) const;

  struct Impl;

 private:
  explicit JwtSigner(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace shopeasy::security
