#include "cloud/notify/notify_routes.hpp"

#include <climits>

#include "cloud/notify/outbox_rules.hpp"
#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::notify {
namespace {

nlohmann::json row_json(const storage::NotificationRow& n) {
  nlohmann::json j = {{"id", n.dedupe_key},
                      {"order_id", n.order_id},
                      {"event_seq", n.event_seq},
                      {"channel", n.channel},
                      {"kind", n.kind},
                      {"state", n.state},
                      {"attempts", n.attempts},
                      {"created_at_ms", n.created_at_ms},
                      {"updated_at_ms", n.updated_at_ms}};
  if (n.channel == kSms) j["text"] = sms_text(n);
  if (n.body.contains("eta_ms")) j["eta_ms"] = n.body["eta_ms"];
  return j;
}

}  // namespace

void register_notify_routes(http::HttpServer& server, storage::NotificationStore& store,
                            const Clock& clock, metrics::Registry& metrics) {
  metrics::CounterFamily& bad =
      metrics.counter_family("cloud_notify_bad_requests_total",
                             "Notification requests refused for bad input, by route", {"route"});
  metrics::Counter& bad_prefs = bad.with({"preferences"});
  metrics::Counter& bad_list = bad.with({"notifications"});
  const http::Access customers = http::Access::roles_of({"customer"});

  server.route("GET", "/api/me/notification-preferences", customers,
               [&store](const http::Request& r) {
                 StatusOr<std::optional<nlohmann::json>> stored =
                     store.notification_prefs(r.principal.subject);
                 if (!stored.ok()) return http::Response::error(stored.status());
                 const Preferences p =
                     stored->has_value() ? stored_preferences(**stored) : default_preferences();
                 return http::Response::json(200, p.to_json());
               });

  server.route("PUT", "/api/me/notification-preferences", customers,
               [&store, &clock, &bad_prefs](const http::Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) {
                   bad_prefs.inc();
                   return http::Response::error(body.status());
                 }
                 StatusOr<Preferences> p = parse_preferences(*body);
                 if (!p.ok()) {
                   bad_prefs.inc();
                   return http::Response::error(p.status());
                 }
                 const Status saved = store.put_notification_prefs(
                     r.principal.subject, p->to_json(), to_unix_ms(clock.wall_now()));
                 if (!saved.is_ok()) return http::Response::error(saved);
                 return http::Response::json(200, p->to_json());
               });

  server.route(
      "GET", "/api/me/notifications", customers, [&store, &bad_list](const http::Request& r) {
        StatusOr<std::optional<std::int64_t>> limit = http::int_param(r, "limit", 1, 100);
        if (!limit.ok()) {
          bad_list.inc();
          return http::Response::error(limit.status());
        }
        StatusOr<std::optional<std::int64_t>> cursor = http::int_param(r, "cursor", 1, INT64_MAX);
        if (!cursor.ok()) {
          bad_list.inc();
          return http::Response::error(cursor.status());
        }
        const int n = static_cast<int>(limit->value_or(20));
        StatusOr<std::vector<storage::NotificationRow>> page =
            store.customer_notifications(r.principal.subject, cursor->value_or(INT64_MAX), n);
        if (!page.ok()) return http::Response::error(page.status());
        nlohmann::json items = nlohmann::json::array();
        for (const storage::NotificationRow& row : *page) items.push_back(row_json(row));
        nlohmann::json next = nullptr;
        if (static_cast<int>(page->size()) == n) next = std::to_string(page->back().id);
        return http::Response::json(200, {{"notifications", items}, {"next_cursor", next}});
      });
}

}  // namespace shopeasy::cloud::notify
