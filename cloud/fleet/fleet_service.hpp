// FleetService: the figures of the operators' fleet dashboard (/ops), as JSON for the
// routes in fleet_routes.hpp. It joins what FleetStats counts in the database with the
// store registry and notification backlog (CloudStore) and the pricing state (a
// callback, so this module does not depend on the pricing service).
//
//   summary(window): orders placed per minute over the last 60 minutes, delivery-time
//     percentiles (created -> delivered) over the window against the promise, the stores
//     breaching their promise (late share above a threshold, worst first), the kill
//     switch and each store's surge, notification health, each store's sync lag.
//   store(id, window): the same for one store, with its open orders by status and its
//     recent late deliveries.
//   order(id): one order as an operator sees it, with its latest events.
//
// Work is bounded: one hour of orders per minute, a window of at most a day, at most
// `max_delivered_rows` delivered orders read (the answer says when it was cut). The
// fleet-wide database figures are shared by every caller for kFiguresTtlMs (each open
// page refreshes every few seconds; many operators must not multiply the queries); the
// registry, the pricing state and the notification backlog are read on every call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/fleet/fleet_stats.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::fleet {

struct FleetOptions {
  // A store breaches its promise when more than this share of its deliveries in the
  // window were late, counted once it has at least `breach_min_delivered` of them.
  double breach_late_share = 0.2;
  std::int64_t breach_min_delivered = 3;
  int max_delivered_rows = 20'000;
  std::int64_t online_window_ms = 30'000;  // a store heard from within this is online
};

// A store's delivery fee as pricing would charge it now.
struct SurgeState {
  int step = 0;  // 0: base fee
  std::int64_t fee_cents = 0;
  std::string reason{};
};
struct PricingState {
  bool enabled = true;  // false: the kill switch is on, every store pays the base fee
  std::map<std::string, SurgeState> surge;  // by store id
};
// Reads the pricing state for the given stores.
using PricingReader = std::function<StatusOr<PricingState>(const std::vector<std::string>&)>;

// Delivery times of a set of delivered orders.
struct DeliveryFigures {
  std::int64_t delivered = 0;
  std::optional<double> p50_s, p90_s, p99_s;  // created -> delivered; unset when none
  std::int64_t with_promise = 0;              // orders that carried a promised time
  std::int64_t on_time = 0;                   // delivered at or before it
  std::int64_t late = 0;
  std::optional<double> on_time_share;     // on_time / with_promise
  std::optional<double> promised_p50_min;  // the median promise, created -> promised
};
DeliveryFigures delivery_figures(const std::vector<DeliveredOrder>& orders);
// Nearest-rank percentile (q in (0, 1]) of sorted values; 0 for none.
double percentile(const std::vector<std::int64_t>& sorted, double q);

class FleetService {
 public:
  static constexpr std::int64_t kMinWindowS = 60;
  static constexpr std::int64_t kMaxWindowS = 86'400;
  static constexpr std::int64_t kDefaultWindowS = 3'600;
  static constexpr int kLateOrders = 20;  // recent late deliveries listed for a store
  static constexpr std::int64_t kFiguresTtlMs = 2'000;

  // Every reference must outlive the service. Thread-safe.
  FleetService(storage::CloudStore& store, FleetStats& stats, PricingReader pricing,
               const Clock& clock, FleetOptions options)
      : store_(store),
        stats_(stats),
        pricing_(std::move(pricing)),
        clock_(clock),
        options_(options) {}

  // kInvalidArgument ("window_s") for a window outside kMinWindowS..kMaxWindowS.
  StatusOr<nlohmann::json> summary(std::int64_t window_s);
  // kNotFound for an unknown store.
  StatusOr<nlohmann::json> store(const std::string& store_id, std::int64_t window_s);
  // kNotFound for an unknown order.
  StatusOr<nlohmann::json> order(const std::string& order_id);

 private:
  // What summary() reads of the database for one window.
  struct Figures {
    std::int64_t at_mono_ms = 0;
    nlohmann::json per_minute;
    std::vector<DeliveredOrder> delivered;
    std::vector<StatusCount> open;
    std::vector<ChannelStateCount> failures;
  };
  StatusOr<std::shared_ptr<const Figures>> fleet_figures(std::int64_t now_ms,
                                                         std::int64_t window_s);
  nlohmann::json store_row(const storage::StoreRecord& s, std::int64_t now_ms) const;
  StatusOr<nlohmann::json> orders_per_minute(std::int64_t now_ms, const std::string& store_id);

  storage::CloudStore& store_;
  FleetStats& stats_;
  PricingReader pricing_;
  const Clock& clock_;
  FleetOptions options_;
  sync::Mutex mutex_;
  // The last fleet-wide figures per window_s, replaced whole once older than the TTL.
  std::map<std::int64_t, std::shared_ptr<const Figures>> figures_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::cloud::fleet
