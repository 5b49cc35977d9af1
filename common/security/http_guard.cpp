#include "common/security/http_guard.hpp"

#include <charconv>
#include <string>

namespace shopeasy::security {

RequestRateLimit::RequestRateLimit(const Clock& clock, metrics::Registry& metrics,
                                   log::Logger logger)
    : clock_(clock),
      logger_(std::move(logger)),
      refused_(metrics.counter("http_rate_limited_total",
                               "Requests refused with 429 because their client was over its rate")),
      log_limit_(5, std::chrono::seconds(10)) {}

void RequestRateLimit::configure(double per_second, double burst) {
  std::shared_ptr<RateLimiter> fresh;
  if (per_second > 0) {
    RateLimiterOptions o;
    o.refill_per_second = per_second;
    o.capacity = burst;
    fresh = std::make_shared<RateLimiter>(o, clock_);
  }
  sync::MutexLock lock(mutex_);
  limiter_ = std::move(fresh);
}

std::optional<http::Response> RequestRateLimit::admit(const http::Request& request) {
  std::shared_ptr<RateLimiter> limiter;
  {
    sync::MutexLock lock(mutex_);
    limiter = limiter_;
  }
  // Liveness probes (systemd, load balancers) must never be refused, or a busy client
  // could get the service restarted.
  if (!limiter || request.path == "/health") return std::nullopt;
  const std::string key = client_key(request);
  const Decision d = limiter->allow(key);
  if (d.allowed) return std::nullopt;
  refused_.inc();
  std::uint64_t suppressed = 0;
  if (log_limit_.allow(clock_.mono_now(), &suppressed)) {
    logger_.warn("rate_limited", {{"client", key},
                                  {"path", request.path},
                                  {"retry_after_s", d.retry_after_seconds()},
                                  {"suppressed", suppressed}});
  }
  http::Response r = http::Response::error(
      Status(StatusCode::kResourceExhausted, "too many requests from this client; retry after " +
                                                 std::to_string(d.retry_after_seconds()) + " s"));
  r.with_header("Retry-After", std::to_string(d.retry_after_seconds()));
  return r;
}

namespace {

constexpr std::size_t kMaxAuditedBodyBytes = 4096;

nlohmann::json summarise_body(const http::Request& request) {
  if (request.body.empty()) return nullptr;
  if (request.body.size() > kMaxAuditedBodyBytes || !request.is_json()) {
    return nlohmann::json{{"bytes", request.body.size()}};
  }
  nlohmann::json parsed = nlohmann::json::parse(request.body, nullptr, false);
  if (!parsed.is_object()) return nlohmann::json{{"bytes", request.body.size()}};
  for (auto it = parsed.begin(); it != parsed.end();) {
    const std::string& k = it.key();
    if (k.find("password") != std::string::npos || k.find("token") != std::string::npos ||
        k.find("secret") != std::string::npos) {
      it = parsed.erase(it);
    } else {
      ++it;
    }
  }
  return parsed;
}

}  // namespace

http::AuditSink make_audit_sink(AuditLog& audit, metrics::Registry& metrics, log::Logger logger) {
  metrics::Counter& failures = metrics.counter(
      "audit_record_failures_total", "Audited calls whose audit entry could not be written");
  return [&audit, &failures, logger = std::move(logger)](const http::Request& request,
                                                         const http::Response& response,
                                                         std::string_view action) {
    nlohmann::json details = {{"method", request.method}, {"status", response.status}};
    if (auto body = summarise_body(request); !body.is_null()) details["request"] = body;
    std::string dump = details.dump();
    if (dump.size() > kMaxAuditDetailsBytes) {
      details.erase("request");
      details["request_bytes"] = request.body.size();
    }
    const std::string target = request.path.substr(0, kMaxAuditFieldBytes);
    auto id = audit.record(request.principal.subject, request.principal.role, action, target,
                           details, request.remote_addr);
    if (!id.ok()) {
      failures.inc();
      logger.error("audit_record_failed",
                   {{"action", action}, {"target", target}, {"error", id.status().to_string()}});
    }
  };
}

namespace {

// The integer query parameter `name` within [min, max], if present.
Status int_query(const http::Request& request, const char* name, std::int64_t min, std::int64_t max,
                 std::optional<std::int64_t>* out) {
  auto text = request.query_param(name);
  if (!text) return Status::ok();
  std::int64_t v = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (ec != std::errc() || ptr != end || v < min || v > max) {
    return invalid_argument(std::string(name) + " must be an integer from " + std::to_string(min) +
                                " to " + std::to_string(max),
                            name);
  }
  *out = v;
  return Status::ok();
}

}  // namespace

Status apply_reload(const config::Config& fresh, const config::Config& running, log::Logger& logger,
                    RequestRateLimit& rate_limit, AuditLog& audit, std::string_view target,
                    const std::function<StatusOr<bool>(const std::string& key)>& apply_other) {
  std::vector<std::string> applied;
  std::vector<std::string> need_restart;
  for (const auto& key : fresh.changed_keys(running)) {
    if (key == "log.level") {
      log::Level level = log::Level::kInfo;
      log::parse_level(fresh.get_string("log.level"), &level);
      logger.set_level(level);
      applied.push_back(key);
    } else if (key == "http.rate_limit_per_s" || key == "http.rate_limit_burst") {
      rate_limit.configure(fresh.get_double("http.rate_limit_per_s"),
                           fresh.get_double("http.rate_limit_burst"));
      applied.push_back(key);
    } else {
      StatusOr<bool> done = apply_other ? apply_other(key) : StatusOr<bool>(false);
      if (!done.ok()) return done.status();
      (*done ? applied : need_restart).push_back(key);
    }
  }
  logger.info("reloaded", {{"applied", nlohmann::json(applied).dump()},
                           {"need_restart", nlohmann::json(need_restart).dump()}});
  auto recorded = audit.record("signal:SIGHUP", "system", "config.reload", target,
                               {{"applied", applied}, {"need_restart", need_restart}}, "");
  if (!recorded.ok()) {
    logger.warn("audit_record_failed", {{"error", recorded.status().to_string()}});
  }
  return Status::ok();
}

http::Response audit_query_response(const AuditLog& audit, const http::Request& request) {
  AuditQuery q;
  std::optional<std::int64_t> limit, cursor, since;
  for (Status st : {int_query(request, "limit", 1, 1000, &limit),
                    int_query(request, "cursor", 0, INT64_MAX, &cursor),
                    int_query(request, "since_ms", 0, INT64_MAX, &since)}) {
    if (!st.is_ok()) return http::Response::error(st);
  }
  if (limit) q.limit = static_cast<int>(*limit);
  if (cursor) q.cursor = *cursor;
  if (since) q.since = from_unix_ms(*since);
  q.actor = request.query_param("actor").value_or("");
  q.action = request.query_param("action").value_or("");
  auto page = audit.query(q);
  if (!page.ok()) return http::Response::error(page.status());
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : page->entries) {
    entries.push_back({{"id", e.id},
                       {"ts_ms", e.ts_ms},
                       {"actor", e.actor},
                       {"role", e.role},
                       {"action", e.action},
                       {"target", e.target},
                       {"details", e.details},
                       {"remote_addr", e.remote_addr}});
  }
  return http::Response::json(
      200, {{"entries", entries}, {"next_cursor", page->next_cursor}, {"more", page->more}});
}

}  // namespace shopeasy::security
