// CatalogPageCache: the customer catalog pages (GET /api/inventory) an instance served
// recently, kept as rendered JSON for a short time. Customers in one area ask for the
// same first pages of the same store over and over; rendering one costs a database read,
// a JSON parse per item and a JSON render, so a hot page is served from here.
//
// Freshness: a page lives at most `ttl` (250 ms by default). The instance that takes a
// store's sync batch or a catalog change drops the affected pages at once; another
// instance serves its copy until it expires, so every instance agrees again within
// `ttl`. Availability shown here is advisory anyway: placing an order holds stock in
// the database.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock/clock.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::api {

class CatalogPageCache {
 public:
  struct Options {
    std::chrono::milliseconds ttl{250};
    std::size_t max_pages = 10000;  // past this, everything is dropped and refilled
  };
  // A rendered page: the "items" array and the "next_cursor" value, as JSON text.
  struct Page {
    std::string items_json;
    std::string next_cursor_json;
  };

  CatalogPageCache(const Clock& clock, Options options, metrics::Registry& metrics);

  // The page of `store_id` after `after` with `limit` items, if a fresh copy is held.
  std::shared_ptr<const Page> find(const std::string& store_id, const std::string& after, int limit)
      EXCLUDES(mutex_);
  void put(const std::string& store_id, const std::string& after, int limit, Page page)
      EXCLUDES(mutex_);
  // Drops every page of one store (its stock changed here), or of all stores (the
  // catalog changed).
  void drop_store(const std::string& store_id) EXCLUDES(mutex_);
  void drop_all() EXCLUDES(mutex_);

 private:
  struct Entry {
    std::shared_ptr<const Page> page;
    MonoTime expires;
    std::string store_id;
  };
  static std::string key(const std::string& store_id, const std::string& after, int limit);

  const Clock& clock_;
  Options options_;
  metrics::Counter& hits_;
  metrics::Counter& misses_;
  sync::Mutex mutex_;
  std::unordered_map<std::string, Entry> pages_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::cloud::api
