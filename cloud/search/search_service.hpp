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
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/search/search_index.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::search {

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
  storage::CatalogItem item;
  std::int64_t available = 0;  // at the serving store, never negative
  bool in_stock = false;
  int relevance = 0;  // the text cost, lower is better
};

struct SearchPage {
  std::vector<SearchItem> items;
  std::optional<std::string> next_cursor;
  std::size_t matched = 0;  // products ranked for the query (at most max_ranked)
  ParsedQuery parsed;
};

class SearchService {
 public:
  SearchService(storage::CloudStore& store, log::Logger logger, metrics::Registry& metrics,
                SearchOptions options = {});
  ~SearchService();

  // Builds the index and loads the operator's synonyms. kUnavailable when the database
  // cannot be read (the daemon starts anyway, with an empty index, and retries).
  Status load(std::int64_t now_ms);
  // Rebuilds when the shared marker changed since the last build, or when
  // rebuild_interval_ms has passed (or the last build failed).
  void refresh_if_due(std::int64_t now_ms);
  // Runs refresh_if_due every poll_interval_ms on a thread of its own until stop().
  void start(const Clock& clock);
  void stop();
  // A catalog write of this instance, applied to the index before the write's reply,
  // and announced to the other instances through the marker.
  void on_catalog_item(const storage::CatalogItem& item, std::int64_t now_ms);

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
  Status put_synonyms(const nlohmann::json& body, std::int64_t now_ms);

  const SearchIndex& index() const { return index_; }

 private:
  Status rebuild();
  // Replaces the shared marker; a failure is logged (the periodic rebuild still comes).
  void announce(std::int64_t now_ms);
  // The marker as stored ("" when never written).
  StatusOr<std::string> generation() const;

  storage::CloudStore& store_;
  log::Logger logger_;
  SearchOptions options_;
  SearchIndex index_;
  metrics::Counter& queries_;
  metrics::CounterFamily& refused_;
  metrics::Histogram& latency_;
  metrics::Gauge& products_;
  // Serializes rebuilds (the periodic one and a synonyms change).
  std::mutex rebuild_mu_;
  std::atomic<std::int64_t> next_rebuild_ms_{0};
  // Guards seen_generation_: the marker the last successful build started from.
  std::mutex generation_mu_;
  std::string seen_generation_;
  std::atomic<std::uint64_t> announced_{0};  // makes each marker this instance writes new
  // The refresher: stop_ is set (under refresher_mu_) and wake_ notified to end it.
  std::mutex refresher_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread refresher_;
  // Guards the two below: catalog writes that arrive while a rebuild reads the catalog
  // are applied again after it, so the rebuild's older copy cannot undo them.
  std::mutex pending_mu_;
  bool rebuilding_ = false;
  std::vector<storage::CatalogItem> pending_;
};

}  // namespace shopeasy::cloud::search
