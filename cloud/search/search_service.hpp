// SearchService: product search for customers, on the cloud's own state. The index
// (SearchIndex) is built from the catalog (CloudStore::catalog_page) at start and
// updated at once when this instance writes a catalog item (on_catalog_item). Every
// catalog or synonym write also replaces a shared marker (the "search.generation"
// setting); each instance's refresher thread (start) reads it twice a second and
// rebuilds when it changed, so writes taken by other instances on the same database
// show within about a second, and rebuilds anyway every rebuild_interval_ms. Stock is
// never copied into the index: each search reads the serving store's replica rows for
// the products it ranks, so a stock change is visible to the next search.
//
// Ranking: text relevance (SearchIndex), then in stock at the serving store first,
// then the index's stable order (shorter names, name, SKU). The catalog keeps no sales
// figures, so there is no popularity signal yet.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/search/search_index.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::search {

using ::shopeasy::search::ParsedQuery;
using ::shopeasy::search::Product;
using ::shopeasy::search::SearchIndex;
using ::shopeasy::search::Synonyms;
using ::shopeasy::search::TextHit;
using ::shopeasy::search::TextQuery;

// A catalog item as the index holds it.
Product to_search_product(const storage::CatalogItem& item);

inline constexpr const char* kSynonymsSetting = "search.synonyms";
inline constexpr const char* kGenerationSetting = "search.generation";
// Longest query accepted, in bytes.
inline constexpr std::size_t kMaxQueryBytes = 256;

// kInvalidArgument (field "q") for an empty or too long query or one holding a control
// character; the message says which.
Status validate_query_text(std::string_view q);

struct SearchOptions {
  // Products ranked per query; a query matching more shows the best this many.
  std::size_t max_ranked = 1000;
  // How often the whole index is rebuilt from the database even with no marker change.
  std::int64_t rebuild_interval_ms = 60000;
  // How often the refresher reads the shared marker.
  std::int64_t poll_interval_ms = 500;
  // Popularity (the last key of the ranking): units ordered per SKU over this many days,
  // counted by each instance and added to the database every popularity_flush_ms, and
  // read back from it every popularity_read_ms.
  std::int64_t popularity_days = 30;
  std::int64_t popularity_flush_ms = 10000;
  std::int64_t popularity_read_ms = 60000;
};

struct SearchRequest {
  std::string store_id;  // the serving store, whose stock ranks and marks the results
  TextQuery query;
  std::string cursor;  // "" for the first page, else a page's next_cursor
  int limit = 20;      // 1..100
  // Products ranked by stock (0: SearchOptions::max_ranked); suggestions need fewer.
  std::size_t rank_at_most = 0;
};

struct SearchItem {
  Product item;
  std::int64_t available = 0;  // at the serving store, never negative
  bool in_stock = false;
  int relevance = 0;            // the text cost, lower is better
  std::int64_t popularity = 0;  // units ordered fleet-wide over popularity_days
};

struct SearchPage {
  std::vector<SearchItem> items;
  std::optional<std::string> next_cursor;
  std::size_t matched = 0;  // products ranked for the query (at most max_ranked)
  ParsedQuery parsed;
};

class SearchService {
 public:
  // `clock` times index builds and queries (and must outlive the service).
  SearchService(storage::CloudStore& store, log::Logger logger, metrics::Registry& metrics,
                SearchOptions options = {}, const Clock& clock = real_clock());
  ~SearchService();

  // Builds the index and loads the operator's synonyms. kUnavailable when the database
  // cannot be read (the daemon starts anyway, with an empty index, and retries).
  Status load(std::int64_t now_ms) EXCLUDES(rebuild_mu_, pending_mu_, generation_mu_);
  // Rebuilds when the shared marker changed since the last build, or when
  // rebuild_interval_ms has passed (or the last build failed).
  void refresh_if_due(std::int64_t now_ms) EXCLUDES(rebuild_mu_, pending_mu_, generation_mu_);
  // Runs refresh_if_due every poll_interval_ms on a thread of its own until stop().
  void start(const Clock& clock) EXCLUDES(refresher_mu_);
  void stop() EXCLUDES(refresher_mu_);
  // A catalog write of this instance, applied to the index before the write's reply,
  // and announced to the other instances through the marker.
  void on_catalog_item(const storage::CatalogItem& item, std::int64_t now_ms) EXCLUDES(pending_mu_);

  // kInvalidArgument naming the field: q (validate_query_text, no letters or digits, too
  // many words), cursor
  // (not one this service gave), limit. Errors of the database pass through.
  StatusOr<SearchPage> search(const SearchRequest& request) const;

  // validate_query_text, counting a refusal as search() does: routes check the query
  // before anything else about the request.
  Status check_query(std::string_view q) const;

  // The operator's synonym groups ({"groups": [...]}; empty when none).
  StatusOr<nlohmann::json> synonyms() const;
  // Replaces the operator's groups (kInvalidArgument naming the field) and applies them.
  Status put_synonyms(const nlohmann::json& body, std::int64_t now_ms)
      EXCLUDES(rebuild_mu_, pending_mu_, generation_mu_);

  const SearchIndex& index() const { return index_; }

  // Counts an order's units toward its SKUs' popularity (kept in memory until the next
  // flush: a crash loses at most popularity_flush_ms of counts, which only nudges a
  // ranking). Called by the order service for every new order.
  void count_order(const std::vector<std::pair<std::string, std::int64_t>>& lines)
      EXCLUDES(popularity_mu_);
  // Adds the counts kept since the last flush to the database and, every
  // popularity_read_ms, reads the fleet's figures back (the refresher calls both; tests
  // call them directly). On failure the counts are kept for the next flush.
  Status flush_popularity(std::int64_t now_ms) EXCLUDES(popularity_mu_);
  Status read_popularity(std::int64_t now_ms) EXCLUDES(popularity_mu_);

 private:
  Status rebuild() EXCLUDES(rebuild_mu_, pending_mu_, generation_mu_);
  // The refresher thread: refresh_if_due every poll_interval_ms until stop().
  void run_refresher(const Clock& clock) EXCLUDES(refresher_mu_);
  // Replaces the shared marker; a failure is logged (the periodic rebuild still comes).
  void announce(std::int64_t now_ms);
  // The marker as stored ("" when never written).
  StatusOr<std::string> generation() const;

  storage::CloudStore& store_;
  log::Logger logger_;
  SearchOptions options_;
  const Clock& clock_;
  SearchIndex index_;
  metrics::Counter& queries_;
  metrics::CounterFamily& refused_;
  metrics::Histogram& latency_;
  metrics::Gauge& products_;
  // Serializes rebuilds (the periodic one and a synonyms change).
  sync::Mutex rebuild_mu_;
  std::atomic<std::int64_t> next_rebuild_ms_{0};
  // Guards seen_generation_: the marker the last successful build started from.
  sync::Mutex generation_mu_;
  std::string seen_generation_ GUARDED_BY(generation_mu_);
  std::atomic<std::uint64_t> announced_{0};  // makes each marker this instance writes new
  // The refresher: stop_ is set (under refresher_mu_) and wake_ notified to end it.
  sync::Mutex refresher_mu_;
  sync::CondVar wake_;
  bool stop_ GUARDED_BY(refresher_mu_) = false;
  std::thread refresher_;
  // Guards the two below: catalog writes that arrive while a rebuild reads the catalog
  // are applied again after it, so the rebuild's older copy cannot undo them.
  sync::Mutex pending_mu_;
  bool rebuilding_ GUARDED_BY(pending_mu_) = false;
  std::vector<storage::CatalogItem> pending_ GUARDED_BY(pending_mu_);
  // Guards the popularity figures: units counted here since the last flush, the fleet's
  // figures as last read, and when the next flush and read are due.
  mutable sync::Mutex popularity_mu_;
  std::map<std::string, std::int64_t> unflushed_ GUARDED_BY(popularity_mu_);
  std::shared_ptr<const std::map<std::string, std::int64_t>> popularity_ GUARDED_BY(popularity_mu_);
  std::int64_t next_flush_ms_ GUARDED_BY(popularity_mu_) = 0;
  std::int64_t next_read_ms_ GUARDED_BY(popularity_mu_) = 0;
  std::int64_t purged_day_ GUARDED_BY(popularity_mu_) = 0;
};

}  // namespace shopeasy::cloud::search
