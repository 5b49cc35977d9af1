#include "edge/replenish/simulate.hpp"

#include <gtest/gtest.h>

#include "edge/forecast/synthetic.hpp"

namespace shopeasy::edge::replenish {
namespace {

namespace fc = shopeasy::forecast;

// A daily series of `weeks` weeks, `per_day` units every day.
fc::Series steady(const std::string& sku, int weeks, float per_day) {
  fc::Series s;
  s.sku = sku;
  s.qty.assign(static_cast<std::size_t>(weeks * 7), per_day);
  s.censored.assign(s.qty.size(), 0);
  return s;
}

// Generated hourly demand (negative binomial, weekly pattern, drifting level) summed
// into days.
std::vector<fc::Series> generated(std::size_t skus, int days) {
  std::vector<fc::Series> out;
  fc::SyntheticOptions o;
  o.days = days;
  o.median_weekly_units = 60;
  for (std::size_t i = 0; i < skus; ++i) {
    const fc::SyntheticSku g = fc::generate_sku(i, o);
    fc::Series d;
    d.sku = g.observed.sku;
    for (std::size_t t = 0; t + 24 <= g.demand.size(); t += 24) {
      float sum = 0;
      for (std::size_t h = t; h < t + 24; ++h) sum += g.demand[h];
      d.qty.push_back(sum);
    }
    d.censored.assign(d.qty.size(), 0);
    out.push_back(std::move(d));
  }
  return out;
}

TEST(ReplenishSimTest, SteadyDemandIsFilledWithLittleStock) {
  const std::vector<fc::Series> daily = {steady("A", 20, 10)};
  SimOptions o;
  const SimResult p = simulate_proposal(daily, o);
  EXPECT_EQ(p.skus, 1u);
  EXPECT_EQ(p.sku_days, 12 * 7);
  EXPECT_DOUBLE_EQ(p.demand, 12 * 7 * 10);
  // The first days are lost while the first order is on its way (no opening stock).
  EXPECT_GT(p.fill_rate(), 0.95);
  EXPECT_LT(p.average_on_hand(), 40);
  EXPECT_EQ(p.expired, 0);
}

TEST(ReplenishSimTest, StaticMultiplierTradesStockForFillRate) {
  const std::vector<fc::Series> daily = generated(20, 140);
  SimOptions o;
  const SimResult low = simulate_static(daily, o, 0.3);
  const SimResult high = simulate_static(daily, o, 2.0);
  EXPECT_LT(low.fill_rate(), high.fill_rate());
  EXPECT_LT(low.average_on_hand(), high.average_on_hand());
  const SimResult found = find_static_for_fill_rate(daily, o, 0.9);
  EXPECT_GE(found.fill_rate(), 0.9);
  EXPECT_LE(found.multiplier, 8);
}

TEST(ReplenishSimTest, ProposalOnGeneratedDemandNearItsServiceLevel) {
  const std::vector<fc::Series> daily = generated(20, 140);
  SimOptions o;
  const SimResult p = simulate_proposal(daily, o);
  EXPECT_EQ(p.skus, 20u);
  EXPECT_GT(p.fill_rate(), 0.88);
  EXPECT_GT(p.orders, 0);
}

TEST(ReplenishSimTest, ShelfLifeLimitsExpiry) {
  // 10 a day, bread that keeps 2 days, orders on Mondays only: the cap keeps the
  // proposal from ordering a week's bread that would mostly expire.
  const std::vector<fc::Series> daily = {steady("BREAD", 20, 10)};
  SimOptions o;
  o.order_days = 0b0000001;
  o.shelf_life_days = 2;
  const SimResult p = simulate_proposal(daily, o);
  const SimResult s = simulate_static(daily, o, 1.0);
  EXPECT_LT(p.expired, s.expired);
  EXPECT_LT(p.expired, 0.05 * p.demand);
}

}  // namespace
}  // namespace shopeasy::edge::replenish
