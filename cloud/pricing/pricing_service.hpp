// PricingService: the engine applied to live state. It prices a cart for the store that
// serves its delivery point (POST /api/quote), keeps the quotes it gave so an order can
// be charged exactly that total, records every price and fee change with its inputs, and
// holds the operator's side: the model, the rule settings with the kill switch, the
// competitor feed and the stores' load signals.
//
// Never personal: nothing here takes a customer, device or user agent; a price is a
// function of the cart, the store, the shared state and the time.
//
// Shared state lives in CloudStore (settings "pricing.config", "pricing.competitor",
// "pricing.signals"; price model, audit and quotes in their tables), so every instance
// prices alike. Each instance re-reads the settings when its copy is older than
// kRefreshMs; the instance that takes a write uses it at once. What a store reports of
// itself (its lots near expiry, its stock cover) is read once per quote and ignored when
// older than ten minutes. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/orders/order_service.hpp"
#include "cloud/pricing/engine.hpp"
#include "cloud/pricing/store_view.hpp"
#include "cloud/routing/store_index.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::pricing {

class PricingService {
 public:
  static constexpr std::int64_t kRefreshMs = 250;

  PricingService(storage::CloudStore& store, const routing::StoreIndex& index, const Clock& clock,
                 std::int64_t online_window_ms, log::Logger logger, metrics::Registry& metrics);

  // POST /api/quote with the order body ("lines", "delivery"; other fields ignored).
  // kInvalidArgument naming the field; kNotFound ("lines[i].sku") for an unknown product;
  // kFailedPrecondition when no store serves the point.
  StatusOr<nlohmann::json> quote(const nlohmann::json& body);

  // Whether an order for `lines` may be charged the quote's total at now: the
  // OrderService's hook (see orders::QuoteCheck).
  // The order must go to the quoted place: the same geohash cell of kQuoteCellPrecision.
  StatusOr<orders::QuoteCheck> check_quote(const std::string& quote_id,
                                           const std::vector<wire::OrderLine>& lines,
                                           const wire::DeliveryLocation& delivery);

  // Deletes quotes that expired more than kQuoteRetentionMs ago (at most 1,000 a call);
  // returns how many.
  static constexpr std::int64_t kQuoteRetentionMs = 86'400'000;
  StatusOr<std::int64_t> purge_quotes() {
    return store_.purge_quotes(now_ms() - kQuoteRetentionMs, 1'000);
  }

  // Operators.
  StatusOr<nlohmann::json> get_model(const std::string& sku);
  StatusOr<nlohmann::json> put_model(const std::string& sku, const std::string& store_id,
                                     const nlohmann::json& body);
  StatusOr<nlohmann::json> history(const std::string& sku, const std::string& store_id,
                                   std::int64_t after_id, int limit);
  StatusOr<nlohmann::json> get_config();
  // Fields given replace the current ones; {"enabled": false} is the kill switch.
  StatusOr<nlohmann::json> put_config(const nlohmann::json& patch);
  // Whether dynamic pricing is on, and the delivery fee each of `store_ids` would be
  // quoted now (from this instance's last served step, which it does not move): what
  // the operators' dashboard shows.
  struct SurgeNow {
    bool enabled = true;
    std::map<std::string, SurgeDecision> fees{};  // by store id
  };
  StatusOr<SurgeNow> surge_now(const std::vector<std::string>& store_ids);
  // Replaces the competitor feed with an upload (CSV or JSON by content type); all rows
  // or none.
  StatusOr<nlohmann::json> import_competitor_feed(const std::string& body, bool is_json);
  // Approves the price waiting for approval for (store, SKU): `price_cents` must be the
  // pending proposal (kFailedPrecondition otherwise, e.g. when the rules moved on); it is
  // then served while the rules keep proposing it.
  StatusOr<nlohmann::json> approve(const nlohmann::json& body);
  // What `store_id` is told about its prices now (see store_view.hpp): the kill switch,
  // its delivery fee, the rules, its SKUs off base as last served, its lots marked down
  // and its overrides. The fee is what the next quote would carry, from this instance's
  // last served step (not moved here).
  StatusOr<StorePricing> store_pricing(const std::string& store_id);
  // Moves whenever something a store's view is made of may have changed at once: the
  // shared settings (as this instance reads them) or the store's delivery fee. Cheap:
  // a waiting store compares it often and rebuilds its view only when it moves.
  StatusOr<std::uint64_t> store_pricing_key(const std::string& store_id);
  // Counts this instance's pricing writes and the settings changes it has read from
  // other instances; wait_for_change returns when it passes `seen` or after `timeout`.
  std::uint64_t generation() EXCLUDES(generation_mutex_);
  void wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout)
      EXCLUDES(generation_mutex_);

  // A store's load ({"open_orders", "available_runners", "pick_queue"}) and/or weather
  // flag ({"bad_weather_until_ms"}), stamped with the time it arrives.
  StatusOr<nlohmann::json> put_signal(const std::string& store_id, const nlohmann::json& body);

 private:
  struct Snapshot {
    PricingConfig config{};
    std::map<std::string, std::vector<CompetitorPrice>> competitor;  // by SKU
    std::map<std::string, LoadSignal> load;                          // by store
    std::map<std::string, WeatherFlag> weather;                      // by store
    nlohmann::json signals_doc = nlohmann::json::object();
    // Of the stored settings documents as read: equal documents, equal fingerprint.
    std::uint64_t fingerprint = 0;
  };
  struct Priced {
    nlohmann::json lines = nlohmann::json::array();
    nlohmann::json fees = nlohmann::json::array();
    std::int64_t total_cents = 0;
    std::string store_id;
  };

  StatusOr<std::shared_ptr<const Snapshot>> snapshot();
  StatusOr<std::shared_ptr<const Snapshot>> load_snapshot();
  void publish(std::shared_ptr<const Snapshot> s);
  // Prices the lines at `store_id` at now_ms and records what changed.
  StatusOr<Priced> price_cart(const Snapshot& snap, const std::string& store_id,
                              const std::vector<wire::OrderLine>& lines, std::int64_t now_ms);
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  // The delivery fee `store_id` would be quoted at now_ms from `previous_step`.
  SurgeDecision fee_at(const Snapshot& snap, const std::string& store_id, int previous_step,
                       std::int64_t now) const;
  void bump_generation() EXCLUDES(generation_mutex_);
  // The surge step this instance last served `store_id` (0: none yet).
  int served_step(const std::string& store_id) EXCLUDES(mutex_);
  // The model row that applies to `sku` at `store_id` (its override, else the defaults).
  StatusOr<std::optional<PriceModel>> model_at(const std::string& sku, const std::string& store_id);

  storage::CloudStore& store_;
  const routing::StoreIndex& index_;
  const Clock& clock_;
  std::int64_t online_window_ms_;
  log::Logger logger_;
  metrics::CounterFamily& quotes_;
  metrics::Counter& stale_signals_;
  metrics::CounterFamily& changes_;

  sync::Mutex mutex_;
  // The settings as last read, and when (monotonic ms); replaced whole, never edited.
  std::shared_ptr<const Snapshot> snapshot_ GUARDED_BY(mutex_);
  std::int64_t loaded_at_ms_ GUARDED_BY(mutex_) = 0;
  // Each store's surge step as last served, for the hysteresis of the next quote.
  std::map<std::string, int> surge_step_ GUARDED_BY(mutex_);
  // Serialises the operators' read-modify-write of a settings document on this instance.
  sync::Mutex write_mutex_;
  // Guards generation_; generation_cv_ wakes the stores waiting for their view to change.
  sync::Mutex generation_mutex_;
  sync::CondVar generation_cv_;
  std::uint64_t generation_ GUARDED_BY(generation_mutex_) = 0;
};

}  // namespace shopeasy::cloud::pricing
