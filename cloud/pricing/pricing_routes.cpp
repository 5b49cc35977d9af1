#include "cloud/pricing/pricing_routes.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::pricing {

using http::Access;
using http::Request;
using http::Response;

namespace {

constexpr const char* kId = "([A-Za-z0-9_.-]{1,64})";

// The longest a store's request for its pricing view is held open: under the edge
// client's read timeout (15 s), so a held request never reads as a dead cloud.
constexpr std::int64_t kMaxViewWaitMs = 10'000;
// How often a held request looks at the cheap key (settings, fee), and how often it
// rebuilds the whole view regardless (served prices, lots and overrides change without
// moving the key).
constexpr std::chrono::milliseconds kViewCheckEvery{200};
constexpr std::chrono::milliseconds kViewRebuildEvery{5'000};

// One store waiting for its view to differ from the version it holds. It rides on the
// server's streamed responses, which hold a connection thread but never a handler
// slot, so stores waiting cannot starve the API. The answer is one JSON document: the
// view as soon as its version differs, or the unchanged view at the deadline.
struct ViewWait {
  PricingService* service = nullptr;
  http::HttpServer* server = nullptr;
  std::string store_id;
  std::string known_version;
  std::chrono::steady_clock::time_point deadline{};
  std::chrono::steady_clock::time_point next_rebuild{};
  std::uint64_t key = 0;
  std::uint64_t generation = 0;
  bool started = false;

  bool answer(http::StreamWriter& w, const StorePricing& view) {
    w.write(store_pricing_json(view).dump());
    return false;
  }

  bool step(http::StreamWriter& w) {
    if (!server->running()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (started) {
      service->wait_for_change(
          generation,
          std::min(kViewCheckEvery,
                   std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)));
    }
    generation = service->generation();
    StatusOr<std::uint64_t> k = service->store_pricing_key(store_id);
    if (!k.ok()) return false;  // the store failed: the edge retries with backoff
    const auto after = std::chrono::steady_clock::now();
    const bool timed_out = after >= deadline;
    if (started && *k == key && after < next_rebuild && !timed_out) return true;
    started = true;
    key = *k;
    next_rebuild = after + kViewRebuildEvery;
    StatusOr<StorePricing> view = service->store_pricing(store_id);
    if (!view.ok()) return false;
    if (timed_out || store_pricing_version(*view) != known_version) return answer(w, *view);
    return true;
  }
};

}  // namespace

void register_pricing_routes(http::HttpServer& server, PricingService& service) {
  // A store's own pricing view; `version` the one it holds and `wait_ms` (0..10000) how
  // long to hold the request while the view is still that version.
  server.route("GET", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/pricing)",
               Access::roles_of({"store", "admin"}), [&service, &server](const Request& r) {
                 const std::string& id = r.params[0];
                 if (r.principal.role == "store" && r.principal.subject != id) {
                   return Response::error(Status(
                       StatusCode::kPermissionDenied,
                       "store " + r.principal.subject + " may not read the prices of " + id));
                 }
                 auto version = http::string_param(r, "version", 32);
                 if (!version.ok()) return Response::error(version.status());
                 auto wait = http::int_param(r, "wait_ms", 0, kMaxViewWaitMs);
                 if (!wait.ok()) return Response::error(wait.status());
                 if (wait->value_or(0) == 0 || !version->has_value()) {
                   StatusOr<StorePricing> view = service.store_pricing(id);
                   if (!view.ok()) return Response::error(view.status());
                   return Response::json(200, store_pricing_json(*view));
                 }
                 auto state = std::make_shared<ViewWait>();
                 state->service = &service;
                 state->server = &server;
                 state->store_id = id;
                 state->known_version = **version;
                 state->deadline = std::chrono::steady_clock::now() +
                                   std::chrono::milliseconds(wait->value_or(0));
                 Response resp;
                 resp.content_type = "application/json";
                 resp.stream = [state](http::StreamWriter& w) { return state->step(w); };
                 return resp;
               });
  server.route("POST", "/api/quote", Access::roles_of({"customer", "admin"}),
               [&service](const Request& r) {
                 // Only the body: the caller's identity and headers never reach a price.
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.quote(*body));
               });
  server.route(
      "GET", std::string("/v1/prices/models/") + kId, Access::roles_of({"admin"}),
      [&service](const Request& r) { return http::reply(service.get_model(r.params[0])); });
  server.route("PUT", std::string("/v1/prices/models/") + kId,
               Access::roles_of({"admin"}).audited("pricing.model.put"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.put_model(r.params[0], "", *body));
               });
  server.route("PUT", std::string("/v1/prices/models/") + kId + "/stores/" + kId,
               Access::roles_of({"admin"}).audited("pricing.model.put"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.put_model(r.params[0], r.params[1], *body));
               });
  server.route(
      "GET", "/v1/prices/history", Access::roles_of({"admin"}), [&service](const Request& r) {
        auto sku = http::string_param(r, "sku", 64);
        if (!sku.ok()) return Response::error(sku.status());
        auto store = http::string_param(r, "store_id", 64);
        if (!store.ok()) return Response::error(store.status());
        auto after = http::int_param(r, "after", 0, std::numeric_limits<std::int64_t>::max());
        if (!after.ok()) return Response::error(after.status());
        auto limit = http::int_param(r, "limit", 1, 1000);
        if (!limit.ok()) return Response::error(limit.status());
        return http::reply(service.history(sku->value_or(""), store->value_or(""),
                                           after->value_or(0),
                                           static_cast<int>(limit->value_or(100))));
      });
  server.route("POST", "/v1/prices/competitor",
               Access::roles_of({"admin"}).audited("pricing.competitor.import"),
               [&service](const Request& r) {
                 const std::string type = r.header("Content-Type");
                 const bool json = type.rfind("application/json", 0) == 0;
                 if (!json && type.rfind("text/csv", 0) != 0) {
                   return Response::error(Status(StatusCode::kUnsupportedMediaType,
                                                 "Content-Type must be text/csv or "
                                                 "application/json"));
                 }
                 return http::reply(service.import_competitor_feed(r.body, json));
               });
  server.route("POST", "/v1/prices/approvals",
               Access::roles_of({"admin"}).audited("pricing.price.approve"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.approve(*body));
               });
  server.route("GET", "/v1/pricing", Access::roles_of({"admin"}),
               [&service](const Request&) { return http::reply(service.get_config()); });
  server.route("PUT", "/v1/pricing", Access::roles_of({"admin"}).audited("pricing.config.put"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.put_config(*body));
               });
  // The kill switch alone: {"enabled": false} turns dynamic pricing off. The /ops page
  // may call it with its session cookie (see cloud/api/operator_sessions.hpp), which
  // is why it takes nothing else of the configuration.
  server.route("PUT", "/v1/pricing/enabled",
               Access::roles_of({"admin"}).audited("pricing.switch.put"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 auto enabled = body->find("enabled");
                 if (enabled == body->end() || !enabled->is_boolean()) {
                   return Response::error(invalid_argument("must be true or false", "enabled"));
                 }
                 if (body->size() != 1) {
                   return Response::error(
                       invalid_argument("only \"enabled\" may be set here; PUT /v1/pricing "
                                        "changes the rest"));
                 }
                 return http::reply(service.put_config({{"enabled", enabled->get<bool>()}}));
               });
  server.route("PUT", std::string("/v1/pricing/signals/") + kId,
               Access::roles_of({"admin"}).audited("pricing.signal.put"),
               [&service](const Request& r) {
                 StatusOr<nlohmann::json> body = http::json_body(r);
                 if (!body.ok()) return Response::error(body.status());
                 return http::reply(service.put_signal(r.params[0], *body));
               });
}

}  // namespace shopeasy::cloud::pricing
