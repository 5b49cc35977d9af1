#include "tools/pricing/simulate.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/harness/temp_dir.hpp"

namespace shopeasy::tools::pricing {
namespace {

TEST(PricingSimTest, MarkdownsCutExpiredUnitsOnOverstockedShelves) {
  const DemandSet demand = generate_demand(50, 30, 7);
  SimParams p;
  p.order_cover = 1.6;
  p.elasticity = 2.0;
  const SimResult none = simulate(demand, p, false);
  const SimResult marked = simulate(demand, p, true);
  EXPECT_GT(none.expired_units, 0);
  EXPECT_LT(marked.expired_units, none.expired_units);
  EXPECT_GT(marked.marked_down_units, 0);
  EXPECT_EQ(none.marked_down_units, 0);
  // Same deliveries either way: what is not sold or expired is still on the shelf.
  EXPECT_GE(marked.sold_units, none.sold_units);
}

TEST(PricingSimTest, SameSeedSameResult) {
  const DemandSet a = generate_demand(10, 14, 3);
  const DemandSet b = generate_demand(10, 14, 3);
  EXPECT_EQ(a.daily, b.daily);
  const SimResult x = simulate(a, SimParams{}, true);
  const SimResult y = simulate(b, SimParams{}, true);
  EXPECT_EQ(x.revenue_cents, y.revenue_cents);
  EXPECT_EQ(x.expired_units, y.expired_units);
}

TEST(PricingSimTest, LoadsSalesCsvAndNamesBadLines) {
  auto dir = shopeasy::testing::TempDir::create("pricing-sim");
  ASSERT_TRUE(dir.ok());
  const std::string good = dir->file("good.csv").string();
  std::ofstream(good) << "sku,date,qty,member\nmilk,2015-01-01,2,1\nmilk,2015-01-08,3,2\n"
                         "bread,2015-01-08,1,3\n";
  auto d = load_sales_csv(good, 7, 1);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->skus.size(), 2u);  // the window is 2015-01-02..08
  EXPECT_EQ(d->skus[1], "milk");
  EXPECT_EQ(d->daily[1][6], 3);
  EXPECT_EQ(d->daily[1][0], 0);
  const std::string bad = dir->file("bad.csv").string();
  std::ofstream(bad) << "sku,ts,qty\nmilk,2015-01-01T10:00:00,1\nmilk,yesterday,1\n";
  auto e = load_sales_csv(bad, 7, 1);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().field(), "line 3");
  EXPECT_FALSE(load_sales_csv(dir->file("none.csv").string(), 7, 1).ok());
}

}  // namespace
}  // namespace shopeasy::tools::pricing
