#include "edge/replenish/policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace shopeasy::edge::replenish {
namespace {

bool has_reason(const Proposal& p, std::string_view code) {
  return std::find(p.reasons.begin(), p.reasons.end(), code) != p.reasons.end();
}

// A flat daily forecast: `per_day` units a day for two weeks, Poisson.
DemandForecast flat_daily(double per_day, double inv_k = 0) {
  DemandForecast d;
  d.step_hours = 24;
  d.mean.assign(14, per_day);
  d.inv_k = inv_k;
  return d;
}

ProposalInput input(double per_day, int lead_days, std::uint8_t order_days = 0x7F) {
  ProposalInput in;
  in.supplier.id = "SUP-1";
  in.supplier.name = "Dairy Co";
  in.supplier.lead_time_days = lead_days;
  in.supplier.order_days = order_days;
  in.link.sku = "MILK-1L";
  in.link.supplier_id = "SUP-1";
  in.demand = flat_daily(per_day);
  return in;
}

TEST(ReplenishPolicyTest, ValidatesSupplierFields) {
  Supplier s{"SUP-1", "Dairy Co", 2, 0x7F, 0, 1, true};
  EXPECT_TRUE(validate_supplier(s).is_ok());
  Supplier bad = s;
  bad.lead_time_days = 0;
  EXPECT_EQ(validate_supplier(bad).field(), "lead_time_days");
  bad.lead_time_days = 400;
  EXPECT_EQ(validate_supplier(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_supplier(bad).field(), "lead_time_days");
  bad = s;
  bad.id = "has space";
  EXPECT_EQ(validate_supplier(bad).field(), "id");
  bad = s;
  bad.name = "";
  EXPECT_EQ(validate_supplier(bad).field(), "name");
  bad = s;
  bad.order_days = 0;
  EXPECT_EQ(validate_supplier(bad).field(), "order_days");
  bad = s;
  bad.pack_size = 0;
  EXPECT_EQ(validate_supplier(bad).field(), "pack_size");
  bad = s;
  bad.min_order_qty = -1;
  EXPECT_EQ(validate_supplier(bad).field(), "min_order_qty");
}

TEST(ReplenishPolicyTest, ValidatesLinkFields) {
  SkuSupply l{"MILK-1L", "SUP-1", 0.95, std::nullopt, std::nullopt};
  EXPECT_TRUE(validate_sku_supply(l).is_ok());
  SkuSupply bad = l;
  bad.service_level = 1.0;
  EXPECT_EQ(validate_sku_supply(bad).field(), "service_level");
  bad = l;
  bad.shelf_life_days = 0;
  EXPECT_EQ(validate_sku_supply(bad).field(), "shelf_life_days");
  bad = l;
  bad.pack_size = 0;
  EXPECT_EQ(validate_sku_supply(bad).field(), "pack_size");
  bad = l;
  bad.supplier_id = "";
  EXPECT_EQ(validate_sku_supply(bad).field(), "supplier_id");
}

TEST(ReplenishPolicyTest, OrderDaysParseAndFormat) {
  auto d = parse_order_days("mon,thu", "order_days");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 0b0001001);
  EXPECT_EQ(format_order_days(*d), "mon,thu");
  EXPECT_EQ(*parse_order_days("daily", "order_days"), 0x7F);
  auto bad = parse_order_days("mon,funday", "order_days");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "order_days");
  EXPECT_FALSE(parse_order_days("", "order_days").ok());
  // Review period: Monday and Thursday orders; from Monday the next is 3 days away,
  // from Thursday 4; with one order day a week, 7.
  EXPECT_EQ(review_days(*d, 0), 3);
  EXPECT_EQ(review_days(*d, 3), 4);
  EXPECT_EQ(review_days(0b0000001, 0), 7);
  EXPECT_EQ(review_days(0x7F, 5), 1);
}

TEST(ReplenishPolicyTest, QuantileOfTheSumNotTheSumOfQuantiles) {
  // 10 a day for 3 days, Poisson: total 30, its 95% quantile is 39 (not 3 x 16).
  DemandForecast d = flat_daily(10);
  EXPECT_DOUBLE_EQ(demand_mean(d, 0, 3), 30);
  EXPECT_EQ(demand_quantile(d, 0, 3, 0.95), 39);
  EXPECT_EQ(demand_quantile(d, 0, 3, 0.5), 30);
  // More forecast error, more safety stock.
  DemandForecast noisy = flat_daily(10, 0.5);
  EXPECT_GT(demand_quantile(noisy, 0, 3, 0.95), 39);
  // Half a step counts half; beyond the forecast the last week repeats.
  EXPECT_DOUBLE_EQ(demand_mean(d, 0, 0.5), 5);
  EXPECT_DOUBLE_EQ(demand_mean(d, 0, 28), 280);
  // Large totals use the normal approximation without losing the service level.
  DemandForecast big = flat_daily(1e6);
  const auto q = demand_quantile(big, 0, 1, 0.99);
  EXPECT_GT(q, 1e6 + 2.3 * 1000);
  EXPECT_LT(q, 1e6 + 2.4 * 1000);
}

// E[(X - n)+] for a Poisson X, summed directly.
double poisson_shortfall(double mean, int n) {
  double pmf = std::exp(-mean), sum = 0;
  for (int x = 0; x < 400; ++x) {
    if (x > n) sum += (x - n) * pmf;
    pmf *= mean / (x + 1);
  }
  return sum;
}

TEST(ReplenishPolicyTest, OrderUpToMeetsTheFillRateNetOfPosition) {
  // 10 a day, lead time 2 days, orders every day: protection 3 days (Poisson 30), and
  // an order is for one day's demand (10).
  ProposalInput in = input(10, 2);
  in.position.lots = {{12, std::nullopt}};
  in.position.reserved = 2;
  in.position.on_order = 5;
  const Proposal p = propose(in);
  EXPECT_EQ(p.review_days, 1);
  EXPECT_DOUBLE_EQ(p.demand_lead_time, 20);
  EXPECT_DOUBLE_EQ(p.demand_protection, 30);
  // The least level whose expected shortfall in the order's cycle (short by the next
  // arrival, less short already when this one arrives) is at most 5% of 10 units.
  auto cycle_short = [](int n) { return poisson_shortfall(30, n) - poisson_shortfall(20, n); };
  EXPECT_LE(cycle_short(static_cast<int>(p.order_up_to)), 0.5);
  EXPECT_GT(cycle_short(static_cast<int>(p.order_up_to) - 1), 0.5);
  EXPECT_EQ(p.order_up_to, 36);
  EXPECT_EQ(p.reorder_point, demand_quantile(in.demand, 0, 2, 0.95));
  EXPECT_DOUBLE_EQ(p.safety_stock, 6);
  EXPECT_EQ(p.inventory_position, 12 + 5 - 2);
  EXPECT_EQ(p.shortfall, 36 - 15);
  EXPECT_EQ(p.qty, 21);
  EXPECT_TRUE(has_reason(p, "below_order_up_to"));
  // A higher service level or a less certain forecast holds more.
  in.link.service_level = 0.99;
  EXPECT_GT(propose(in).order_up_to, 36);
  in.link.service_level = 0.95;
  in.demand.inv_k = 0.3;
  EXPECT_GT(propose(in).order_up_to, 36);
}

TEST(ReplenishPolicyTest, FillRateLevelOfLargeMeansUsesTheNormal) {
  DemandForecast big = flat_daily(1e6);
  // Protection 3 days, lead 2: the cycle is 1e6 units and 5% of them may be short; with
  // so little noise (sd 1,732) that is the mean less 50,000.
  const auto s = fill_rate_level(big, 2, 3, 0.95);
  EXPECT_NEAR(static_cast<double>(s), 3e6 - 5e4, 2000);
  EXPECT_EQ(fill_rate_level(flat_daily(0), 2, 3, 0.95), 0);
}

TEST(ReplenishPolicyTest, NothingWhenCovered) {
  ProposalInput in = input(10, 2);
  in.position.lots = {{50, std::nullopt}};
  const Proposal p = propose(in);
  EXPECT_EQ(p.qty, 0);
  EXPECT_EQ(p.shortfall, 0);
  EXPECT_TRUE(has_reason(p, "covered"));
}

TEST(ReplenishPolicyTest, RoundsUpToPacksAndTheMinimumOrder) {
  ProposalInput in = input(10, 2);
  in.supplier.pack_size = 12;
  in.position.lots = {{15, std::nullopt}};
  Proposal p = propose(in);  // shortfall 24: two packs
  EXPECT_EQ(p.qty, 24);
  in.position.lots = {{16, std::nullopt}};  // shortfall 23: still two packs
  p = propose(in);
  EXPECT_EQ(p.qty, 24);
  EXPECT_TRUE(has_reason(p, "pack_rounded"));
  in.supplier.min_order_qty = 40;  // four packs is the least that covers 40
  p = propose(in);
  EXPECT_EQ(p.qty, 48);
  EXPECT_TRUE(has_reason(p, "min_order_qty"));
  in.link.pack_size = 1;  // the SKU's own pack size wins over the supplier's
  p = propose(in);
  EXPECT_EQ(p.pack_size, 1);
  EXPECT_EQ(p.qty, 40);
}

TEST(ReplenishPolicyTest, ReviewPeriodFollowsOrderDays) {
  // Orders on Mondays only: from Monday, protection = 2 + 7 days.
  ProposalInput in = input(10, 2, 0b0000001);
  in.weekday = 0;
  Proposal p = propose(in);
  EXPECT_TRUE(p.order_day);
  EXPECT_EQ(p.review_days, 7);
  EXPECT_DOUBLE_EQ(p.demand_protection, 90);
  in.weekday = 2;
  p = propose(in);
  EXPECT_FALSE(p.order_day);
}

TEST(ReplenishPolicyTest, ExpiringLotsCountOnlyForWhatSellsBeforeExpiry) {
  ProposalInput in = input(10, 3);
  // 30 units expiring in one day: only ~10 sell before; 20 units without expiry.
  in.position.lots = {{20, std::nullopt}, {30, 1.0}};
  const Proposal p = propose(in);
  EXPECT_EQ(p.on_hand, 50);
  EXPECT_EQ(p.usable_on_hand, 30);
  EXPECT_TRUE(has_reason(p, "expiring_stock_not_cover"));
  // Two expiring lots compete for the same demand: the second sells only what the
  // first leaves (10 a day: 10 by day 1, 20 by day 2 -> 10 + 10).
  in.position.lots = {{10, 1.0}, {30, 2.0}};
  EXPECT_EQ(propose(in).usable_on_hand, 20);
}

TEST(ReplenishPolicyTest, ShelfLifeCapsThePerishableOrder) {
  // 10 a day, lead time 1, order days Monday only (protection 8 days, ~97 units), but
  // the bread keeps 2 days: at most 20 sell before it expires.
  ProposalInput in = input(10, 1, 0b0000001);
  in.link.shelf_life_days = 2;
  Proposal p = propose(in);
  EXPECT_GT(p.order_up_to, 80);
  EXPECT_DOUBLE_EQ(p.demand_shelf_life, 20);
  EXPECT_EQ(p.qty, 20);
  EXPECT_TRUE(has_reason(p, "shelf_life_cap"));
  // Stock carried past arrival uses up part of the shelf life's demand.
  in.position.lots = {{15, std::nullopt}};  // 10 sell during lead time, 5 carried
  p = propose(in);
  EXPECT_EQ(p.qty, 15);
  // Packs round the cap down; a cap under the minimum order orders nothing.
  in.supplier.pack_size = 6;
  EXPECT_EQ(propose(in).qty, 12);
  in.supplier.min_order_qty = 24;
  p = propose(in);
  EXPECT_EQ(p.qty, 0);
  EXPECT_TRUE(has_reason(p, "shelf_life_below_min_order"));
}

TEST(ReplenishPolicyTest, CensoredHistoryIsReported) {
  ProposalInput in = input(10, 2);
  in.demand.censored_steps = 5;
  EXPECT_TRUE(has_reason(propose(in), "stockouts_in_history"));
}

TEST(ReplenishPolicyTest, HourlyForecastOverLeadTime) {
  // Hourly forecast, 1 unit an hour: a 1-day lead time and daily orders protect 48
  // hours (48 units on average).
  ProposalInput in = input(0, 1);
  in.demand.step_hours = 1;
  in.demand.mean.assign(336, 1.0);
  const Proposal p = propose(in);
  EXPECT_DOUBLE_EQ(p.demand_lead_time, 24);
  EXPECT_DOUBLE_EQ(p.demand_protection, 48);
  EXPECT_GT(p.order_up_to, 48);
}

}  // namespace
}  // namespace shopeasy::edge::replenish
