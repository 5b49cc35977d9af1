#include "edge/forecast/peak.hpp"

#include <gtest/gtest.h>

namespace shopeasy::forecast {
namespace {

// Six weeks: every day 6 orders of two lines at 12:00 and one single-line order at 09:00.
std::vector<Sale> history(std::int64_t monday, int weeks) {
  std::vector<Sale> sales;
  int id = 0;
  for (int day = 0; day < weeks * 7; ++day) {
    const std::int64_t d = monday + day * 86400;
    for (int o = 0; o < 6; ++o) {
      const std::string order = std::to_string(++id);
      sales.push_back(Sale{"bread", "", d + 12 * 3600 + o * 60, 1, false, order});
      sales.push_back(Sale{"milk", "", d + 12 * 3600 + o * 60 + 5, 2, false, order});
    }
    sales.push_back(Sale{"coffee", "", d + 9 * 3600, 1, false, std::to_string(++id)});
  }
  return sales;
}

TEST(PeakHours, CountsOrdersOnceAndSizesStaffForTheBusyHour) {
  const std::int64_t monday = days_from_civil(2026, 1, 5) * 86400;
  const std::int64_t end = monday + 6 * 7 * 86400;
  const Series orders = order_series(history(monday, 6), end);
  EXPECT_EQ(orders.qty[12], 6.0f);  // six orders, twelve lines
  EXPECT_EQ(orders.qty[9], 1.0f);

  const auto plan = plan_peak_hours(history(monday, 6), end, 48, StaffingRates{12, 3});
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_EQ(plan->hours.size(), 48u);
  EXPECT_EQ(plan->hours[0].ts, end);
  EXPECT_NEAR(plan->hours[12].orders_mean, 6, 0.1);
  EXPECT_GE(plan->hours[12].orders_p90, 6);
  EXPECT_EQ(plan->hours[12].pickers, 1);
  EXPECT_GE(plan->hours[12].runners, 2);
  EXPECT_EQ(plan->hours[3].runners, 0);  // the store sells nothing at 03:00
  ASSERT_EQ(plan->daily_peaks.size(), 2u);
  EXPECT_EQ(plan->daily_peaks[0], 12u);
  EXPECT_EQ(plan->daily_peaks[1], 36u);
}

TEST(PeakHours, RefusesBadRatesAndEmptyHistory) {
  const std::int64_t monday = days_from_civil(2026, 1, 5) * 86400;
  EXPECT_EQ(plan_peak_hours(history(monday, 2), monday + 14 * 86400, 24, StaffingRates{0, 3})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(plan_peak_hours({}, monday, 24, StaffingRates{}).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shopeasy::forecast
