#include "cloud/api/operator_sessions.hpp"

#include <algorithm>
#include <memory>

#include "common/http/request_helpers.hpp"
#include "common/security/rate_limiter.hpp"

namespace shopeasy::cloud::api {

namespace {

using http::Access;
using http::Request;
using http::Response;

// Session tokens are 32 random bytes in lower-case hex (security::UserStore).
bool session_shaped(std::string_view token) {
  return token.size() == 64 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string cookie_header(const std::string& value, std::int64_t max_age_s, bool secure) {
  std::string c = std::string(kOperatorCookie) + "=" + value +
                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
  if (secure) c += "; Secure";
  return c;
}

StatusOr<std::string> string_field(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end()) return invalid_argument(std::string(key) + " is required", key);
  if (!it->is_string()) return invalid_argument(std::string(key) + " must be a string", key);
  return it->get<std::string>();
}

// The session token of the request: the header, else the cookie.
std::string session_token(const Request& req) {
  std::string token = http::bearer_token(req);
  if (token.empty()) token = http::cookie_value(req, kOperatorCookie);
  return token;
}

// The host of an Origin header ("https://ops.example:8443" -> "ops.example:8443"), or ""
// for "null" and anything without a scheme.
std::string origin_host(std::string_view origin) {
  const std::size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return "";
  return std::string(origin.substr(sep + 3));
}

}  // namespace

std::string csrf_token(std::string_view session_token) {
  return http::sha256_hex("shopeasy-ops-csrf\n" + std::string(session_token));
}

StatusOr<std::string> OperatorAuthenticator::cookie_write_token(const Request& request) const {
  if (request.method == "GET" || request.method == "HEAD") return std::string();
  const std::string route = request.method + " " + request.path;
  if (std::find(cookie_writes_.begin(), cookie_writes_.end(), route) == cookie_writes_.end()) {
    return std::string();
  }
  const std::string token = http::cookie_value(request, kOperatorCookie);
  if (!session_shaped(token)) return std::string();
  const std::string host = request.header("Host");
  const std::string origin = request.header("Origin");
  if (origin.empty() || host.empty() || origin_host(origin) != host) {
    return Status(StatusCode::kPermissionDenied,
                  "a change made with the session cookie needs an Origin header naming this host",
                  "Origin");
  }
  const std::string sent = request.header(std::string(kCsrfHeader));
  if (sent.empty() || !http::constant_time_equal(sent, csrf_token(token))) {
    return Status(StatusCode::kPermissionDenied,
                  "a change made with the session cookie needs the " + std::string(kCsrfHeader) +
                      " header from GET /v1/session",
                  std::string(kCsrfHeader));
  }
  return token;
}

StatusOr<http::Principal> OperatorAuthenticator::authenticate(const http::Request& request) const {
  std::string token = http::bearer_token(request);
  const bool from_header = !token.empty();
  if (!from_header && (request.method == "GET" || request.method == "HEAD")) {
    token = http::cookie_value(request, kOperatorCookie);
  } else if (!from_header) {
    StatusOr<std::string> checked = cookie_write_token(request);
    if (!checked.ok()) return checked.status();
    token = std::move(*checked);
  }
  if (!session_shaped(token)) return fallback_.authenticate(request);
  StatusOr<http::Principal> session = users_.authenticate(token, clock_.wall_now());
  if (session.ok()) return session;
  // A busy user file is worth a retry, not "bad token".
  if (session.status().code() == StatusCode::kUnavailable) return session;
  // A machine token may happen to look like a session token.
  if (from_header) {
    StatusOr<http::Principal> other = fallback_.authenticate(request);
    if (other.ok()) return other;
  }
  return session;
}

void register_operator_session_routes(http::HttpServer& server, security::UserStore& users,
                                      const Clock& clock, metrics::Registry& metrics,
                                      const OperatorSessionOptions& options) {
  security::RateLimiterOptions lo;
  lo.capacity = options.login_burst;
  lo.refill_per_second = options.login_per_second;
  auto limiter = std::make_shared<security::RateLimiter>(lo, clock);
  metrics::Counter& refused =
      metrics.counter("cloud_operator_logins_refused_total",
                      "Operator sign-ins refused: rate, wrong credentials or not an admin");

  server.route(
      "POST", "/v1/session", Access::public_route(),
      [&users, &clock, limiter, &refused, options](const Request& req) {
        const security::Decision d = limiter->allow("addr:" + req.remote_addr);
        if (!d.allowed) {
          refused.inc();
          return Response::error(Status(StatusCode::kResourceExhausted,
                                        "too many sign-in attempts from this address"))
              .with_header("Retry-After", std::to_string(d.retry_after_seconds()));
        }
        auto body = http::json_body(req);
        if (!body.ok()) return Response::error(body.status());
        auto user = string_field(*body, "user");
        if (!user.ok()) return Response::error(user.status());
        auto password = string_field(*body, "password");
        if (!password.ok()) return Response::error(password.status());
        const WallTime now = clock.wall_now();
        auto session = users.login(*user, *password, now, req.remote_addr);
        if (!session.ok()) {
          refused.inc();
          return Response::error(session.status());
        }
        // The cloud's routes know one operator role; an account made for another (a
        // store role in a shared file) must not hold a session here.
        if (session->role != "admin") {
          refused.inc();
          (void)users.revoke_session(session->token,
                                     {session->user, session->role, req.remote_addr});
          return Response::error(Status(StatusCode::kPermissionDenied,
                                        "only admin operators may sign in to the cloud"));
        }
        const auto ttl_s =
            std::chrono::duration_cast<std::chrono::seconds>(session->expires_at - now).count();
        return Response::json(200, {{"token", session->token},
                                    {"csrf_token", csrf_token(session->token)},
                                    {"user", session->user},
                                    {"role", session->role},
                                    {"expires_at_ms", to_unix_ms(session->expires_at)}})
            .with_header("Set-Cookie", cookie_header(session->token, ttl_s, options.secure_cookie))
            .with_header("Cache-Control", "no-store");
      });
  server.route("GET", "/v1/session", Access::roles_of({"admin"}), [](const Request& req) {
    nlohmann::json body = {{"user", req.principal.subject}, {"role", req.principal.role}};
    // Only a session has a CSRF token; a machine token needs none.
    if (const std::string token = session_token(req); session_shaped(token)) {
      body["csrf_token"] = csrf_token(token);
    }
    return Response::json(200, body).with_header("Cache-Control", "no-store");
  });
  // Public, so a page holding only the cookie (a new tab) can sign out: ending a session
  // and clearing the cookie is all it can do, whoever asks.
  server.route("DELETE", "/v1/session", Access::public_route(),
               [&users, &clock, options](const Request& req) {
                 const std::string token = session_token(req);
                 Status st(StatusCode::kNotFound, "not a session");
                 if (session_shaped(token)) {
                   StatusOr<http::Principal> who = users.authenticate(token, clock.wall_now());
                   if (who.ok()) {
                     st = users.revoke_session(token, {who->subject, who->role, req.remote_addr});
                   } else if (who.status().code() == StatusCode::kUnavailable) {
                     st = who.status();
                   }
                 }
                 // A machine token or a finished session: nothing to end, and no error.
                 if (!st.is_ok() && st.code() != StatusCode::kNotFound) {
                   return Response::error(st);
                 }
                 return Response::json(200, {{"signed_out", st.is_ok()}})
                     .with_header("Set-Cookie", cookie_header("", 0, options.secure_cookie));
               });
}

}  // namespace shopeasy::cloud::api
