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

struct SkuDemandForecast {
  std::string sku;
  std::string method;  // the method the SKU's backtest chose
  int history_days = 0;
  int censored_hours = 0;  // hours of that history with nothing on hand
  double units_sold = 0;   // units picked in that history
  double inv_k = 0;        // negative binomial 1/size of one hour (0: Poisson), from the
                           // backtest errors; replenishment sums hours with it
  std::vector<HourForecast> hours;
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

  DemandService(store::EdgeStore& store, DemandOptions options);

  // Forecasts `hours` hours from the hour holding `now_ms`. kInvalidArgument for a bad
  // SKU or hours outside 1..kMaxHours; kNotFound for a SKU not in the catalog.
  StatusOr<SkuDemandForecast> forecast(const std::string& sku, std::int64_t now_ms,
                                       int hours) const;
  // The same with the pooled shape read before (store_pool() for the same hour; a pool
  // of another hour is kInvalidArgument): the result is identical to forecast() above.
  StatusOr<SkuDemandForecast> forecast(const std::string& sku, std::int64_t now_ms, int hours,
                                       const StorePool& pool) const;
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
//  "hours":[{"ts_ms","ts","mean","p50","p90","p95"}]}
nlohmann::json sku_demand_forecast_json(const SkuDemandForecast& f);

}  // namespace shopeasy::edge::demand
