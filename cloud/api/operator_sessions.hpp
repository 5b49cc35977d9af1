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
#include <vector>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/user_store.hpp"

namespace shopeasy::cloud::api {

inline constexpr std::string_view kOperatorCookie = "shopeasy_ops_session";
// The header a page holding only the cookie sends with a change it may make (see
// OperatorAuthenticator): the session's CSRF token, from GET or POST /v1/session.
inline constexpr std::string_view kCsrfHeader = "X-ShopEasy-CSRF";

// A session's CSRF token: derived from the session token (SHA-256 with a label), so it
// needs no storage, ends with the session and cannot be made without the token, which
// the HttpOnly cookie keeps from scripts. Only same-origin script can read it from
// GET /v1/session: another site's page can send the cookie but not read the answer.
std::string csrf_token(std::string_view session_token);

// Operator sessions first (the bearer token, or the cookie on GET/HEAD), then
// `fallback` (machine tokens, store credentials, customer JWTs). Only a token shaped like
// a session token costs a lookup in the user file, so customers' and stores' requests
// go straight to the fallback. All references must outlive it. Thread-safe.
//
// Changes with the cookie alone are refused, except on the routes named in
// `cookie_writes` ("PUT /v1/pricing/enabled"), so that a signed-in page can flip the
// pricing kill switch in an emergency without a bearer token. Such a request must carry
// kCsrfHeader with the session's csrf_token() and an Origin header naming this host
// (kPermissionDenied otherwise). Why that is enough: the cookie is SameSite=Strict, so
// another site's page does not send it at all in current browsers; a form (the one
// request another site can make without CORS) can neither set a custom header nor use
// PUT; and a script of another origin cannot read GET /v1/session to learn the token.
// The Origin check covers older browsers that ignore SameSite.
class OperatorAuthenticator final : public http::Authenticator {
 public:
  OperatorAuthenticator(const security::UserStore& users, const Clock& clock,
                        const http::Authenticator& fallback,
                        std::vector<std::string> cookie_writes = {})
      : users_(users),
        clock_(clock),
        fallback_(fallback),
        cookie_writes_(std::move(cookie_writes)) {}
  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  // The session token of a cookie-only change to a route in cookie_writes_ that passes
  // the CSRF and Origin checks; "" when the request is not such a change.
  StatusOr<std::string> cookie_write_token(const http::Request& request) const;

  const security::UserStore& users_;
  const Clock& clock_;
  const http::Authenticator& fallback_;
  const std::vector<std::string> cookie_writes_;  // "METHOD /path"
};

struct OperatorSessionOptions {
  // Sign-in attempts per client address: a burst, then this many per second.
  double login_burst = 10;
  double login_per_second = 0.2;
  // Mark the cookie Secure (the cloud is served over HTTPS).
  bool secure_cookie = false;
};

// POST /v1/session (public: {"user","password"}; only admin operators), GET /v1/session
// (who is signed in, with the session's csrf_token) and DELETE /v1/session (sign out, clears the
// cookie). `users`, `clock` and `metrics` must outlive the server.
void register_operator_session_routes(http::HttpServer& server, security::UserStore& users,
                                      const Clock& clock, metrics::Registry& metrics,
                                      const OperatorSessionOptions& options);

}  // namespace shopeasy::cloud::api
