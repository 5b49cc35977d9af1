#include "cloud/search/search_routes.hpp"

#include "common/geohash/geohash.hpp"
#include "common/http/auth.hpp"
#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::search {

using http::Access;
using http::Request;
using http::Response;

namespace {

const std::vector<std::string> kCustomers = {"customer", "admin"};

}  // namespace

SearchRoutes::SearchRoutes(SearchService& service, routing::StoreIndex& index, const Clock& clock,
                           std::int64_t online_window_ms, log::Logger logger)
    : service_(service),
      index_(index),
      clock_(clock),
      online_window_ms_(online_window_ms),
      logger_(std::move(logger)) {}

void SearchRoutes::register_routes(http::HttpServer& server) {
  server.route("GET", "/api/search", Access::roles_of(kCustomers),
               [this](const Request& r) { return search(r, false); });
  server.route("GET", "/api/suggest", Access::roles_of(kCustomers),
               [this](const Request& r) { return search(r, true); });
  server.route("GET", "/v1/search/synonyms", Access::roles_of({"admin"}),
               [this](const Request& r) { return get_synonyms(r); });
  server.route("PUT", "/v1/search/synonyms",
               Access::roles_of({"admin"}).audited("search.synonyms.put"),
               [this](const Request& r) { return put_synonyms(r); });
}

Response SearchRoutes::search(const Request& req, bool suggest) {
  const std::string q = req.query_param("q").value_or("");
  if (Status st = service_.check_query(q); !st.is_ok()) return Response::error(st);
  auto hash = req.query_param("geo_hash");
  if (!hash || hash->empty()) {
    return Response::error(invalid_argument("geo_hash is required", "geo_hash"));
  }
  auto point = geohash::decode(*hash);
  if (!point.ok()) {
    return Response::error(
        Status(StatusCode::kInvalidArgument, point.status().message(), "geo_hash"));
  }
  SearchRequest request;
  request.query.text = q;
  auto limit = http::int_param(req, "limit", 1, suggest ? 20 : 100);
  if (!limit.ok()) return Response::error(limit.status());
  request.limit = static_cast<int>(limit->value_or(suggest ? 8 : 20));
  if (suggest) {
    // Suggestions are the first few as the customer types: rank fewer, no paging.
    request.rank_at_most = 100;
  } else {
    auto cursor = http::string_param(req, "cursor", 32);
    if (!cursor.ok()) return Response::error(cursor.status());
    request.cursor = cursor->value_or("");
    auto category = http::string_param(req, "category", 64);
    if (!category.ok()) return Response::error(category.status());
    request.query.category = category->value_or("");
    auto brand = http::string_param(req, "brand", 64);
    if (!brand.ok()) return Response::error(brand.status());
    request.query.brand = brand->value_or("");
  }

  // The store /api/inventory would show: the nearest serving store open and online.
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  auto serving = index_.serving(*point, now, online_window_ms_);
  const routing::Candidate* chosen = nullptr;
  for (const auto& c : serving.candidates) {
    if (c.online && c.open) {
      chosen = &c;
      break;
    }
  }
  if (chosen == nullptr) {
    const std::string why = serving.candidates.empty()
                                ? "no store serves geohash " + *hash
                                : "the stores serving geohash " + *hash + " are closed or offline";
    return Response::error(Status(StatusCode::kNotFound, why, "geo_hash"));
  }
  request.store_id = chosen->store->id;
  auto page = service_.search(request);
  if (!page.ok()) return Response::error(page.status());

  nlohmann::json items = nlohmann::json::array();
  for (const auto& i : page->items) {
    items.push_back({{"sku", i.item.sku},
                     {"name", i.item.name},
                     {"category", i.item.category},
                     {"price_cents", i.item.price_cents},
                     {"unit", i.item.unit},
                     {"available", i.available},
                     {"in_stock", i.in_stock}});
  }
  nlohmann::json out = {{"geo_hash", *hash},
                        {"store",
                         {{"id", chosen->store->id},
                          {"name", chosen->store->name},
                          {"distance_m", static_cast<std::int64_t>(chosen->distance_m)}}},
                        {"query", {{"words", page->parsed.words}, {"groups", page->parsed.groups}}},
                        {"items", std::move(items)}};
  out["next_cursor"] =
      page->next_cursor && !suggest ? nlohmann::json(*page->next_cursor) : nlohmann::json(nullptr);
  return Response::json(200, out);
}

Response SearchRoutes::get_synonyms(const Request&) { return http::reply(service_.synonyms()); }

Response SearchRoutes::put_synonyms(const Request& req) {
  auto body = http::json_body(req);
  if (!body.ok()) return Response::error(body.status());
  Status st = service_.put_synonyms(*body, to_unix_ms(clock_.wall_now()));
  if (!st.is_ok()) return Response::error(st);
  logger_.info("search_synonyms_put", {{"by", req.principal.subject}});
  return http::reply(service_.synonyms());
}

}  // namespace shopeasy::cloud::search
