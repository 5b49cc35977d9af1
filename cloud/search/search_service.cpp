#include "cloud/search/search_service.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace shopeasy::cloud::search {

namespace {
constexpr int kCatalogPage = 5000;
}

Status validate_query_text(std::string_view q) {
  if (q.empty()) return invalid_argument("q is required and must not be empty", "q");
  if (q.size() > kMaxQueryBytes) {
    return invalid_argument("q must be at most " + std::to_string(kMaxQueryBytes) + " bytes", "q");
  }
  for (std::size_t i = 0; i < q.size(); ++i) {
    const auto c = static_cast<unsigned char>(q[i]);
    if (c < 0x20 || c == 0x7F) {
      return invalid_argument("q has a control character at byte " + std::to_string(i), "q");
    }
  }
  return Status::ok();
}

SearchService::SearchService(storage::CloudStore& store, log::Logger logger,
                             metrics::Registry& metrics, SearchOptions options, const Clock& clock)
    : store_(store),
      logger_(std::move(logger)),
      options_(options),
      clock_(clock),
      queries_(metrics.counter("cloud_search_queries_total", "Product searches answered")),
      refused_(metrics.counter_family("cloud_search_refused_total",
                                      "Product searches refused, by the field at fault",
                                      {"field"})),
      latency_(metrics.histogram("cloud_search_seconds",
                                 "Time to rank one product search, stock read included",
                                 metrics::default_latency_buckets())),
      products_(metrics.gauge("cloud_search_indexed_products", "Products in the search index")) {}

SearchService::~SearchService() { stop(); }

StatusOr<std::string> SearchService::generation() const {
  StatusOr<std::optional<nlohmann::json>> g = store_.get_setting(kGenerationSetting);
  if (!g.ok()) return g.status();
  return g->has_value() ? (*g)->dump() : std::string();
}

void SearchService::announce(std::int64_t now_ms) {
  // Any value not written before will do: this instance's address in memory, a
  // counter and the time tell writers apart.
  const nlohmann::json marker = {
      {"at_ms", now_ms}, {"by", reinterpret_cast<std::uintptr_t>(this)}, {"n", ++announced_}};
  Status st = store_.put_setting(kGenerationSetting, marker, now_ms);
  if (!st.is_ok()) {
    logger_.warn("search_announce_failed",
                 {{"error", st.to_string()},
                  {"effect", "other instances see the change at their next periodic rebuild"}});
  }
}

Product to_search_product(const storage::CatalogItem& item) {
  return Product{.sku = item.sku,
                 .name = item.name,
                 .category = item.category,
                 .price_cents = item.price_cents,
                 .unit = item.unit,
                 .active = item.active};
}

void SearchService::count_order(const std::vector<std::pair<std::string, std::int64_t>>& lines) {
  sync::MutexLock lock(popularity_mu_);
  for (const auto& [sku, qty] : lines) {
    if (qty > 0) unflushed_[sku] = std::min<std::int64_t>(unflushed_[sku] + qty, 1'000'000'000);
  }
}

Status SearchService::flush_popularity(std::int64_t now_ms) {
  std::map<std::string, std::int64_t> counts;
  std::int64_t purge_before = 0;
  {
    sync::MutexLock lock(popularity_mu_);
    if (now_ms < next_flush_ms_) return Status::ok();
    next_flush_ms_ = now_ms + options_.popularity_flush_ms;
    counts.swap(unflushed_);
    const std::int64_t today = now_ms / 86'400'000;
    if (today != purged_day_) {
      purged_day_ = today;
      purge_before = today - options_.popularity_days;
    }
  }
  const std::int64_t day = now_ms / 86'400'000;
  Status added = store_.add_sku_sales(day, counts);
  if (!added.is_ok()) {
    logger_.warn("search_popularity_flush_failed", {{"error", added.to_string()}});
    sync::MutexLock lock(popularity_mu_);
    for (const auto& [sku, n] : counts) {
      unflushed_[sku] = std::min<std::int64_t>(unflushed_[sku] + n, 1'000'000'000);
    }
    return added;
  }
  if (purge_before > 0) {
    StatusOr<std::int64_t> purged = store_.purge_sku_sales(purge_before);
    if (!purged.ok()) {
      logger_.warn("search_popularity_purge_failed", {{"error", purged.status().to_string()}});
    }
  }
  return Status::ok();
}

Status SearchService::read_popularity(std::int64_t now_ms) {
  {
    sync::MutexLock lock(popularity_mu_);
    if (now_ms < next_read_ms_) return Status::ok();
    next_read_ms_ = now_ms + options_.popularity_read_ms;
  }
  StatusOr<std::map<std::string, std::int64_t>> read =
      store_.sku_popularity(now_ms / 86'400'000 - options_.popularity_days + 1);
  if (!read.ok()) {
    logger_.warn("search_popularity_read_failed", {{"error", read.status().to_string()}});
    return read.status();
  }
  auto fresh = std::make_shared<const std::map<std::string, std::int64_t>>(std::move(*read));
  sync::MutexLock lock(popularity_mu_);
  popularity_ = std::move(fresh);
  return Status::ok();
}

Status SearchService::rebuild() {
  sync::MutexLock rebuild_lock(rebuild_mu_);
  // Read first: a change announced while the catalog is read makes the next poll
  // rebuild again rather than be missed.
  StatusOr<std::string> generation_now = generation();
  if (!generation_now.ok()) return generation_now.status();
  {
    sync::MutexLock lock(pending_mu_);
    rebuilding_ = true;
    pending_.clear();
  }
  auto finish = [&] {
    sync::MutexLock lock(pending_mu_);
    for (const auto& item : pending_) index_.upsert(to_search_product(item));
    pending_.clear();
    rebuilding_ = false;
  };
  Synonyms synonyms = Synonyms::builtin();
  StatusOr<std::optional<nlohmann::json>> stored = store_.get_setting(kSynonymsSetting);
  if (!stored.ok()) {
    finish();
    return stored.status();
  }
  if (stored->has_value()) {
    StatusOr<Synonyms> extra = Synonyms::from_json(**stored);
    if (extra.ok()) {
      synonyms.merge(*extra);
    } else {
      // Written through put_synonyms, so only a hand edit gets here: keep serving.
      logger_.error("search_synonyms_unreadable", {{"error", extra.status().to_string()}});
    }
  }
  std::vector<Product> items;
  std::string after;
  for (;;) {
    StatusOr<std::vector<storage::CatalogItem>> page = store_.catalog_page(after, kCatalogPage);
    if (!page.ok()) {
      finish();
      return page.status();
    }
    for (const auto& item : *page) items.push_back(to_search_product(item));
    if (page->size() < static_cast<std::size_t>(kCatalogPage)) break;
    after = items.back().sku;
  }
  index_.set_synonyms(std::move(synonyms));
  index_.rebuild(items);
  finish();
  {
    sync::MutexLock lock(generation_mu_);
    seen_generation_ = std::move(*generation_now);
  }
  products_.set(static_cast<double>(index_.size()));
  return Status::ok();
}

Status SearchService::load(std::int64_t now_ms) {
  const MonoTime started = clock_.mono_now();
  Status st = rebuild();
  if (!st.is_ok()) {
    logger_.warn("search_index_failed", {{"error", st.to_string()}});
    next_rebuild_ms_ = now_ms + 1000;
    return st;
  }
  next_rebuild_ms_ = now_ms + options_.rebuild_interval_ms;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.mono_now() - started).count();
  logger_.info("search_index_built", {{"products", static_cast<std::int64_t>(index_.size())},
                                      {"words", static_cast<std::int64_t>(index_.vocabulary())},
                                      {"ms", static_cast<std::int64_t>(ms)}});
  return st;
}

void SearchService::refresh_if_due(std::int64_t now_ms) {
  if (now_ms < next_rebuild_ms_.load()) {
    StatusOr<std::string> g = generation();
    if (!g.ok()) return;  // the database is away; the periodic rebuild retries
    sync::MutexLock lock(generation_mu_);
    if (*g == seen_generation_) return;
  }
  (void)load(now_ms);
}

void SearchService::start(const Clock& clock) {
  sync::MutexLock lock(refresher_mu_);
  if (refresher_.joinable()) return;
  stop_ = false;
  refresher_ = std::thread([this, &clock] { run_refresher(clock); });
}

void SearchService::run_refresher(const Clock& clock) {
  const auto interval = std::chrono::milliseconds(options_.poll_interval_ms);
  sync::MutexLock lock(refresher_mu_);
  while (!stop_) {
    // The pause between polls is real time, so steady_clock rather than `clock` (a
    // FakeClock never moves on its own).
    const auto deadline = std::chrono::steady_clock::now() + interval;
    while (!stop_) {
      if (wake_.wait_until(refresher_mu_, deadline) == std::cv_status::timeout) break;
    }
    if (stop_) break;
    lock.unlock();
    const std::int64_t now_ms = to_unix_ms(clock.wall_now());
    refresh_if_due(now_ms);
    (void)flush_popularity(now_ms);  // logged inside; counts are kept for the next try
    (void)read_popularity(now_ms);
    lock.lock();
  }
}

void SearchService::stop() {
  {
    sync::MutexLock lock(refresher_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  // A clean stop keeps what was counted since the last flush.
  {
    sync::MutexLock lock(popularity_mu_);
    if (unflushed_.empty()) return;
    next_flush_ms_ = 0;
  }
  (void)flush_popularity(to_unix_ms(clock_.wall_now()));
}

void SearchService::on_catalog_item(const storage::CatalogItem& item, std::int64_t now_ms) {
  index_.upsert(to_search_product(item));
  products_.set(static_cast<double>(index_.size()));
  {
    sync::MutexLock lock(pending_mu_);
    if (rebuilding_) pending_.push_back(item);
  }
  announce(now_ms);
}

StatusOr<SearchPage> SearchService::search(const SearchRequest& request) const {
  const MonoTime started = clock_.mono_now();
  auto refuse = [&](const Status& st) -> Status {
    refused_.with({st.field().empty() ? "other" : st.field()}).inc();
    return st;
  };
  if (Status st = validate_query_text(request.query.text); !st.is_ok()) return refuse(st);
  if (request.limit < 1 || request.limit > 100) {
    return refuse(invalid_argument("must be between 1 and 100", "limit"));
  }
  const std::size_t ranked = request.rank_at_most > 0 ? request.rank_at_most : options_.max_ranked;
  std::size_t offset = 0;
  if (!request.cursor.empty()) {
    const char* b = request.cursor.data();
    const char* e = b + request.cursor.size();
    auto [end, ec] = std::from_chars(b, e, offset);
    if (ec != std::errc() || end != e || offset == 0 || offset > ranked) {
      return refuse(invalid_argument("is not a cursor this search returned", "cursor"));
    }
  }
  TextQuery query = request.query;
  query.max_hits = ranked;
  SearchPage page;
  StatusOr<std::vector<TextHit>> hits = index_.search(query, &page.parsed);
  if (!hits.ok()) return refuse(hits.status());

  std::vector<std::string> skus;
  skus.reserve(hits->size());
  for (const auto& h : *hits) skus.push_back(h.item.sku);
  std::vector<storage::Availability> stock;
  if (!skus.empty()) {
    StatusOr<std::vector<storage::Availability>> read = store_.availability(request.store_id, skus);
    if (!read.ok()) return read.status();
    stock = std::move(*read);  // in SKU order
  }
  std::shared_ptr<const std::map<std::string, std::int64_t>> popularity;
  {
    sync::MutexLock lock(popularity_mu_);
    popularity = popularity_;
  }
  std::vector<SearchItem> ranked_items;
  ranked_items.reserve(hits->size());
  for (auto& h : *hits) {
    SearchItem item{std::move(h.item), 0, false, h.cost};
    auto it = std::lower_bound(
        stock.begin(), stock.end(), item.item.sku,
        [](const storage::Availability& a, const std::string& sku) { return a.sku < sku; });
    if (it != stock.end() && it->sku == item.item.sku) {
      item.available = std::max<std::int64_t>(it->on_hand - it->reserved - it->held, 0);
    }
    item.in_stock = item.available > 0;
    if (popularity) {
      auto found = popularity->find(item.item.sku);
      if (found != popularity->end()) item.popularity = found->second;
    }
    ranked_items.push_back(std::move(item));
  }
  // Equal relevance: in stock first, then the more ordered; otherwise the index's order
  // stands.
  std::stable_sort(ranked_items.begin(), ranked_items.end(),
                   [](const SearchItem& a, const SearchItem& b) {
                     if (a.relevance != b.relevance) return a.relevance < b.relevance;
                     if (a.in_stock != b.in_stock) return a.in_stock;
                     return a.popularity > b.popularity;
                   });
  page.matched = ranked_items.size();
  const std::size_t end =
      std::min(ranked_items.size(), offset + static_cast<std::size_t>(request.limit));
  for (std::size_t i = offset; i < end; ++i) page.items.push_back(std::move(ranked_items[i]));
  if (end < ranked_items.size()) page.next_cursor = std::to_string(end);
  queries_.inc();
  latency_.observe(std::chrono::duration<double>(clock_.mono_now() - started).count());
  return page;
}

Status SearchService::check_query(std::string_view q) const {
  Status st = validate_query_text(q);
  if (!st.is_ok()) refused_.with({st.field()}).inc();
  return st;
}

StatusOr<nlohmann::json> SearchService::synonyms() const {
  StatusOr<std::optional<nlohmann::json>> stored = store_.get_setting(kSynonymsSetting);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return nlohmann::json{{"groups", nlohmann::json::array()}};
  return **stored;
}

Status SearchService::put_synonyms(const nlohmann::json& body, std::int64_t now_ms) {
  StatusOr<Synonyms> parsed = Synonyms::from_json(body);
  if (!parsed.ok()) return parsed.status();
  // Stored as normalised, so GET shows what search uses.
  SHOPEASY_RETURN_IF_ERROR(store_.put_setting(kSynonymsSetting, parsed->to_json(), now_ms));
  Synonyms merged = Synonyms::builtin();
  merged.merge(*parsed);
  index_.set_synonyms(std::move(merged));
  announce(now_ms);
  logger_.info("search_synonyms_replaced",
               {{"groups", static_cast<std::int64_t>(parsed->groups())}});
  return Status::ok();
}

}  // namespace shopeasy::cloud::search
