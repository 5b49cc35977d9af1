#include "edge/forecast/peak.hpp"

#include <cmath>
#include <map>
#include <string>

#include "edge/forecast/forecaster.hpp"

namespace shopeasy::forecast {

Series order_series(const std::vector<Sale>& sales, std::int64_t end) {
  std::map<std::string, std::int64_t> first_line;  // order id -> its earliest line
  std::vector<Sale> orders;
  for (const Sale& s : sales) {
    if (s.ts >= end) continue;
    if (s.order.empty()) {
      orders.push_back(Sale{"orders", "", s.ts, 1, false, ""});
      continue;
    }
    auto [it, inserted] = first_line.try_emplace(s.order, s.ts);
    if (!inserted && s.ts < it->second) it->second = s.ts;
  }
  for (const auto& [id, ts] : first_line) orders.push_back(Sale{"orders", "", ts, 1, false, ""});
  std::vector<Series> series = build_series(orders, Granularity::kHour, end,
                                            end - default_history_seconds(Granularity::kHour));
  return series.empty() ? Series{} : std::move(series.front());
}

StatusOr<PeakPlan> plan_peak_hours(const std::vector<Sale>& sales, std::int64_t end, int hours,
                                   const StaffingRates& rates) {
  if (!(rates.orders_per_picker_hour > 0) || !(rates.orders_per_runner_hour > 0)) {
    return invalid_argument("orders per picker and per runner hour must be positive");
  }
  if (hours <= 0) return invalid_argument("hours must be positive", "hours");
  const Series orders = order_series(sales, end);
  if (orders.size() == 0) return failed_precondition("no orders before the plan starts");
  const Calendar cal = calendar_for(Granularity::kHour);
  Pools pools(cal);
  pools.add(orders, orders.size());
  pools.finish();
  const SkuForecast f = forecast_sku(orders, orders.size(), hours, pools, cal, Options{});
  PeakPlan plan;
  const std::int64_t start = orders.start + static_cast<std::int64_t>(orders.size()) * 3600;
  for (int k = 0; k < hours; ++k) {
    HourPlan h;
    h.ts = start + static_cast<std::int64_t>(k) * 3600;
    h.orders_mean = f.mean[k];
    h.orders_p90 = f.p90[k];
    h.pickers = static_cast<int>(std::ceil(h.orders_p90 / rates.orders_per_picker_hour));
    h.runners = static_cast<int>(std::ceil(h.orders_p90 / rates.orders_per_runner_hour));
    plan.hours.push_back(h);
  }
  // Each calendar day's busiest hour by expected orders.
  for (std::size_t i = 0; i < plan.hours.size();) {
    const std::int64_t day = plan.hours[i].ts / 86400;
    std::size_t best = i;
    for (; i < plan.hours.size() && plan.hours[i].ts / 86400 == day; ++i) {
      if (plan.hours[i].orders_mean > plan.hours[best].orders_mean) best = i;
    }
    if (plan.hours[best].orders_mean > 0) plan.daily_peaks.push_back(best);
  }
  return plan;
}

}  // namespace shopeasy::forecast
