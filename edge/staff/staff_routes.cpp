#include "edge/staff/staff_routes.hpp"

#include <memory>
#include <string>

#include "common/http/request_helpers.hpp"
#include "common/security/http_guard.hpp"

namespace shopeasy::edge::staff {

namespace {

using http::Access;
using http::Request;
using http::Response;

const std::vector<std::string> kEveryone = {"admin", "manager", "picker", "viewer"};

security::Actor actor_of(const Request& req) {
  return {req.principal.subject, req.principal.role, req.remote_addr};
}

nlohmann::json user_json(const security::User& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"disabled", u.disabled},
          {"created_ms", u.created_ms},
          {"updated_ms", u.updated_ms}};
}

StatusOr<std::string> string_field(const nlohmann::json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end()) {
    if (required) return invalid_argument(std::string(key) + " is required", key);
    return std::string();
  }
  if (!it->is_string()) return invalid_argument(std::string(key) + " must be a string", key);
  return it->get<std::string>();
}

std::string cookie_header(const std::string& value, std::int64_t max_age_s, bool secure) {
  std::string c = std::string(security::kSessionCookie) + "=" + value +
                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
  if (secure) c += "; Secure";
  return c;
}

Response login(const Request& req, security::UserStore& users, const Clock& clock,
               security::RateLimiter& limiter, metrics::Counter& refused,
               const StaffRouteOptions& options) {
  const security::Decision d = limiter.allow("addr:" + req.remote_addr);
  if (!d.allowed) {
    refused.inc();
    return Response::error(Status(StatusCode::kResourceExhausted,
                                  "too many sign-in attempts from this address"))
        .with_header("Retry-After", std::to_string(d.retry_after_seconds()));
  }
  auto body = http::json_body(req);
  if (!body.ok()) return Response::error(body.status());
  auto user = string_field(*body, "user", true);
  if (!user.ok()) return Response::error(user.status());
  auto password = string_field(*body, "password", true);
  if (!password.ok()) return Response::error(password.status());
  const WallTime now = clock.wall_now();
  auto session = users.login(*user, *password, now, req.remote_addr);
  if (!session.ok()) return Response::error(session.status());
  const auto ttl_s =
      std::chrono::duration_cast<std::chrono::seconds>(session->expires_at - now).count();
  return Response::json(200, {{"token", session->token},
                              {"user", session->user},
                              {"role", session->role},
                              {"expires_at", format_rfc3339(session->expires_at)},
                              {"expires_at_ms", to_unix_ms(session->expires_at)}})
      .with_header("Set-Cookie", cookie_header(session->token, ttl_s, options.secure_cookie))
      .with_header("Cache-Control", "no-store");
}

Response logout(const Request& req, security::UserStore& users, const StaffRouteOptions& options) {
  std::string token = http::bearer_token(req);
  if (token.empty()) token = security::session_cookie(req);
  Status st = users.revoke_session(token, actor_of(req));
  // A machine token is not a session: there is nothing to end, and that is not an error.
  if (!st.is_ok() && st.code() != StatusCode::kNotFound) return Response::error(st);
  return Response::json(200, {{"signed_out", st.is_ok()}})
      .with_header("Set-Cookie", cookie_header("", 0, options.secure_cookie));
}

Response add_user(const Request& req, security::UserStore& users) {
  auto body = http::json_body(req);
  if (!body.ok()) return Response::error(body.status());
  auto name = string_field(*body, "name", true);
  if (!name.ok()) return Response::error(name.status());
  auto role = string_field(*body, "role", true);
  if (!role.ok()) return Response::error(role.status());
  auto password = string_field(*body, "password", true);
  if (!password.ok()) return Response::error(password.status());
  if (Status st = users.add_user(*name, *role, *password, actor_of(req)); !st.is_ok()) {
    return Response::error(st);
  }
  auto created = users.get_user(*name);
  if (!created.ok()) return Response::error(created.status());
  return Response::json(201, user_json(*created));
}

Response change_user(const Request& req, security::UserStore& users) {
  const std::string& name = req.params.at(0);
  auto body = http::json_body(req);
  if (!body.ok()) return Response::error(body.status());
  if (body->empty()) {
    return Response::error(invalid_argument("nothing to change: give role, disabled or password"));
  }
  for (const auto& [key, value] : body->items()) {
    if (key != "role" && key != "disabled" && key != "password") {
      return Response::error(invalid_argument("unknown field " + key, key));
    }
  }
  const security::Actor by = actor_of(req);
  if (body->contains("role")) {
    auto role = string_field(*body, "role", true);
    if (!role.ok()) return Response::error(role.status());
    if (Status st = users.set_role(name, *role, by); !st.is_ok()) return Response::error(st);
  }
  if (body->contains("password")) {
    auto password = string_field(*body, "password", true);
    if (!password.ok()) return Response::error(password.status());
    if (Status st = users.set_password(name, *password, by); !st.is_ok()) {
      return Response::error(st);
    }
  }
  if (body->contains("disabled")) {
    const auto& d = (*body)["disabled"];
    if (!d.is_boolean()) {
      return Response::error(invalid_argument("disabled must be true or false", "disabled"));
    }
    Status st = d.get<bool>() ? users.disable_user(name, by) : users.enable_user(name, by);
    if (!st.is_ok()) return Response::error(st);
  }
  auto user = users.get_user(name);
  if (!user.ok()) return Response::error(user.status());
  return Response::json(200, user_json(*user));
}

}  // namespace

void register_staff_routes(http::HttpServer& server, security::UserStore& users, const Clock& clock,
                           metrics::Registry& metrics, log::Logger logger,
                           const StaffRouteOptions& options) {
  security::RateLimiterOptions lo;
  lo.capacity = options.login_burst;
  lo.refill_per_second = options.login_per_second;
  auto limiter = std::make_shared<security::RateLimiter>(lo, clock);
  metrics::Counter& refused = metrics.counter("staff_login_rate_limited_total",
                                              "Sign-in attempts refused because of their rate");
  (void)logger;

  server.route("POST", "/api/session", Access::public_route(),
               [&users, &clock, limiter, &refused, options](const Request& req) {
                 return login(req, users, clock, *limiter, refused, options);
               });
  server.route("GET", "/api/session", Access::roles_of(kEveryone), [](const Request& req) {
    return Response::json(200, {{"user", req.principal.subject}, {"role", req.principal.role}});
  });
  server.route("DELETE", "/api/session", Access::authenticated(),
               [&users, options](const Request& req) { return logout(req, users, options); });
  server.route("GET", "/api/users", Access::roles_of({"admin"}), [&users](const Request&) {
    auto list = users.list_users();
    if (!list.ok()) return Response::error(list.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : *list) out.push_back(user_json(u));
    return Response::json(200, {{"users", out}});
  });
  server.route("POST", "/api/users", Access::roles_of({"admin"}),
               [&users](const Request& req) { return add_user(req, users); });
  server.route("PATCH", R"(/api/users/([A-Za-z0-9._-]{1,64}))", Access::roles_of({"admin"}),
               [&users](const Request& req) { return change_user(req, users); });
  server.route("GET", "/api/audit", Access::roles_of({"admin"}), [&users](const Request& req) {
    return security::audit_query_response(users.audit(), req);
  });
}

}  // namespace shopeasy::edge::staff
