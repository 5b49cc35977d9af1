// Replenishment policy (pure: no I/O, no clock, no threads). Given a supplier, the
// SKU's link to it, the stock position and the SKU's demand forecast, proposes what to
// order now and why.
//
// A periodic-review order-up-to policy: an order placed now arrives after the lead
// time, and the next chance to order is the supplier's next order day, so what is on
// hand and on order now has to cover demand over lead time + review period (the
// protection period). The service level is a fill rate, the share of demand served
// from stock: the order-up-to level is the least stock over the protection period whose
// expected shortfall is at most (1 - service level) of the demand the order is for
// (between its arrival and the next order's). The reorder point is the service level's
// quantile of demand over the lead time alone (below it the SKU will probably sell out
// before any order arrives). The demand
// distribution is the forecast's negative binomial: hourly means summed, their
// dispersion (fitted to the forecast's own backtest errors) carried into the sum, so
// the safety stock grows with how wrong the forecast has been. The forecast already
// treats stock-out hours as censored, so a SKU that keeps selling out is not ordered
// down to nothing.
//
// Stock that expires before the delivery arrives only counts for what is expected to
// sell before its expiry (earliest expiry sells first). The order is rounded up to the
// pack size and raised to the minimum order quantity; for a perishable SKU it is capped
// at what is expected to sell within its shelf life after arrival (less what will
// still be on hand then), rounded down to packs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::edge::replenish {

inline constexpr int kMinLeadTimeDays = 1;
inline constexpr int kMaxLeadTimeDays = 365;
inline constexpr double kDefaultServiceLevel = 0.95;

struct Supplier {
  std::string id;  // 1..64 of [A-Za-z0-9._-]
  std::string name;
  int lead_time_days = 1;          // kMinLeadTimeDays..kMaxLeadTimeDays
  std::uint8_t order_days = 0x7F;  // bit d: orders are taken on weekday d (0 Monday .. 6 Sunday)
  std::int64_t min_order_qty = 0;  // units per line; 0 none
  std::int64_t pack_size = 1;      // orders are whole packs
  bool active = true;
};

// The SKU's supplier and how it is replenished.
struct SkuSupply {
  std::string sku;
  std::string supplier_id;
  double service_level = kDefaultServiceLevel;  // 0.5..0.999
  std::optional<int> shelf_life_days;           // perishables: 1..3650
  std::optional<std::int64_t> pack_size;        // overrides the supplier's
};

// kInvalidArgument naming the field.
Status validate_supplier(const Supplier& s);
Status validate_sku_supply(const SkuSupply& link);
// Parses "mon,tue,fri" (or "daily") into order-day bits; kInvalidArgument naming `field`.
StatusOr<std::uint8_t> parse_order_days(std::string_view text, std::string_view field);
std::string format_order_days(std::uint8_t days);

// Sellable stock in one lot. expires_in_steps: steps from now until it may no longer be
// sold; none for stock that does not expire.
struct StockLot {
  std::int64_t qty = 0;
  std::optional<double> expires_in_steps;
};

struct Position {
  std::vector<StockLot> lots;
  std::int64_t reserved = 0;  // promised to orders
  std::int64_t on_order = 0;  // open purchase order lines not received yet
};

struct DemandForecast {
  int step_hours = 1;        // 1 (hourly) or 24 (daily)
  std::vector<double> mean;  // per step from now; beyond its end the last week repeats
  double inv_k = 0;          // negative binomial 1/size of one step; 0 is Poisson
  std::string method;
  int censored_steps = 0;  // of the history: steps with nothing sellable
};

struct ProposalInput {
  Supplier supplier;
  SkuSupply link;
  Position position;
  DemandForecast demand;
  int weekday = 0;  // today, 0 Monday .. 6 Sunday (store-local)
};

struct Proposal {
  std::string sku;
  std::string supplier_id;
  bool order_day = true;  // the supplier takes orders today
  int lead_time_days = 0;
  int review_days = 0;  // until the supplier's next order day after today
  double service_level = 0;
  double demand_lead_time = 0;   // mean demand until an order placed now arrives
  double demand_protection = 0;  // mean demand over lead time + review period
  double demand_shelf_life = 0;  // mean demand over the shelf life after arrival (perishables)
  std::int64_t reorder_point = 0;
  std::int64_t order_up_to = 0;
  double safety_stock = 0;  // order_up_to - demand_protection
  std::int64_t on_hand = 0;
  std::int64_t usable_on_hand = 0;  // on hand that is still cover (expiring lots only in part)
  std::int64_t reserved = 0;
  std::int64_t on_order = 0;
  std::int64_t inventory_position = 0;  // usable_on_hand + on_order - reserved
  std::int64_t shortfall = 0;           // order_up_to - inventory_position, when positive
  std::int64_t qty = 0;                 // to order now
  std::int64_t pack_size = 1;
  std::vector<std::string> reasons;  // codes, see reason_* in policy.cpp
  std::string method;
  int censored_steps = 0;
  // Set by the store's service: the open draft purchase order holding this SKU for the
  // supplier, if any, and its quantity (part of on_order). "draft_no_longer_needed" is
  // added when stock without it already reaches the order-up-to level: the draft
  // should be withdrawn (cancelled).
  std::optional<std::string> draft_po_id;
  std::int64_t draft_qty = 0;
};

// Smallest q with P(X <= q) >= p for demand over steps [from, to) of the forecast.
std::int64_t demand_quantile(const DemandForecast& d, double from, double to, double p);
// The smallest level that, covering demand over [0, protection), leaves on average at
// most (1 - fill_rate) of the demand one order is for (the period between its arrival
// and the next one's, at the protection period's average rate) unserved: the
// order-up-to level for a fill-rate target.
std::int64_t fill_rate_level(const DemandForecast& d, double arrival, double protection,
                             double fill_rate);
// Mean demand over steps [from, to) (fractions of a step count in part).
double demand_mean(const DemandForecast& d, double from, double to);

// Days from `weekday` to the next order day strictly after it (1..7); 7 when none other.
int review_days(std::uint8_t order_days, int weekday);

// The proposal. Inputs are assumed valid (validate_* first).
Proposal propose(const ProposalInput& in);

}  // namespace shopeasy::edge::replenish
