#include "edge/orders/order_routes.hpp"

#include "common/http/request_helpers.hpp"
#include "common/wire/basics.hpp"
#include "common/wire/json_fields.hpp"
#include "common/wire/order.hpp"
#include "edge/api/inventory_routes.hpp"

namespace shopeasy::edge::orders {

namespace {

const std::vector<std::string> kPickers = {"picker", "manager", "admin"};
const std::vector<std::string> kManagers = {"manager", "admin"};

bool is_manager(const http::Request& req) {
  return req.principal.role == "manager" || req.principal.role == "admin";
}

}  // namespace

void register_order_routes(http::HttpServer& server, OrderBook& book) {
  using http::Access;
  using http::json_body;
  using http::reply;
  using http::Request;
  using http::Response;

  server.route("GET", "/api/orders", Access::roles_of(kPickers), [&book](const Request& req) {
    auto status = http::string_param(req, "status", 32);
    auto cursor = http::string_param(req, "cursor", 64);
    auto limit = http::int_param(req, "limit", 1, 500);
    for (const Status* st : {&status.status(), &cursor.status(), &limit.status()}) {
      if (!st->is_ok()) return Response::error(*st);
    }
    return reply(book.list(*status, *cursor, static_cast<int>(limit->value_or(50))));
  });

  server.route("GET", R"(/api/orders/([^/]+))", Access::roles_of(kPickers),
               [&book](const Request& req) { return reply(book.get(req.params[0])); });

  server.route("GET", R"(/api/orders/([^/]+)/picklist)", Access::roles_of(kPickers),
               [&book](const Request& req) { return reply(book.picklist(req.params[0])); });

  server.route("POST", R"(/api/orders/([^/]+)/accept)", Access::roles_of(kPickers),
               [&book](const Request& req) {
                 return reply(book.accept(req.params[0], api::actor_of(req)));
               });

  server.route("POST", R"(/api/orders/([^/]+)/refuse)",
               Access::roles_of(kManagers).audited("order.refuse"), [&book](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 std::string reason;
                 wire::FieldReader r(*body, "");
                 r.required_string(
                     "reason", &reason,
                     {.max_len = 200, .non_empty = true, .charset = wire::CharSet::kPrintable});
                 if (!r.ok()) return Response::error(r.status());
                 return reply(book.refuse(req.params[0], reason, api::actor_of(req)));
               });

  server.route(
      "POST", R"(/api/orders/([^/]+)/pick)", Access::roles_of(kPickers),
      [&book](const Request& req) {
        auto body = json_body(req);
        if (!body.ok()) return Response::error(body.status());
        PickScan scan;
        wire::FieldReader r(*body, "");
        r.required_string("code", &scan.code, {.max_len = 256, .non_empty = true});
        r.optional_string("bin", &scan.bin, {.max_len = 64, .non_empty = true});
        r.optional_int("qty", &scan.qty, std::int64_t{1}, wire::kMaxLineQty);
        r.optional_string("scan_id", &scan.scan_id, wire::kIdRule);
        std::optional<std::string> scanner;
        r.optional_string("scanner_id", &scanner, wire::kTokenIdRule);
        if (!r.ok()) return Response::error(r.status());
        return reply(book.pick(req.params[0], scan, api::actor_of(req, scanner.value_or(""))));
      });

  server.route("POST", R"(/api/orders/([^/]+)/short)",
               Access::roles_of(kPickers).audited("order.short_pick"), [&book](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 ShortPick request;
                 std::string action;
                 wire::FieldReader r(*body, "");
                 r.required_string("sku", &request.sku, wire::kIdRule);
                 r.required_string("action", &action, {.max_len = 32, .non_empty = true});
                 r.optional_string("substitute_sku", &request.substitute_sku, wire::kIdRule);
                 if (r.ok() && action != "substitute" && action != "cancel_line") {
                   r.fail("action", "must be substitute or cancel_line");
                 }
                 if (!r.ok()) return Response::error(r.status());
                 request.substitute = action == "substitute";
                 if (request.substitute && !is_manager(req)) {
                   return Response::error(
                       Status(StatusCode::kPermissionDenied, "a substitution needs a manager"));
                 }
                 return reply(book.short_pick(req.params[0], request, api::actor_of(req)));
               });

  server.route(
      "POST", R"(/api/orders/([^/]+)/pack)", Access::roles_of(kPickers),
      [&book](const Request& req) { return reply(book.pack(req.params[0], api::actor_of(req))); });
}

}  // namespace shopeasy::edge::orders
