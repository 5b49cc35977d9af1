// ProductSearch: the store's own product search for the command center and handhelds,
// on the same index, typo rules and Hinglish synonyms as the customers' search in the
// cloud (common/search), over the store's catalog and ranked by what the store has on
// its shelves. It works with the internet down: nothing here asks the cloud.
//
// Freshness: each search first asks the catalog for rows changed since the newest one
// it has indexed (an indexed max of products.updated_at_ms), so a product written by an
// import, a manager or a cloud catalog item is searchable on the next keystroke. The
// whole index is rebuilt every kRebuildEvery as well, since updated_at_ms is wall-clock
// time and a clock set back could hide a change from the incremental read.
//
// Ranking: text relevance, then in stock here (on hand minus reserved above zero) first,
// then the index's own order (shorter name, name, SKU).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/metrics/metrics.hpp"
#include "common/search/search_index.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::search {

struct ProductHit {
  ::shopeasy::search::Product product;
  std::int64_t on_hand = 0;
  std::int64_t available = 0;  // on hand minus reserved, never negative
  int relevance = 0;           // the text cost, lower is better
};

struct ProductSearchResult {
  std::vector<ProductHit> items;
  std::vector<std::string> words;  // the query as understood (normalised words)
  std::size_t matched = 0;         // products matching the text, before the limit
};

class ProductSearch {
 public:
  static constexpr std::chrono::minutes kRebuildEvery{5};
  // Most text matches ranked by stock per query.
  static constexpr std::size_t kMaxRanked = 500;

  ProductSearch(store::EdgeStore& store, const Clock& clock, metrics::Registry& metrics);

  // Builds the index from the whole catalog.
  Status rebuild() EXCLUDES(mu_);

  // At most `limit` (1..50) products matching every word of `query`. kInvalidArgument
  // (field "q") for an empty query, one over 256 bytes, one with control characters, or
  // one with no letters or digits.
  StatusOr<ProductSearchResult> search(const std::string& query, std::size_t limit) EXCLUDES(mu_);

  std::size_t size() const { return index_.size(); }

 private:
  // Brings the index up to date with the catalog (see the file comment).
  Status refresh() EXCLUDES(mu_);

  store::EdgeStore& store_;
  const Clock& clock_;
  ::shopeasy::search::SearchIndex index_;  // thread-safe on its own
  metrics::Counter& searches_;
  metrics::Counter& refused_;
  // Guards the catalog position below; held while the index catches up, so two
  // searches do not read the same changes twice.
  shopeasy::sync::Mutex mu_;
  std::int64_t indexed_up_to_ms_ GUARDED_BY(mu_) = -1;  // newest updated_at_ms indexed
  MonoTime last_rebuild_ GUARDED_BY(mu_){};
};

}  // namespace shopeasy::edge::search
