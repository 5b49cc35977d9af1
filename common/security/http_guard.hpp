// Abuse limits and auditing glue between HttpServer and the security building blocks:
// a per-client request rate limit that answers 429 with Retry-After (reconfigurable while
// running, for a configuration reload), and an audit sink that records every successful
// call of an audited route in an AuditLog with who, what and from where.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/audit_log.hpp"
#include "common/security/rate_limiter.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::security {

class RequestRateLimit {
 public:
  // Starts disabled until configure(). `clock` and `metrics` must outlive it.
  RequestRateLimit(const Clock& clock, metrics::Registry& metrics, log::Logger logger);
  // per_second <= 0 turns the limit off. Buckets start afresh (full) after a change.
  void configure(double per_second, double burst) EXCLUDES(mutex_);
  // A 429 response for a client over its rate, or nullopt. /health is never limited.
  // Thread-safe.
  std::optional<http::Response> admit(const http::Request& request) EXCLUDES(mutex_);
  // For HttpServer::set_admission.
  http::Admission admission() {
    return [this](const http::Request& r) { return admit(r); };
  }

 private:
  const Clock& clock_;
  log::Logger logger_;
  metrics::Counter& refused_;
  log::RateLimiter log_limit_;
  // Guards limiter_: a reload swaps it while request threads take copies.
  sync::Mutex mutex_;
  std::shared_ptr<RateLimiter> limiter_ GUARDED_BY(mutex_);  // null while off
};

// Records successful audited calls: actor = the principal's subject and role, action =
// the route's audit action, target = the request path, details = method, status and the
// request body's top-level fields (values of "password" and "token" keys dropped; bodies
// that are not JSON objects or are large are summarised by size). `audit` must outlive
// the sink; failures to record are logged and counted, never fail the request.
http::AuditSink make_audit_sink(AuditLog& audit, metrics::Registry& metrics, log::Logger logger);

// A daemon's configuration reload (SIGHUP): applies log.level and http.rate_limit_*
// from `fresh`, offers every other key that differs from `running` to `apply_other`
// (true: applied; false: needs a restart; an error stops the reload), then logs what was
// applied and what waits for a restart and records it in the audit log under `target`.
Status apply_reload(const config::Config& fresh, const config::Config& running, log::Logger& logger,
                    RequestRateLimit& rate_limit, AuditLog& audit, std::string_view target,
                    const std::function<StatusOr<bool>(const std::string& key)>& apply_other);

// The answer to an admin's audit query: query parameters since_ms, actor, action,
// cursor and limit (1..1000); 400 naming a bad parameter.
http::Response audit_query_response(const AuditLog& audit, const http::Request& request);

}  // namespace shopeasy::security
