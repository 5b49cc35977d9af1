// Generated hourly demand for tests and benchmarks: SKUs with a store's opening hours,
// their own day-of-week and hour-of-day tilt, a weekly level drifting at random, and
// over-dispersed (negative binomial) counts, most of them sparse; optionally limited
// stock on a share of days, so that busy days sell out: sales stop and the rest of the
// day is censored.
// Deterministic for a seed and SKU index, on every platform (own generator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "edge/forecast/series.hpp"

namespace shopeasy::forecast {

struct SyntheticOptions {
  int days = 90;
  std::uint64_t seed = 1;
  double median_weekly_units = 15;  // SKU levels are log-normal around this
  double level_spread = 1.2;        // sd of the log level
  double weekly_drift = 0.05;       // sd of the weekly log level change
  // Share of days on which the SKU gets limited stock: 0.3..1.2 of the day's expected
  // demand; it sells out when demand reaches that (about 2 in 3 of those days).
  double limited_stock_day_share = 0;
  std::size_t groups = 10;  // SKU i is in group "g<i % groups>"
};

struct SyntheticSku {
  Series observed;              // sales and censored hours
  std::vector<float> demand;    // true demand per hour
  std::vector<float> expected;  // its expected value (what a perfect forecast would say)
};

SyntheticSku generate_sku(std::size_t index, const SyntheticOptions& options);

}  // namespace shopeasy::forecast
