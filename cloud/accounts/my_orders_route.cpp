#include "cloud/accounts/my_orders_route.hpp"

#include <charconv>
#include <climits>

#include "cloud/orders/order_service.hpp"
#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::accounts {
namespace {

struct Cursor {
  std::int64_t created_at_ms = INT64_MAX;
  std::string order_id{};
};

// "<created_at_ms>:<order_id>" as handed out in next_cursor.
StatusOr<Cursor> parse_cursor(const std::string& text) {
  const std::size_t colon = text.find(':');
  Cursor c;
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return invalid_argument("is not a cursor this route handed out", "cursor");
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + colon, c.created_at_ms);
  if (ec != std::errc() || ptr != text.data() + colon || c.created_at_ms < 0) {
    return invalid_argument("is not a cursor this route handed out", "cursor");
  }
  c.order_id = text.substr(colon + 1);
  return c;
}

}  // namespace

void register_my_orders_route(http::HttpServer& server, storage::CloudStore& store) {
  server.route("GET", "/api/me/orders", http::Access::roles_of({"customer"}),
               [&store](const http::Request& r) {
                 StatusOr<std::optional<std::int64_t>> limit = http::int_param(r, "limit", 1, 100);
                 if (!limit.ok()) return http::Response::error(limit.status());
                 StatusOr<std::optional<std::string>> text = http::string_param(r, "cursor", 200);
                 if (!text.ok()) return http::Response::error(text.status());
                 Cursor cursor;
                 if (text->has_value()) {
                   StatusOr<Cursor> parsed = parse_cursor(**text);
                   if (!parsed.ok()) return http::Response::error(parsed.status());
                   cursor = std::move(*parsed);
                 }
                 const std::int64_t n = limit->value_or(20);
                 StatusOr<std::vector<storage::OrderRecord>> page = store.customer_orders(
                     r.principal.subject, cursor.created_at_ms, cursor.order_id, n);
                 if (!page.ok()) return http::Response::error(page.status());
                 nlohmann::json orders = nlohmann::json::array();
                 for (const storage::OrderRecord& o : *page) {
                   orders.push_back(orders::OrderService::order_json(o));
                 }
                 nlohmann::json next = nullptr;
                 if (static_cast<std::int64_t>(page->size()) == n) {
                   next = std::to_string(page->back().order.created_at_ms) + ":" +
                          page->back().order.order_id;
                 }
                 return http::Response::json(200, {{"orders", orders}, {"next_cursor", next}});
               });
}

}  // namespace shopeasy::cloud::accounts
