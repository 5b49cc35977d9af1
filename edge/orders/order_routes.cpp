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

// The body of a POST whose body is optional: an empty body (or none) reads as {}.
StatusOr<nlohmann::json> optional_json_body(const http::Request& req) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return nlohmann::json::object();
  }
  return http::json_body(req);
}

// A claim refused because another picker holds the order: the usual error shape (409,
// failed_precondition) with, next to it, reason and who holds it, so the handheld can move on
// to the next order and say why.
http::Response claim_refused(const Status& status, const std::optional<ClaimHolder>& held_by) {
  if (!held_by) return http::Response::error(status);
  nlohmann::json body = nlohmann::json::parse(http::error_body(status));
  body["reason"] = kClaimedByOther;
  body["picker"] = held_by->picker;
  body["picker_seen_at_ms"] = held_by->picker_seen_at_ms;
  body["stale_at_ms"] = held_by->stale_at_ms;
  return http::Response::json(http::http_status_for(status.code()), body);
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

  server.route("POST", R"(/api/orders/([^/]+)/pick)", Access::roles_of(kPickers),
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
                 std::optional<ClaimHolder> held_by;
                 auto result =
                     book.pick(req.params[0], scan, api::actor_of(req, scanner.value_or("")),
                               {.may_override = is_manager(req), .held_by = &held_by});
                 if (!result.ok()) return claim_refused(result.status(), held_by);
                 return reply(result);
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
                 std::optional<ClaimHolder> held_by;
                 auto result =
                     book.short_pick(req.params[0], request, api::actor_of(req),
                                     {.may_override = is_manager(req), .held_by = &held_by});
                 if (!result.ok()) return claim_refused(result.status(), held_by);
                 return reply(result);
               });

  server.route("POST", R"(/api/orders/([^/]+)/pack)", Access::roles_of(kPickers),
               [&book](const Request& req) {
                 auto body = optional_json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 std::optional<std::int64_t> bags;
                 wire::FieldReader r(*body, "");
                 r.optional_int("bags", &bags, std::int64_t{1}, kMaxBags);
                 if (!r.ok()) return Response::error(r.status());
                 std::optional<ClaimHolder> held_by;
                 auto result = book.pack(req.params[0], api::actor_of(req), bags,
                                         {.may_override = is_manager(req), .held_by = &held_by});
                 if (!result.ok()) return claim_refused(result.status(), held_by);
                 return reply(result);
               });

  // claim and release share their body ({"take_over": true}, managers only) and answer.
  for (const bool claiming : {true, false}) {
    server.route("POST",
                 claiming ? R"(/api/orders/([^/]+)/claim)" : R"(/api/orders/([^/]+)/release)",
                 Access::roles_of(kPickers), [&book, claiming](const Request& req) {
                   auto body = optional_json_body(req);
                   if (!body.ok()) return Response::error(body.status());
                   std::optional<bool> take_over;
                   wire::FieldReader r(*body, "");
                   r.optional_bool("take_over", &take_over);
                   if (!r.ok()) return Response::error(r.status());
                   if (take_over.value_or(false) && !is_manager(req)) {
                     return Response::error(
                         Status(StatusCode::kPermissionDenied,
                                "taking over another picker's order needs a manager", "take_over"));
                   }
                   std::optional<ClaimHolder> held_by;
                   auto result = claiming ? book.claim(req.params[0], api::actor_of(req),
                                                       take_over.value_or(false), &held_by)
                                          : book.release(req.params[0], api::actor_of(req),
                                                         take_over.value_or(false), &held_by);
                   if (!result.ok()) return claim_refused(result.status(), held_by);
                   return reply(result);
                 });
  }
}

}  // namespace shopeasy::edge::orders
