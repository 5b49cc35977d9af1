#include "edge/search/product_search.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

namespace shopeasy::edge::search {
namespace {

using ::shopeasy::search::Product;

constexpr std::size_t kMaxQueryBytes = 256;

// The products changed at or after `since_ms` (all of them for a negative value), and
// the newest updated_at_ms among them.
StatusOr<std::pair<std::vector<Product>, std::int64_t>> read_products(store::EdgeStore& store,
                                                                      std::int64_t since_ms) {
  return store.read(
      [&](db::Database& db) -> StatusOr<std::pair<std::vector<Product>, std::int64_t>> {
        std::vector<Product> out;
        std::int64_t newest = since_ms;
        db::Query q = db.query(
            "SELECT sku, name, category, price_cents, unit, active, updated_at_ms FROM products "
            "WHERE updated_at_ms >= ?",
            since_ms);
        while (const db::Statement* row = q.next()) {
          out.push_back(Product{.sku = row->column_text(0),
                                .name = row->column_text(1),
                                .category = row->column_text(2),
                                .price_cents = row->column_int64(3),
                                .unit = row->column_text(4),
                                .active = row->column_int64(5) != 0});
          newest = std::max(newest, row->column_int64(6));
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return std::make_pair(std::move(out), newest);
      });
}

}  // namespace

ProductSearch::ProductSearch(store::EdgeStore& store, const Clock& clock,
                             metrics::Registry& metrics)
    : store_(store),
      clock_(clock),
      searches_(metrics.counter("edge_product_searches_total", "Product searches answered")),
      refused_(metrics.counter("edge_product_searches_refused_total",
                               "Product searches refused for a bad query")) {
  index_.set_synonyms(::shopeasy::search::Synonyms::builtin());
}

Status ProductSearch::rebuild() {
  shopeasy::sync::MutexLock lock(mu_);
  SHOPEASY_ASSIGN_OR_RETURN(auto all, read_products(store_, -1));
  index_.rebuild(all.first);
  indexed_up_to_ms_ = all.second;
  last_rebuild_ = clock_.mono_now();
  return Status::ok();
}

Status ProductSearch::refresh() {
  {
    shopeasy::sync::MutexLock lock(mu_);
    if (indexed_up_to_ms_ >= 0 && clock_.mono_now() - last_rebuild_ < kRebuildEvery) {
      // Rows stamped in the same millisecond as the newest one indexed are read again:
      // upserting them twice is harmless, missing one is not.
      SHOPEASY_ASSIGN_OR_RETURN(auto changed, read_products(store_, indexed_up_to_ms_));
      for (const Product& p : changed.first) index_.upsert(p);
      indexed_up_to_ms_ = changed.second;
      return Status::ok();
    }
  }
  return rebuild();
}

StatusOr<ProductSearchResult> ProductSearch::search(const std::string& query, std::size_t limit) {
  auto refuse = [&](std::string why) {
    refused_.inc();
    return invalid_argument(std::move(why), "q");
  };
  if (query.empty()) return refuse("is required");
  if (query.size() > kMaxQueryBytes) {
    return refuse("must be at most " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  if (std::any_of(query.begin(), query.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return refuse("must not contain control characters");
  }
  if (limit < 1 || limit > 50) return invalid_argument("must be between 1 and 50", "limit");
  SHOPEASY_RETURN_IF_ERROR(refresh());
  ::shopeasy::search::ParsedQuery parsed;
  StatusOr<std::vector<::shopeasy::search::TextHit>> hits =
      index_.search({.text = query, .category = "", .brand = "", .max_hits = kMaxRanked}, &parsed);
  if (!hits.ok()) {
    if (hits.status().code() == StatusCode::kInvalidArgument) refused_.inc();
    return hits.status();
  }
  // Stock of the matches, in one query: the SKUs go as one JSON array, not a query each.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> stock;  // sku -> on hand, reserved
  nlohmann::json skus = nlohmann::json::array();
  for (const auto& h : *hits) skus.push_back(h.item.sku);
  const Status stock_read = store_.read([&](db::Database& db) -> Status {
    db::Query q = db.query(
        "SELECT sku, SUM(on_hand), SUM(reserved) FROM stock WHERE sku IN (SELECT value FROM "
        "json_each(?)) GROUP BY sku",
        skus.dump());
    while (const db::Statement* row = q.next()) {
      stock[row->column_text(0)] = {row->column_int64(1), row->column_int64(2)};
    }
    return q.status();
  });
  SHOPEASY_RETURN_IF_ERROR(stock_read);
  ProductSearchResult out;
  out.matched = hits->size();
  out.words = parsed.words;
  std::vector<ProductHit> ranked;
  ranked.reserve(hits->size());
  for (auto& h : *hits) {
    const auto [on_hand, reserved] = stock[h.item.sku];
    ranked.push_back(ProductHit{.product = std::move(h.item),
                                .on_hand = on_hand,
                                .available = std::max<std::int64_t>(on_hand - reserved, 0),
                                .relevance = h.cost});
  }
  // The index's order within equal relevance and stock is kept.
  std::stable_sort(ranked.begin(), ranked.end(), [](const ProductHit& a, const ProductHit& b) {
    if (a.relevance != b.relevance) return a.relevance < b.relevance;
    return (a.available > 0) > (b.available > 0);
  });
  if (ranked.size() > limit) ranked.resize(limit);
  out.items = std::move(ranked);
  searches_.inc();
  return out;
}

}  // namespace shopeasy::edge::search
