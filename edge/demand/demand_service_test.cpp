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

namespace shopeasy::edge::demand {
namespace {

// The hours a forecast read come back with it: what the chart of actual against
// forecast draws.
TEST_F(DemandServiceTest, ReturnsTheHoursOfHistoryItRead) {
  six_weeks();
  DemandService service(*store_, DemandOptions{42, 0});
  const auto f = service.forecast("BREAD", ms(at(42, 0, 0)), 24, 48);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  ASSERT_EQ(f->history.size(), 48u);
  EXPECT_EQ(f->history.front().ts_ms, ms(at(40, 0, 0)));
  EXPECT_EQ(f->history.back().local_time, "2026-02-15T23:00:00");
  double units = 0;
  for (const HistoryHour& h : f->history) units += h.units;
  EXPECT_EQ(units, 10);  // five a day
  EXPECT_EQ(f->history[10].units, 1);
  EXPECT_FALSE(f->history[10].censored);
  EXPECT_TRUE(f->history[20].censored);  // sold out since 13:30
  EXPECT_TRUE(service.forecast("BREAD", ms(at(42, 0, 0)), 24).value().history.empty());
  EXPECT_EQ(
      service.forecast("BREAD", ms(at(42, 0, 0)), 24, DemandService::kMaxHours + 1).status().code(),
      StatusCode::kInvalidArgument);
}

class PeakHoursTest : public DemandServiceTest {
 protected:
  // An order received at `received`, picked in `pick_s` and delivered `ride_s` after it
  // left (0: not that far).
  void order(const std::string& id, WallTime received, int pick_s, int ride_s) {
    const std::int64_t r = ms(received);
    Status written = store_->write([&](store::WriteContext& ctx) -> Status {
      db::Database& db = ctx.db();
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO orders (order_id, customer_id, status, lat, lon, promised_at_ms, "
                 "total_cents, received_at_ms, updated_at_ms, body) "
                 "VALUES (?, 'c', 'delivered', 0, 0, ?, 100, ?, ?, '{}')",
                 id, r + 600'000, r, r));
      auto step = [&](const char* status, std::int64_t at) {
        return db.run(
            "INSERT INTO order_history (order_id, status, at_ms, actor) VALUES (?, ?, ?, 't')", id,
            std::string(status), at);
      };
      SHOPEASY_RETURN_IF_ERROR(step("routed", r));
      SHOPEASY_RETURN_IF_ERROR(step("picking", r + 30'000));
      SHOPEASY_RETURN_IF_ERROR(step("packed", r + 30'000 + pick_s * 1000));
      if (ride_s > 0) {
        const std::int64_t out = r + 60'000 + pick_s * 1000;
        SHOPEASY_RETURN_IF_ERROR(step("out_for_delivery", out));
        SHOPEASY_RETURN_IF_ERROR(step("delivered", out + ride_s * 1000));
      }
      return Status::ok();
    });
    ASSERT_TRUE(written.is_ok()) << written.to_string();
  }
};

// Four weeks of a store busy at 18:00 (6 orders) and quiet at 10:00 (1): the plan puts
// each day's peak at 18:00 and sizes staff from the store's own measured times.
TEST_F(PeakHoursTest, PlansStaffForTheBusyHourFromMeasuredTimes) {
  int n = 0;
  for (int day = 0; day < 28; ++day) {
    order("o" + std::to_string(++n), at(day, 10, 5), 300, 600);
    for (int k = 0; k < 6; ++k) order("o" + std::to_string(++n), at(day, 18, 5 + k), 300, 600);
  }
  DemandService service(*store_, DemandOptions{28, 0});
  const forecast::StaffingRates configured{.orders_per_picker_hour = 12,
                                           .orders_per_runner_hour = 3};
  const auto plan = service.peak_hours(ms(at(28, 0, 0)), 2, configured);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->history_orders, 28 * 7);
  // Five minutes a pick: 12 an hour; ten minutes out and ten back: 3 an hour.
  EXPECT_TRUE(plan->picking.measured);
  EXPECT_EQ(plan->picking.samples, 28 * 7);
  EXPECT_DOUBLE_EQ(plan->picking.per_hour, 12);
  EXPECT_TRUE(plan->delivery.measured);
  EXPECT_DOUBLE_EQ(plan->delivery.median_s, 1200);
  EXPECT_DOUBLE_EQ(plan->delivery.per_hour, 3);
  ASSERT_EQ(plan->hours.size(), 48u);
  EXPECT_EQ(plan->hours[0].ts_ms, ms(at(28, 0, 0)));
  ASSERT_EQ(plan->daily_peaks.size(), 2u);
  EXPECT_EQ(plan->daily_peaks[0], 18u);
  EXPECT_EQ(plan->daily_peaks[1], 42u);
  const PeakHour& peak = plan->hours[18];
  EXPECT_NEAR(peak.orders_mean, 6, 0.5);
  EXPECT_GE(peak.runners, 2);  // six deliveries at three a runner-hour
  EXPECT_GE(peak.pickers, 1);
  EXPECT_LT(plan->hours[10].runners, peak.runners);
  EXPECT_EQ(plan->hours[3].runners, 0);
}

TEST_F(PeakHoursTest, UsesTheConfiguredRatesUntilTheStoreHasMeasuredEnough) {
  for (int day = 0; day < 4; ++day) order("o" + std::to_string(day), at(day, 18, 0), 60, 0);
  DemandService service(*store_, DemandOptions{28, 0});
  const auto plan = service.peak_hours(
      ms(at(28, 0, 0)), 1,
      forecast::StaffingRates{.orders_per_picker_hour = 20, .orders_per_runner_hour = 4});
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_FALSE(plan->picking.measured);
  EXPECT_EQ(plan->picking.samples, 4);
  EXPECT_EQ(plan->picking.per_hour, 20);
  EXPECT_FALSE(plan->delivery.measured);
  EXPECT_EQ(plan->delivery.samples, 0);
  EXPECT_EQ(plan->delivery.per_hour, 4);
}

TEST_F(PeakHoursTest, RefusesBadDaysAndRatesAndSaysWhenThereIsNoHistory) {
  DemandService service(*store_, DemandOptions{28, 0});
  const forecast::StaffingRates ok{.orders_per_picker_hour = 12, .orders_per_runner_hour = 3};
  EXPECT_EQ(service.peak_hours(ms(at(28, 0, 0)), 1, ok).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(service.peak_hours(ms(at(28, 0, 0)), 0, ok).status().field(), "days");
  EXPECT_EQ(
      service.peak_hours(ms(at(28, 0, 0)), DemandService::kMaxPeakDays + 1, ok).status().field(),
      "days");
  EXPECT_EQ(service
                .peak_hours(ms(at(28, 0, 0)), 1,
                            forecast::StaffingRates{.orders_per_picker_hour = 0,
                                                    .orders_per_runner_hour = 3})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shopeasy::edge::demand
