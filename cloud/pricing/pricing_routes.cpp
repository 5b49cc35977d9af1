#include "cloud/pricing/pricing_routes.hpp"

#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::pricing {

using http::Access;
using http::Request;
using http::Response;

namespace {

constexpr const char* kId = "([A-Za-z0-9_.-]{1,64})";

}  // namespace

void register_pricing_routes(http::HttpServer& server, PricingService& service) {
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
