// A SKU's demand forecast from the store's own ledger: units picked per hour over the
// last weeks, hours in which the SKU had nothing on hand marked censored (a sell-out is
// not low demand), the store's picks of every SKU as the pooled hour-of-week shape, and
// edge/forecast for the method, mean and quantiles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"
#include "edge/forecast/forecaster.hpp"
#include "edge/forecast/peak.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::demand {

struct DemandOptions {
  int history_days = 91;       // ledger history the forecast reads
  int utc_offset_minutes = 0;  // store-local time = UTC + this (hour-of-week profiles)
};

struct HourForecast {
  std::int64_t ts_ms = 0;  // start of the hour (UTC milliseconds)
  std::string local_time;  // start of the hour, store-local ISO 8601
  double mean = 0;
  double p50 = 0, p90 = 0, p95 = 0;
};

// One past hour of a SKU's demand as the forecast read it.
struct HistoryHour {
  std::int64_t ts_ms = 0;  // start of the hour (UTC milliseconds)
  std::string local_time;  // start of the hour, store-local ISO 8601
  double units = 0;        // units picked in the hour
  bool censored = false;   // nothing on hand for part of it: a floor, not the demand
};

struct SkuDemandForecast {
  std::string sku;
  std::string method;  // the method the SKU's backtest chose
  int history_days = 0;
  int censored_hours = 0;  // hours of that history with nothing on hand
  double units_sold = 0;   // units picked in that history
  double inv_k = 0;        // negative binomial 1/size of one hour (0: Poisson), from the
                           // backtest errors; replenishment sums hours with it
  std::vector<HourForecast> hours;
  std::vector<HistoryHour> history;  // the hours just before `hours`, oldest first
};

// One coming hour of the store's orders and the staff it needs.
struct PeakHour {
  std::int64_t ts_ms = 0;  // start of the hour (UTC milliseconds)
  std::string local_time;  // start of the hour, store-local ISO 8601
  double orders_mean = 0;
  double orders_p90 = 0;
  int pickers = 0;  // sized for the p90 of the hour
  int runners = 0;
};

// Where a staffing rate came from: the store's own recent orders when it has enough of
// them, otherwise the configured figure.
struct MeasuredRate {
  double per_hour = 0;    // orders per picker hour, or deliveries per runner hour
  bool measured = false;  // false: the configured fallback
  int samples = 0;        // orders measured
  double median_s = 0;    // the median measured time (0 when not measured)
};

struct StorePeakHours {
  int history_days = 0;
  std::int64_t history_orders = 0;  // orders received in that history
  MeasuredRate picking;             // from "picking" to "packed"
  MeasuredRate delivery;            // twice "out_for_delivery" to "delivered": out and back
  std::vector<PeakHour> hours;
  std::vector<std::size_t> daily_peaks;  // index into hours of each day's busiest hour
};

// The store's picks of every SKU per hour as the pooled hour-of-week shape, for the
// hour holding the `now_ms` it was read for. Every SKU's forecast in that hour pools the
// same shape (picks of the current hour are not in it), so a caller forecasting many
// SKUs reads it once instead of once per SKU.
struct StorePool {
  std::int64_t end_local = 0;  // start of the local hour the forecasts start at (seconds)
  forecast::Pools pools{forecast::calendar_for(forecast::Granularity::kHour)};
};

class DemandService {
 public:
  static constexpr int kMaxHours = 336;
  static constexpr int kMaxPeakDays = 14;
  // Orders measured before the store's own pick and delivery times replace the
  // configured rates.
  static constexpr int kMinRateSamples = 5;

  DemandService(store::EdgeStore& store, DemandOptions options);

  // Forecasts `hours` hours from the hour holding `now_ms`. kInvalidArgument for a bad
  // SKU or hours outside 1..kMaxHours; kNotFound for a SKU not in the catalog.
  // `history_hours` (0..kMaxHours) of the series the forecast read come back with it.
  StatusOr<SkuDemandForecast> forecast(const std::string& sku, std::int64_t now_ms, int hours,
                                       int history_hours = 0) const;
  // The same with the pooled shape read before (store_pool() for the same hour; a pool
  // of another hour is kInvalidArgument): the result is identical to forecast() above.
  StatusOr<SkuDemandForecast> forecast(const std::string& sku, std::int64_t now_ms, int hours,
                                       const StorePool& pool, int history_hours = 0) const;

  // The store's orders per hour for `days` days (1..kMaxPeakDays) from the hour holding
  // `now_ms`, with the pickers and runners each hour needs. The rates are measured from
  // the orders of the history window (medians, once kMinRateSamples orders have the
  // times), else `configured`. kFailedPrecondition when the store has received no order
  // in its history; kInvalidArgument for days or rates out of range.
  StatusOr<StorePeakHours> peak_hours(std::int64_t now_ms, int days,
                                      const forecast::StaffingRates& configured) const;
  StatusOr<StorePool> store_pool(std::int64_t now_ms) const;

  // The local hour (hours since the epoch, store-local) holding `now_ms`: forecasts made
  // in one hour read the same history.
  std::int64_t local_hour(std::int64_t now_ms) const;
  // The start of that hour (UTC milliseconds): the history ends there.
  std::int64_t hour_start_ms(std::int64_t now_ms) const;

 private:
  store::EdgeStore& store_;
  DemandOptions options_;
};

// {"sku","method","history_days","censored_hours","units_sold",
//  "hours":[{"ts_ms","ts","mean","p50","p90","p95"}],
//  "history":[{"ts_ms","ts","units","censored"}]}
nlohmann::json sku_demand_forecast_json(const SkuDemandForecast& f);
// {"history_days","history_orders","rates":{"picking":{...},"delivery":{...}},
//  "hours":[{"ts_ms","ts","orders_mean","orders_p90","pickers","runners"}],"daily_peaks":[i]}
nlohmann::json store_peak_hours_json(const StorePeakHours& p);

}  // namespace shopeasy::edge::demand
