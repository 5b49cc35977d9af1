#include "edge/demand/demand_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/clock/clock.hpp"
#include "edge/forecast/series.hpp"
#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::demand {
namespace {

constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

// Six weeks of a store's ledger from Monday 2026-01-05 00:00 UTC: milk received every
// Monday at 07:00 and picked twice at 10:00 every day; bread received 5 at 07:00 every
// day and picked at 09:00-13:00, so it sells out at 13:00 each day.
class DemandServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/demand-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    clock_.set_wall(at(0, 0, 0));
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<inventory::Inventory>(*store_, "store-1", logger_, metrics_);
    ASSERT_TRUE(inv_->upsert_bins({{"A-01", 1, "chilled"}, {"B-01", 2, ""}}, actor_).ok());
    std::vector<StatusOr<inventory::ProductInput>> rows;
    rows.push_back(inventory::ProductInput{
        "MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 0});
    rows.push_back(
        inventory::ProductInput{"BREAD", "Bread", "bakery", 4000, "each", {kBreadEan}, "B-01", 0});
    ASSERT_TRUE(inv_->upsert_products(rows, true, actor_).ok());
  }
  void TearDown() override {
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static WallTime at(int day, int hour, int minute) {
    const std::int64_t s =
        forecast::days_from_civil(2026, 1, 5 + 0) * 86400 + day * 86400 + hour * 3600 + minute * 60;
    return WallTime(std::chrono::seconds(s));
  }
  static std::int64_t ms(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
  void scan(int day, int hour, int minute, const char* code, wire::ScanAction action, int qty) {
    clock_.set_wall(at(day, hour, minute));
    wire::Scan s;
    s.scan_id = "s" + std::to_string(++scans_);
    s.scanner_id = "h1";
    s.code = code;
    s.action = action;
    s.qty = qty;
    auto r = inv_->apply_scan(s, actor_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  void six_weeks() {
    for (int day = 0; day < 42; ++day) {
      if (day % 7 == 0) scan(day, 7, 0, kMilkEan, wire::ScanAction::kReceive, 100);
      scan(day, 7, 5, kBreadEan, wire::ScanAction::kReceive, 5);
      for (int hour = 9; hour <= 13; ++hour)
        scan(day, hour, 30, kBreadEan, wire::ScanAction::kPick, 1);
      scan(day, 10, 10, kMilkEan, wire::ScanAction::kPick, 1);
      scan(day, 10, 40, kMilkEan, wire::ScanAction::kPick, 1);
    }
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"};
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inv_;
  inventory::Actor actor_{"tester", "api"};
  int scans_ = 0;
};

TEST_F(DemandServiceTest, ForecastsPicksPerHourFromTheLedger) {
  six_weeks();
  DemandService service(*store_, DemandOptions{42, 0});
  const auto f = service.forecast("MILK-1L", ms(at(42, 0, 20)), 48);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->sku, "MILK-1L");
  EXPECT_EQ(f->units_sold, 84);
  EXPECT_EQ(f->censored_hours, 7);  // nothing on hand before the first delivery
  ASSERT_EQ(f->hours.size(), 48u);
  EXPECT_EQ(f->hours[0].ts_ms, ms(at(42, 0, 0)));
  EXPECT_EQ(f->hours[0].local_time, "2026-02-16T00:00:00");
  EXPECT_NEAR(f->hours[10].mean, 2, 0.1);
  EXPECT_NEAR(f->hours[34].mean, 2, 0.1);
  EXPECT_NEAR(f->hours[3].mean, 0, 0.05);
  EXPECT_GE(f->hours[10].p90, 2);

  // Local time shifts the hours: at UTC+1 the 10:00 UTC picks are at 11:00.
  DemandService shifted(*store_, DemandOptions{42, 60});
  const auto g = shifted.forecast("MILK-1L", ms(at(42, 0, 20)), 24);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->hours[0].local_time, "2026-02-16T01:00:00");
  EXPECT_NEAR(g->hours[10].mean, 2, 0.1);  // 11:00 local
}

TEST_F(DemandServiceTest, SellOutsAreCensoredNotReadAsLowDemand) {
  six_weeks();
  DemandService service(*store_, DemandOptions{42, 0});
  const auto f = service.forecast("BREAD", ms(at(42, 0, 0)), 24);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  // Out of bread from 13:30 to the next 07:05: the hours 13:00-07:00, 19 a day; before
  // the first delivery 00:00-07:00 (8), and on the last day 13:00-24:00 (11).
  EXPECT_EQ(f->censored_hours, 8 + 41 * 19 + 11);
  EXPECT_NEAR(f->hours[12].mean, 1, 0.15);
  // The 13:00 hour sold 1 but was cut short: its demand is read as more than 1.
  EXPECT_GT(f->hours[13].mean, 1.3);
}

TEST_F(DemandServiceTest, RefusesUnknownSkusAndBadHours) {
  DemandService service(*store_, DemandOptions{});
  EXPECT_EQ(service.forecast("NOPE", ms(at(1, 0, 0)), 24).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service.forecast("MILK-1L", ms(at(1, 0, 0)), 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service.forecast("MILK-1L", ms(at(1, 0, 0)), DemandService::kMaxHours + 1).status().code(),
      StatusCode::kInvalidArgument);
  // A SKU with no history at all: zeros, not an error.
  const auto f = service.forecast("MILK-1L", ms(at(1, 0, 0)), 24);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->hours.size(), 24u);
  EXPECT_EQ(f->hours[10].mean, 0);
}

}  // namespace
}  // namespace shopeasy::edge::demand
