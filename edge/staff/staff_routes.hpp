// The staff side of the edge API: sign-in and sign-out (sessions with an expiry, a cookie
// for the web page's event stream), user administration for admins, and the audit log
// query. Sign-in attempts are limited per client address so a password cannot be
// guessed at speed (and Argon2 cannot be used to burn the box's CPU).
#pragma once

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/rate_limiter.hpp"
#include "common/security/user_store.hpp"

namespace shopeasy::edge::staff {

struct StaffRouteOptions {
  // Sign-in attempts per client address: a burst, then this many per second.
  double login_burst = 10;
  double login_per_second = 0.2;
  // Mark the session cookie Secure (the API is served over HTTPS).
  bool secure_cookie = false;
};

// Registers POST/GET/DELETE /api/session, GET/POST /api/users, PATCH /api/users/{name}
// and GET /api/audit. `users`, `clock` and `metrics` must outlive the server.
void register_staff_routes(http::HttpServer& server, security::UserStore& users, const Clock& clock,
                           metrics::Registry& metrics, log::Logger logger,
                           const StaffRouteOptions& options);

}  // namespace shopeasy::edge::staff
