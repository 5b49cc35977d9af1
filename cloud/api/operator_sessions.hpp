// Operators' sign-in to the cloud's pages (/ops): a user name and password (operator
// accounts live in the cloud's own user file, made with shopeasy-edge-users) open a
// session, given to the page as a token for the Authorization header and as an HttpOnly,
// SameSite=Strict cookie. As on the store box, the cookie is accepted for reads only
// (GET and HEAD, what a page's links and event streams send); a change always needs the
// header, which another site cannot make a browser send. The cookie has a name of its
// own, since browsers share cookies across the ports of one host and the store's page
// may be open on the same machine.
#pragma once

#include <string>
#include <string_view>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/user_store.hpp"

namespace shopeasy::cloud::api {

inline constexpr std::string_view kOperatorCookie = "shopeasy_ops_session";

// Operator sessions first (the bearer token, or the cookie on GET/HEAD), then
// `fallback` (machine tokens, store credentials, customer JWTs). Only a token shaped like
// a session token costs a lookup in the user file, so customers' and stores' requests
// go straight to the fallback. All references must outlive it. Thread-safe.
class OperatorAuthenticator final : public http::Authenticator {
 public:
  OperatorAuthenticator(const security::UserStore& users, const Clock& clock,
                        const http::Authenticator& fallback)
      : users_(users), clock_(clock), fallback_(fallback) {}
  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  const security::UserStore& users_;
  const Clock& clock_;
  const http::Authenticator& fallback_;
};

struct OperatorSessionOptions {
  // Sign-in attempts per client address: a burst, then this many per second.
  double login_burst = 10;
  double login_per_second = 0.2;
  // Mark the cookie Secure (the cloud is served over HTTPS).
  bool secure_cookie = false;
};

// POST /v1/session (public: {"user","password"}; only admin operators), GET /v1/session
// (who is signed in) and DELETE /v1/session (sign out, clears the cookie). `users`,
// `clock` and `metrics` must outlive the server.
void register_operator_session_routes(http::HttpServer& server, security::UserStore& users,
                                      const Clock& clock, metrics::Registry& metrics,
                                      const OperatorSessionOptions& options);

}  // namespace shopeasy::cloud::api
