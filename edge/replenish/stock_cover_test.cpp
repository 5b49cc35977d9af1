#include "edge/replenish/stock_cover.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "common/clock/clock.hpp"
#include "edge/forecast/series.hpp"
#include "edge/replenish/replenishment.hpp"

namespace shopeasy::edge::replenish {
namespace {

std::vector<std::string> skus_of(const std::vector<wire::StockCover>& cover) {
  std::vector<std::string> out;
  for (const wire::StockCover& c : cover) out.push_back(c.sku);
  return out;
}

// ---- the selection (pure) ----------------------------------------------------------

TEST(SelectStockCoverTest, KeepsOnlyCoverAtOrPastEitherThreshold) {
  const CoverThresholds t;  // 21 and 2 days
  const std::vector<wire::StockCover> out = select_stock_cover(
      {{"AT-OVER", 210, 10}, {"JUST-UNDER", 209, 10}, {"AT-SCARCE", 20, 10}, {"JUST-OVER", 21, 10}},
      t);
  EXPECT_EQ(skus_of(out), (std::vector<std::string>{"AT-OVER", "AT-SCARCE"}));
  EXPECT_EQ(out[0], (wire::StockCover{"AT-OVER", 210, 10.0}));
}

TEST(SelectStockCoverTest, NoDemandWithUnitsIsTheMostOverstockedAndNothingAtAllIsLeftOut) {
  const std::vector<wire::StockCover> out = select_stock_cover(
      {{"SLOW", 500, 1}, {"IDLE", 3, 0}, {"GONE", 0, 0}, {"SOLD-OUT", 0, 4}}, {});
  // Idle and sold out are both infinitely far past their threshold: by SKU.
  EXPECT_EQ(skus_of(out), (std::vector<std::string>{"IDLE", "SOLD-OUT", "SLOW"}));
  EXPECT_EQ(out[0].daily_demand, 0.0);
  EXPECT_EQ(out[1].units, 0);
}

TEST(SelectStockCoverTest, MostExtremeFirstAndCapped) {
  // Overstock extremity is cover / 21, scarce extremity 2 / cover.
  const std::vector<SkuStockDemand> in = {
      {"O-42", 420, 10},    // 42 days: 2x
      {"S-0.5", 5, 10},     // 0.5 days: 4x
      {"O-105", 1050, 10},  // 105 days: 5x
      {"S-1.5", 15, 10},    // 1.5 days: 1.33x
  };
  EXPECT_EQ(skus_of(select_stock_cover(in, {})),
            (std::vector<std::string>{"O-105", "S-0.5", "O-42", "S-1.5"}));
  EXPECT_EQ(skus_of(select_stock_cover(in, {}, 2)), (std::vector<std::string>{"O-105", "S-0.5"}));
  EXPECT_TRUE(select_stock_cover(in, {}, 0).empty());
}

TEST(SelectStockCoverTest, WhatTheWireWouldRefuseIsLeftOutOrCapped) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<wire::StockCover> out =
      select_stock_cover({{"", 500, 0},
                          {std::string(65, 'x'), 500, 0},
                          {"BAD\nSKU", 500, 0},
                          {"NEG", -4, 1},
                          {"NAN", 5, nan},
                          {"NEG-DEMAND", 5, -1},
                          {"HUGE", 5'000'000, 0},
                          {"HUGE", 1, 0},  // listed twice: the first (more extreme) entry wins
                          {"FLOOD", 0, 1e12}},
                         {});
  EXPECT_EQ(skus_of(out), (std::vector<std::string>{"FLOOD", "HUGE"}));
  EXPECT_EQ(out[0].daily_demand, wire::kMaxCoverDailyDemand);
  EXPECT_EQ(out[1].units, wire::kMaxCoverUnits);
  // What it sends, the wire (and the cloud) accepts.
  EXPECT_TRUE(wire::decode_stock_cover(wire::encode_stock_cover(out)).ok());
}

TEST(SelectStockCoverTest, AtMostTheWireLimitOfAFullStore) {
  std::vector<SkuStockDemand> in;
  for (int i = 0; i < 3'000; ++i) in.push_back({"SKU-" + std::to_string(i), 1'000 + i, 1});
  const std::vector<wire::StockCover> out = select_stock_cover(in, {});
  ASSERT_EQ(out.size(), wire::kMaxStockCover);
  EXPECT_EQ(out.front().sku, "SKU-2999");  // the most cover first
  EXPECT_TRUE(wire::decode_stock_cover(wire::encode_stock_cover(out)).ok());
}

// ---- the report from the store's ledger --------------------------------------------

constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

class StockCoverReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stock-cover-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    clock_.set_wall(at(0, 0));
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<inventory::Inventory>(*store_, "store-1", logger_, metrics_);
    ASSERT_TRUE(inv_->upsert_bins({{"A-01", 1, ""}}, actor_).ok());
    std::vector<StatusOr<inventory::ProductInput>> rows;
    rows.push_back(inventory::ProductInput{
        "MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 0});
    rows.push_back(
        inventory::ProductInput{"BREAD", "Bread", "bakery", 4000, "each", {kBreadEan}, "A-01", 0});
    ASSERT_TRUE(inv_->upsert_products(rows, true, actor_).ok());
  }
  void TearDown() override {
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static WallTime at(int day, int hour) {
    const std::int64_t s =
        forecast::days_from_civil(2026, 1, 5) * 86400 + day * 86400 + hour * 3600;
    return WallTime(std::chrono::seconds(s));
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  void scan(int day, int hour, const char* code, wire::ScanAction action, int qty) {
    clock_.set_wall(at(day, hour));
    wire::Scan s;
    s.scan_id = "s" + std::to_string(++scans_);
    s.scanner_id = "h1";
    s.code = code;
    s.action = action;
    s.qty = qty;
    auto r = inv_->apply_scan(s, actor_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  // `days` days of sales: milk 2 a day out of 400 received, bread 1 a day out of
  // days + 2; the clock ends on day `days` at 08:00.
  void sales(int days) {
    scan(0, 7, kMilkEan, wire::ScanAction::kReceive, 400);
    scan(0, 7, kBreadEan, wire::ScanAction::kReceive, days + 2);
    for (int day = 0; day < days; ++day) {
      scan(day, 10, kMilkEan, wire::ScanAction::kPick, 2);
      scan(day, 11, kBreadEan, wire::ScanAction::kPick, 1);
    }
    clock_.set_wall(at(days, 8));
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"};
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inv_;
  inventory::Actor actor_{"manager-1", "api"};
  int scans_ = 0;
};

TEST_F(StockCoverReportTest, TrailingMeanOfDailySalesWithoutAForecast) {
  sales(28);
  StockCoverReport report(*store_, {}, nullptr);
  auto out = report.report(now_ms());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // Milk: 344 left selling 2 a day (172 days); bread: 2 left selling 1 a day.
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0], (wire::StockCover{"MILK-1L", 344, 2.0}));
  EXPECT_EQ((*out)[1], (wire::StockCover{"BREAD", 2, 1.0}));
}

TEST_F(StockCoverReportTest, ANewStoreDividesByTheDaysItHas) {
  sales(5);
  StockCoverReport report(*store_, {}, nullptr);
  auto out = report.report(now_ms());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_FALSE(out->empty());
  // Five days of history (from the first receipt at 07:00 on day 0 to 08:00 on day 5).
  EXPECT_EQ((*out)[0].sku, "MILK-1L");
  EXPECT_NEAR((*out)[0].daily_demand, 10.0 / (5 + 1.0 / 24), 1e-9);
}

TEST_F(StockCoverReportTest, UnitsAreLiveAndTheMeanIsReadOnceAnHour) {
  sales(28);
  StockCoverReport report(*store_, {}, nullptr);
  ASSERT_TRUE(report.report(now_ms()).ok());
  // Bread's last two sell within the hour: the units show at once, the mean an hour on.
  scan(28, 8, kBreadEan, wire::ScanAction::kPick, 2);
  auto out = report.report(now_ms());
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0], (wire::StockCover{"BREAD", 0, 1.0}));  // sold out: scarcest of all
  clock_.set_wall(at(28, 9));
  out = report.report(now_ms());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].sku, "BREAD");
  EXPECT_NEAR((*out)[0].daily_demand, 30.0 / 28, 1e-9);
}

TEST_F(StockCoverReportTest, ACachedForecastWinsOverTheTrailingMean) {
  sales(28);
  StockCoverReport report(*store_, {}, [](const std::string& sku, std::int64_t) {
    return sku == "BREAD" ? std::optional<double>(0.2) : std::nullopt;
  });
  auto out = report.report(now_ms());
  ASSERT_TRUE(out.ok());
  // Bread at 0.2 a day has 10 days of cover: neither overstocked nor scarce.
  EXPECT_EQ(skus_of(*out), (std::vector<std::string>{"MILK-1L"}));
}

TEST_F(StockCoverReportTest, AnEmptyStoreHasNothingToSay) {
  StockCoverReport report(*store_, {}, nullptr);
  auto out = report.report(now_ms());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_TRUE(out->empty());
}

TEST_F(StockCoverReportTest, ReplenishmentHandsOutOnlyForecastsItAlreadyFitted) {
  sales(21);
  demand::DemandService demand(*store_, demand::DemandOptions{28, 0});
  Replenishment rep(*store_, *inv_, demand, clock_, ReplenishOptions{"store-1", 0, 336}, logger_,
                    metrics_);
  EXPECT_FALSE(rep.cached_daily_demand("MILK-1L", now_ms()).has_value());
  EXPECT_EQ(rep.forecast_cache_stats().misses, 0u);  // asking did not fit
  ASSERT_TRUE(rep.create_supplier(Supplier{"DAIRY", "Dairy Co", 2, 0x7F, 0, 1, true}).ok());
  ASSERT_TRUE(rep.link_sku(SkuSupply{"MILK-1L", "DAIRY", 0.95, std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(rep.proposal(ProposalQuery{}).ok());
  const std::uint64_t fits = rep.forecast_cache_stats().misses;
  const std::optional<double> daily = rep.cached_daily_demand("MILK-1L", now_ms());
  ASSERT_TRUE(daily.has_value());
  EXPECT_GT(*daily, 0.5);
  EXPECT_LT(*daily, 8.0);
  EXPECT_EQ(rep.forecast_cache_stats().misses, fits);
  EXPECT_FALSE(rep.cached_daily_demand("BREAD", now_ms()).has_value());  // never fitted
  // The next hour's forecast is not fitted yet.
  EXPECT_FALSE(rep.cached_daily_demand("MILK-1L", now_ms() + 3'600'000).has_value());
}

}  // namespace
}  // namespace shopeasy::edge::replenish
