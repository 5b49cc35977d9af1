// shopeasy-pricing simulate: a month of demand replayed against a store that receives a
// delivery every morning, sells first-expiry-first-out and throws away what expires, once
// without markdowns and once with the pricing engine's near-expiry markdowns, so the
// effect of the markdown tiers on expired units, revenue and gross margin can be read
// for a range of price elasticities before they are switched on.
//
// Demand responds to price with constant elasticity: at a price p against the base b,
// demand is base_demand * (p / b)^-elasticity. On a day when the oldest lot on the shelf
// is marked down, that lot sells at its markdown price to the demand it draws; what is
// left of the day's (base-price) demand buys newer units at the base price.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cloud/pricing/engine.hpp"
#include "common/status/status.hpp"

namespace shopeasy::tools::pricing {

// Units demanded per day at the base price, one series per SKU, all the same length.
struct DemandSet {
  std::vector<std::string> skus;
  std::vector<std::vector<double>> daily;  // [sku][day]
  std::string source;                      // what it came from, for the report
};

// A CSV with a header naming `sku`, `qty` and a `date` (YYYY-MM-DD) or `ts` (ISO 8601)
// column, one row per sale (the files in shared/data have this shape): daily totals per
// SKU over the last `days` days of the file, SKUs with fewer than `min_units` units in
// that window left out. kInvalidArgument naming the line for a malformed row.
StatusOr<DemandSet> load_sales_csv(const std::string& path, int days, int min_units);
// Generated demand: `skus` series of `days` days, Poisson around a mean drawn
// log-uniformly from 0.5 to 20 units a day, with a weekly shape.
DemandSet generate_demand(int skus, int days, std::uint64_t seed);

struct SimParams {
  double elasticity = 2.0;
  int shelf_life_days = 4;   // a morning delivery is sellable this many days
  double order_cover = 1.4;  // each morning the shelf is filled to cover * mean demand
  double cost_ratio = 0.6;   // cost as a share of the base price
  std::int32_t min_margin_bp = 1000;
  std::int64_t base_price_cents = 10000;
  cloud::pricing::MarkdownConfig markdown{};  // the tiers under test
  std::uint64_t seed = 1;
};

struct SimResult {
  std::int64_t sold_units = 0;
  std::int64_t expired_units = 0;
  std::int64_t marked_down_units = 0;  // units sold at a markdown price
  std::int64_t revenue_cents = 0;
  std::int64_t cost_cents = 0;  // of every unit received (sold or expired)
  std::int64_t gross_margin_cents() const { return revenue_cents - cost_cents; }
};

// One run over every SKU; `with_markdowns` false prices everything at the base.
SimResult simulate(const DemandSet& demand, const SimParams& params, bool with_markdowns);

}  // namespace shopeasy::tools::pricing
