// Store-level peak hours: orders per hour for the coming days and the pickers and runners
// they need. Orders are counted from the order (receipt) each sold line belongs to, made
// a series of their own and forecast like a SKU; staff are sized for the p90 of the
// hour, so a busy hour is covered nine times out of ten.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status/status.hpp"
#include "edge/forecast/series.hpp"

namespace shopeasy::forecast {

struct StaffingRates {
  double orders_per_picker_hour = 12;  // orders one picker picks and packs in an hour
  double orders_per_runner_hour = 3;   // deliveries one runner makes in an hour
};

struct HourPlan {
  std::int64_t ts = 0;  // local seconds of the hour's start
  double orders_mean = 0;
  double orders_p90 = 0;
  int pickers = 0;
  int runners = 0;
};

struct PeakPlan {
  std::vector<HourPlan> hours;
  std::vector<std::size_t> daily_peaks;  // index into hours of each day's busiest hour
};

// Orders per hour from sold lines: an order counts once, in the hour of its first line.
// Lines without an order id count as one order each.
Series order_series(const std::vector<Sale>& sales, std::int64_t end);

// Plans the `hours` hours from `end` (the end of the history, local seconds, on the hour).
// invalid_argument for rates that are not positive; failed_precondition without history.
StatusOr<PeakPlan> plan_peak_hours(const std::vector<Sale>& sales, std::int64_t end, int hours,
                                   const StaffingRates& rates);

}  // namespace shopeasy::forecast
