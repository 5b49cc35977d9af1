// The store's stock against its demand, for the cloud's inventory rule: which SKUs
// have so much cover (days of demand on hand) that the cloud may discount them, and
// which so little that it should not promote them. Sent with each sync batch, so it is
// built from what the store already knows and never fits a forecast: a SKU's forecast
// when the replenishment cache holds one for this hour, else the mean of its daily
// sales over the last 28 days (read once an hour).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "common/wire/sync.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::replenish {

struct CoverThresholds {
  double overstock_days = 21;  // cover at or beyond this: overstocked
  double scarce_days = 2;      // cover at or under this: scarce
};

// One SKU's sellable units and its mean demand per day.
struct SkuStockDemand {
  std::string sku;
  std::int64_t units = 0;
  double daily_demand = 0;
};

// The SKUs whose cover (units / daily_demand) is at or beyond overstock_days or at or
// under scarce_days, the most extreme first (how many times past its threshold the
// cover is; ties by SKU), at most `max`. Units with no demand are the most overstocked
// (daily_demand 0 is sent); a SKU with neither units nor demand, negative or non-finite
// figures, or a SKU the wire would refuse is left out. Units are capped at
// wire::kMaxCoverUnits and demand at wire::kMaxCoverDailyDemand.
std::vector<wire::StockCover> select_stock_cover(const std::vector<SkuStockDemand>& skus,
                                                 const CoverThresholds& thresholds,
                                                 std::size_t max = wire::kMaxStockCover);

class StockCoverReport {
 public:
  // A SKU's daily demand from a forecast already fitted for now_ms's hour, or nullopt;
  // must not fit one.
  using CachedDemand =
      std::function<std::optional<double>(const std::string& sku, std::int64_t now_ms)>;
  static constexpr int kTrailingDays = 28;

  StockCoverReport(store::EdgeStore& store, CoverThresholds thresholds, CachedDemand cached);

  // The list to send at now_ms (select_stock_cover over every SKU with units on hand or
  // sales in the window). kUnavailable when the ledger cannot be read. Thread-safe.
  StatusOr<std::vector<wire::StockCover>> report(std::int64_t now_ms) EXCLUDES(mu_);

 private:
  // Each SKU's mean daily picks over the kTrailingDays before the current hour (fewer
  // days for a store with less history, so a new store is not read as overstocked).
  StatusOr<std::unordered_map<std::string, double>> read_trailing(std::int64_t hour_start_ms);

  store::EdgeStore& store_;
  const CoverThresholds thresholds_;
  const CachedDemand cached_;
  shopeasy::sync::Mutex mu_;  // guards trailing_ and trailing_hour_ms_
  // The trailing means and the hour they were read for (-1: none yet): sales move them
  // by a 672nd of the window an hour, not worth a scan of the ledger on every batch.
  std::unordered_map<std::string, double> trailing_ GUARDED_BY(mu_);
  std::int64_t trailing_hour_ms_ GUARDED_BY(mu_) = -1;
};

}  // namespace shopeasy::edge::replenish
