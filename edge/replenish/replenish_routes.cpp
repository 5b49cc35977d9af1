#include "edge/replenish/replenish_routes.hpp"

#include "common/http/request_helpers.hpp"
#include "common/wire/basics.hpp"
#include "common/wire/json_fields.hpp"
#include "edge/api/inventory_routes.hpp"

namespace shopeasy::edge::replenish {

namespace {

using http::Access;
using http::json_body;
using http::reply;
using http::Request;
using http::Response;

const std::vector<std::string> kManagers = {"manager", "admin"};

template <typename T, typename F>
Response reply_with(const StatusOr<T>& result, F&& to_json, int ok_status = 200) {
  if (!result.ok()) return Response::error(result.status());
  return reply(to_json(*result), ok_status);
}

// The supplier fields of a POST or PUT body; `id` from the path for a PUT.
StatusOr<Supplier> supplier_of(const nlohmann::json& body, const std::optional<std::string>& id) {
  Supplier s;
  wire::FieldReader r(body, "");
  if (id) {
    s.id = *id;
  } else {
    r.required_string("id", &s.id, wire::kIdRule);
  }
  r.required_string("name", &s.name,
                    {.max_len = 200, .non_empty = true, .charset = wire::CharSet::kPrintable});
  // Lead time read wide so 0 or 400 reach validate_supplier's message.
  r.required_int("lead_time_days", &s.lead_time_days, -100000, 100000);
  std::optional<std::string> days;
  r.optional_string("order_days", &days, {.max_len = 64, .non_empty = true});
  r.optional_int("min_order_qty", &s.min_order_qty, -1'000'000'000, 1'000'000'000);
  r.optional_int("pack_size", &s.pack_size, -1'000'000'000, 1'000'000'000);
  std::optional<bool> active;
  r.optional_bool("active", &active);
  if (!r.ok()) return r.status();
  if (days) {
    SHOPEASY_ASSIGN_OR_RETURN(s.order_days, parse_order_days(*days, "order_days"));
  }
  s.active = active.value_or(true);
  SHOPEASY_RETURN_IF_ERROR(validate_supplier(s));
  return s;
}

}  // namespace

void register_replenish_routes(http::HttpServer& server, Replenishment& service) {
  Replenishment* svc = &service;

  server.route("GET", "/api/suppliers", Access::roles_of(kManagers), [svc](const Request&) {
    auto list = svc->list_suppliers();
    return reply_with(list, [](const std::vector<SupplierRecord>& v) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& s : v) items.push_back(supplier_json(s));
      return nlohmann::json{{"items", std::move(items)}};
    });
  });

  server.route("POST", "/api/suppliers", Access::roles_of(kManagers).audited("supplier.create"),
               [svc](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 auto s = supplier_of(*body, std::nullopt);
                 if (!s.ok()) return Response::error(s.status());
                 return reply_with(svc->create_supplier(*s), supplier_json, 201);
               });

  server.route("GET", R"(/api/suppliers/([^/]+))", Access::roles_of(kManagers),
               [svc](const Request& req) {
                 return reply_with(svc->get_supplier(req.params[0]), supplier_json);
               });

  server.route("PUT", R"(/api/suppliers/([^/]+))",
               Access::roles_of(kManagers).audited("supplier.update"), [svc](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 auto s = supplier_of(*body, req.params[0]);
                 if (!s.ok()) return Response::error(s.status());
                 return reply_with(svc->update_supplier(*s), supplier_json);
               });

  server.route("DELETE", R"(/api/suppliers/([^/]+))",
               Access::roles_of(kManagers).audited("supplier.deactivate"),
               [svc](const Request& req) {
                 return reply_with(svc->deactivate_supplier(req.params[0]), supplier_json);
               });

  server.route("PUT", R"(/api/suppliers/([^/]+)/skus/([^/]+))",
               Access::roles_of(kManagers).audited("supplier.link_sku"), [svc](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 SkuSupply link;
                 link.supplier_id = req.params[0];
                 link.sku = req.params[1];
                 wire::FieldReader r(*body, "");
                 std::optional<double> level;
                 r.optional_double("service_level", &level);
                 r.optional_int("shelf_life_days", &link.shelf_life_days, -1'000'000, 1'000'000);
                 r.optional_int("pack_size", &link.pack_size, -1'000'000'000, 1'000'000'000);
                 if (!r.ok()) return Response::error(r.status());
                 link.service_level = level.value_or(kDefaultServiceLevel);
                 return reply_with(svc->link_sku(link), supplier_json);
               });

  server.route("DELETE", R"(/api/suppliers/([^/]+)/skus/([^/]+))",
               Access::roles_of(kManagers).audited("supplier.unlink_sku"),
               [svc](const Request& req) {
                 return reply_with(svc->unlink_sku(req.params[0], req.params[1]), supplier_json);
               });

  server.route("GET", "/api/replenishment/proposal", Access::roles_of(kManagers),
               [svc](const Request& req) {
                 auto supplier = http::string_param(req, "supplier", 64);
                 auto sku = http::string_param(req, "sku", 64);
                 auto to_order = http::int_param(req, "to_order", 0, 1);
                 for (const Status* st : {&supplier.status(), &sku.status(), &to_order.status()}) {
                   if (!st->is_ok()) return Response::error(*st);
                 }
                 ProposalQuery q{*supplier, *sku, to_order->value_or(0) == 1};
                 return reply_with(svc->proposal(q), proposal_report_json);
               });

  server.route("GET", "/api/purchase-orders", Access::roles_of(kManagers),
               [svc](const Request& req) {
                 auto status = http::string_param(req, "status", 32);
                 auto limit = http::int_param(req, "limit", 1, 500);
                 for (const Status* st : {&status.status(), &limit.status()}) {
                   if (!st->is_ok()) return Response::error(*st);
                 }
                 std::optional<PoStatus> wanted;
                 if (*status) {
                   auto parsed = parse_po_status(**status, "status");
                   if (!parsed.ok()) return Response::error(parsed.status());
                   wanted = *parsed;
                 }
                 auto list = svc->list_pos(wanted, static_cast<int>(limit->value_or(50)));
                 return reply_with(list, [](const std::vector<PurchaseOrder>& v) {
                   nlohmann::json items = nlohmann::json::array();
                   for (const auto& po : v) items.push_back(purchase_order_json(po));
                   return nlohmann::json{{"items", std::move(items)}};
                 });
               });

  server.route("POST", "/api/purchase-orders",
               Access::roles_of(kManagers).audited("purchase_order.create"),
               [svc](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 PoCreate in;
                 wire::FieldReader r(*body, "");
                 r.required_string("request_id", &in.request_id, wire::kIdRule);
                 r.required_string("supplier_id", &in.supplier_id, wire::kIdRule);
                 r.optional_string("note", &in.note, wire::kTextRule);
                 r.optional_array("lines", 1, 500, [&](wire::FieldReader& item, std::size_t) {
                   PoLineInput line;
                   item.required_string("sku", &line.sku, wire::kIdRule);
                   item.required_int("qty", &line.qty, 1, 1'000'000);
                   in.lines.push_back(std::move(line));
                 });
                 if (!r.ok()) return Response::error(r.status());
                 auto po = svc->create_po(in, api::actor_of(req));
                 if (!po.ok()) return Response::error(po.status());
                 return reply(purchase_order_json(*po), po->duplicate ? 200 : 201);
               });

  server.route("GET", R"(/api/purchase-orders/([^/]+))", Access::roles_of(kManagers),
               [svc](const Request& req) {
                 return reply_with(svc->get_po(req.params[0]), purchase_order_json);
               });

  server.route(
      "POST", R"(/api/purchase-orders/([^/]+)/send)",
      Access::roles_of(kManagers).audited("purchase_order.send"), [svc](const Request& req) {
        return reply_with(svc->send_po(req.params[0], api::actor_of(req)), purchase_order_json);
      });

  server.route(
      "POST", R"(/api/purchase-orders/([^/]+)/cancel)",
      Access::roles_of(kManagers).audited("purchase_order.cancel"), [svc](const Request& req) {
        std::optional<std::string> reason;
        if (!req.body.empty()) {
          auto body = json_body(req);
          if (!body.ok()) return Response::error(body.status());
          wire::FieldReader r(*body, "");
          r.optional_string("reason", &reason, wire::kTextRule);
          if (!r.ok()) return Response::error(r.status());
        }
        return reply_with(svc->cancel_po(req.params[0], reason.value_or(""), api::actor_of(req)),
                          purchase_order_json);
      });

  server.route("POST", R"(/api/purchase-orders/([^/]+)/receive)",
               Access::roles_of(kManagers).audited("purchase_order.receive"),
               [svc](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 PoReceive in;
                 wire::FieldReader r(*body, "");
                 r.required_string("receipt_id", &in.receipt_id, wire::kIdRule);
                 r.optional_int("line_no", &in.line_no, 1, 100000);
                 r.optional_string("code", &in.code, {.max_len = 256, .non_empty = true});
                 r.required_int("qty", &in.qty, 1, 1'000'000);
                 r.optional_string("bin", &in.bin, wire::kIdRule);
                 r.optional_string("lot", &in.lot, wire::kIdRule);
                 r.optional_date("expiry", &in.expiry);
                 if (!r.ok()) return Response::error(r.status());
                 auto receipt = svc->receive(req.params[0], in, api::actor_of(req));
                 if (!receipt.ok()) return Response::error(receipt.status());
                 return reply(po_receipt_json(*receipt), receipt->duplicate ? 200 : 201);
               });
}

}  // namespace shopeasy::edge::replenish
