#include "edge/search/search_routes.hpp"

#include <nlohmann/json.hpp>

#include "common/http/request_helpers.hpp"

namespace shopeasy::edge::search {

void register_search_routes(http::HttpServer& server, ProductSearch& search) {
  server.route("GET", "/api/search",
               http::Access::roles_of({"viewer", "picker", "manager", "admin"}),
               [&search](const http::Request& r) {
                 StatusOr<std::optional<std::string>> q = http::string_param(r, "q", 256);
                 if (!q.ok()) return http::Response::error(q.status());
                 StatusOr<std::optional<std::int64_t>> limit = http::int_param(r, "limit", 1, 50);
                 if (!limit.ok()) return http::Response::error(limit.status());
                 StatusOr<ProductSearchResult> found =
                     search.search(q->value_or(""), static_cast<std::size_t>(limit->value_or(20)));
                 if (!found.ok()) return http::Response::error(found.status());
                 nlohmann::json items = nlohmann::json::array();
                 for (const ProductHit& h : found->items) {
                   items.push_back({{"sku", h.product.sku},
                                    {"name", h.product.name},
                                    {"category", h.product.category},
                                    {"price_cents", h.product.price_cents},
                                    {"unit", h.product.unit},
                                    {"on_hand", h.on_hand},
                                    {"available", h.available},
                                    {"in_stock", h.available > 0}});
                 }
                 return http::Response::json(200, {{"items", std::move(items)},
                                                   {"matched", found->matched},
                                                   {"query", {{"words", found->words}}}});
               });
}

}  // namespace shopeasy::edge::search
