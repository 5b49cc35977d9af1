#include "edge/api/inventory_routes.hpp"

#include <ctime>

#include "common/http/request_helpers.hpp"
#include "common/wire/scan.hpp"
#include "edge/api/catalog_import.hpp"
#include "edge/inventory/inventory_json.hpp"

namespace shopeasy::edge::api {

namespace {

const std::vector<std::string> kReaders = {"viewer", "picker", "manager", "admin"};
const std::vector<std::string> kScanners = {"picker", "manager", "admin"};
const std::vector<std::string> kManagers = {"manager", "admin"};

std::string utc_date(WallTime t) {
  const std::time_t secs = static_cast<std::time_t>(to_unix_ms(t) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// Accepts "12", "\"12\"" and W/"12".
std::optional<std::int64_t> parse_etag(std::string text) {
  if (text.rfind("W/", 0) == 0) text = text.substr(2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty()) return std::nullopt;
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > (1LL << 53)) return std::nullopt;
  }
  return v;
}

http::Response with_etag(http::Response r, std::int64_t version) {
  r.with_header("ETag", "\"" + std::to_string(version) + "\"");
  return r;
}

// The typed results of the inventory services as the API's JSON (inventory_json.hpp);
// errors pass through to the error shape.
template <typename T, typename ToJson>
StatusOr<nlohmann::json> as_json(const StatusOr<T>& result, ToJson to_json) {
  if (!result.ok()) return result.status();
  return to_json(*result);
}

}  // namespace

inventory::Actor actor_of(const http::Request& request, std::string_view scanner_id) {
  return inventory::Actor{request.principal.subject, scanner_id.empty()
                                                         ? std::string("api")
                                                         : "scanner:" + std::string(scanner_id)};
}

void register_inventory_routes(http::HttpServer& server, inventory::Inventory& inv,
                               const Clock& clock, InventoryRouteOptions options) {
  using http::Access;
  using http::reply;
  using http::Request;
  using http::Response;

  server.route("POST", "/api/scans", Access::roles_of(kScanners), [&inv](const Request& req) {
    auto body = json_body(req);
    if (!body.ok()) return Response::error(body.status());
    auto scan = wire::decode_scan(*body);
    if (!scan.ok()) return Response::error(scan.status());
    if (scan->action == wire::ScanAction::kAdjust && req.principal.role == "picker") {
      return Response::error(
          Status(StatusCode::kPermissionDenied, "a picker may not adjust stock; ask a manager"));
    }
    return reply(
        as_json(inv.scan(*scan, actor_of(req, scan->scanner_id)), inventory::scan_result_json));
  });

  server.route("GET", "/api/stock", Access::roles_of(kReaders), [&inv](const Request& req) {
    inventory::StockQuery q;
    auto text = string_param(req, "q");
    auto category = string_param(req, "category", 64);
    auto bin = string_param(req, "bin", 64);
    auto cursor = string_param(req, "cursor", 64);
    auto limit = int_param(req, "limit", 1, 500);
    for (const Status* st :
         {&text.status(), &category.status(), &bin.status(), &cursor.status(), &limit.status()}) {
      if (!st->is_ok()) return Response::error(*st);
    }
    q.text = *text;
    q.category = *category;
    q.bin = *bin;
    q.after_sku = *cursor;
    q.limit = static_cast<int>(limit->value_or(50));
    q.low_only =
        req.query_param("low").value_or("") == "1" || req.query_param("low").value_or("") == "true";
    return reply(as_json(inv.stock_page(q), inventory::stock_page_json));
  });

  server.route("GET", R"(/api/stock/([^/]+))", Access::roles_of(kReaders),
               [&inv](const Request& req) {
                 auto item = inv.stock_item(req.params[0]);
                 auto response = reply(as_json(item, inventory::stock_item_json));
                 return item.ok() ? with_etag(std::move(response), item->level.version) : response;
               });

  server.route("PATCH", R"(/api/inventory/([^/]+))",
               Access::roles_of(kManagers).audited("stock.adjust"), [&inv](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 inventory::StockEdit edit;
                 edit.sku = req.params[0];
                 wire::FieldReader r(*body, "");
                 r.required_string("bin", &edit.bin, {.max_len = 64, .non_empty = true});
                 r.optional_string("lot", &edit.lot, {.max_len = 64});
                 r.optional_int("set", &edit.set, std::int64_t{0}, std::int64_t{10'000'000});
                 r.optional_int("adjust", &edit.adjust, std::int64_t{-10'000'000},
                                std::int64_t{10'000'000});
                 r.required_string("reason", &edit.reason, {.max_len = 32, .non_empty = true});
                 r.optional_string("note", &edit.note, {.max_len = 500});
                 std::optional<std::int64_t> version;
                 r.optional_int("version", &version, std::int64_t{0}, std::int64_t{1} << 53);
                 if (!r.ok()) return Response::error(r.status());
                 edit.expected_version = version;
                 if (auto match = req.header("If-Match"); !match.empty() && match != "*") {
                   auto v = parse_etag(match);
                   if (!v) {
                     return Response::error(
                         invalid_argument("If-Match must be an ETag like \"12\"", "If-Match"));
                   }
                   edit.expected_version = v;
                 }
                 auto edited = inv.edit_stock(edit, actor_of(req));
                 auto response = reply(as_json(edited, inventory::stock_edited_json));
                 return edited.ok() ? with_etag(std::move(response), edited->version) : response;
               });

  server.route("GET", "/api/ledger", Access::roles_of(kReaders), [&inv](const Request& req) {
    inventory::LedgerQuery q;
    auto sku = string_param(req, "sku", 64);
    auto reason = string_param(req, "reason", 32);
    auto since = int_param(req, "since", 0, INT64_MAX);
    auto until = int_param(req, "until", 0, INT64_MAX);
    auto cursor = int_param(req, "cursor", 1, INT64_MAX);
    auto limit = int_param(req, "limit", 1, 1000);
    for (const Status* st : {&sku.status(), &reason.status(), &since.status(), &until.status(),
                             &cursor.status(), &limit.status()}) {
      if (!st->is_ok()) return Response::error(*st);
    }
    q.sku = *sku;
    q.reason = *reason;
    q.since_ms = *since;
    q.until_ms = *until;
    q.before_id = *cursor;
    q.limit = static_cast<int>(limit->value_or(100));
    return reply(as_json(inv.movements(q), inventory::ledger_page_json));
  });

  server.route(
      "GET", "/api/alerts", Access::roles_of(kReaders),
      [&inv, &clock, options](const Request& req) {
        auto days = int_param(req, "expiry_days", 0, 365);
        if (!days.ok()) return Response::error(days.status());
        return reply(inv.alerts(utc_date(clock.wall_now()),
                                static_cast<int>(days->value_or(options.default_expiry_days))));
      });

  server.route(
      "POST", "/api/catalog", Access::roles_of(kManagers).audited("catalog.import"),
      [&inv](const Request& req) {
        std::string type = req.header("Content-Type");
        type = type.substr(0, type.find(';'));
        const bool atomic = req.query_param("atomic").value_or("") == "true" ||
                            req.query_param("atomic").value_or("") == "1";
        StatusOr<std::vector<StatusOr<inventory::ProductInput>>> rows =
            invalid_argument("unreachable");
        if (type == "text/csv") {
          rows = parse_catalog_csv(req.body);
        } else if (type == "application/json") {
          rows = parse_catalog_json(req.body);
        } else {
          return Response::error(Status(StatusCode::kUnsupportedMediaType,
                                        "send the catalog as text/csv or application/json"));
        }
        if (!rows.ok()) return Response::error(rows.status());
        return reply(inv.upsert_products(*rows, atomic, actor_of(req)));
      });

  server.route(
      "POST", "/api/bins", Access::roles_of(kManagers).audited("bins.upsert"),
      [&inv](const Request& req) {
        auto body = json_body(req);
        if (!body.ok()) return Response::error(body.status());
        std::vector<inventory::BinInput> bins;
        wire::FieldReader r(*body, "");
        r.required_array("bins", 1, 5000, [&](wire::FieldReader& b, std::size_t) {
          inventory::BinInput bin;
          b.required_string("code", &bin.code, {.max_len = 64, .non_empty = true});
          b.optional_int("walk_order", &bin.walk_order, std::int64_t{0}, std::int64_t{1'000'000});
          std::optional<std::string> zone;
          b.optional_string("zone", &zone, {.max_len = 32});
          bin.zone = zone.value_or("");
          bins.push_back(std::move(bin));
        });
        if (!r.ok()) return Response::error(r.status());
        return reply(as_json(inv.upsert_bins(bins, actor_of(req)), [](std::size_t applied) {
          return nlohmann::json{{"applied", applied}};
        }));
      });

  server.route("POST", "/api/counts", Access::roles_of(kManagers).audited("count.open"),
               [&inv](const Request& req) {
                 auto body = json_body(req);
                 if (!body.ok()) return Response::error(body.status());
                 wire::FieldReader r(*body, "");
                 std::optional<std::string> bin;
                 r.optional_string("bin", &bin, {.max_len = 64, .non_empty = true});
                 std::vector<std::string> skus;
                 if (body->contains("skus")) {
                   const auto& list = (*body)["skus"];
                   if (!list.is_array())
                     return Response::error(invalid_argument("must be an array", "skus"));
                   for (std::size_t i = 0; i < list.size(); ++i) {
                     if (!list[i].is_string()) {
                       return Response::error(
                           invalid_argument("must be a string", "skus[" + std::to_string(i) + "]"));
                     }
                     skus.push_back(list[i].get<std::string>());
                   }
                 }
                 if (!r.ok()) return Response::error(r.status());
                 return reply(inv.open_count(bin, skus, actor_of(req)), 201);
               });

  server.route("GET", R"(/api/counts/([^/]+))", Access::roles_of(kReaders),
               [&inv](const Request& req) { return reply(inv.get_count(req.params[0])); });

  server.route(
      "POST", R"(/api/counts/([^/]+)/close)", Access::roles_of(kManagers).audited("count.close"),
      [&inv](const Request& req) { return reply(inv.close_count(req.params[0], actor_of(req))); });
}

}  // namespace shopeasy::edge::api
