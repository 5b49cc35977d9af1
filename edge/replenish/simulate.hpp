// A lost-sales simulation of replenishment over daily demand (pure, deterministic):
// each SKU starts the simulation after a warm-up history, then day by day receives what
// arrives, throws away what expired, orders on the supplier's order days, and serves the
// day's demand from stock, earliest expiry first; demand it cannot serve is lost.
//
// Two policies: the proposal (policy.hpp over a forecast refitted every week from the
// history so far, edge/forecast's per-SKU method and dispersion) and a static min/max
// (a reorder point and order-up-to level fixed from the warm-up's mean daily demand
// times a multiplier, as a hand-typed reorder point would be). find_static_for_fill_rate
// finds the smallest multiplier whose fill rate reaches a target, so the two can be
// compared by the stock they hold at the same fill rate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edge/forecast/series.hpp"

namespace shopeasy::edge::replenish {

struct SimOptions {
  int lead_time_days = 2;
  std::uint8_t order_days = 0x7F;  // bit d: weekday d (0 Monday)
  double service_level = 0.95;
  std::optional<int> shelf_life_days;  // units expire this many days after arrival
  std::int64_t pack_size = 1;
  std::int64_t min_order_qty = 0;
  int warmup_days = 56;  // history before a SKU's simulation starts
  int refit_days = 7;    // the proposal's forecast is refitted this often
};

struct SimResult {
  std::string policy;
  std::size_t skus = 0;
  std::int64_t sku_days = 0;
  double demand = 0;
  double filled = 0;
  double expired = 0;
  double on_hand_sum = 0;  // end-of-day on hand summed over SKU-days
  std::int64_t orders = 0;
  double multiplier = 0;  // the static policy's

  double fill_rate() const { return demand > 0 ? filled / demand : 1.0; }
  double lost() const { return demand - filled; }
  // Average units on hand per SKU at the end of a day.
  double average_on_hand() const {
    return sku_days > 0 ? on_hand_sum / static_cast<double>(sku_days) : 0;
  }
};

// `daily` holds one series per SKU at daily granularity (forecast::Granularity::kDay,
// starting on a Monday); each SKU is simulated from `warmup_days` after its first sale.
SimResult simulate_proposal(const std::vector<forecast::Series>& daily, const SimOptions& options);
SimResult simulate_static(const std::vector<forecast::Series>& daily, const SimOptions& options,
                          double multiplier);
// The static policy with the smallest multiplier (searched to 0.05) whose fill rate is
// at least `target`; the largest tried (8) when none reaches it.
SimResult find_static_for_fill_rate(const std::vector<forecast::Series>& daily,
                                    const SimOptions& options, double target);

}  // namespace shopeasy::edge::replenish
