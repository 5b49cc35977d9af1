#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "cloud/pricing/engine.hpp"
#include "cloud/pricing/price_model.hpp"
#include "cloud/pricing/rules.hpp"

namespace shopeasy::cloud::pricing {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

PriceModel milk() {
  return PriceModel{.sku = "milk-1l",
                    .store_id = "",
                    .base_cents = 6'000,
                    .mrp_cents = 6'800,
                    .cost_cents = 4'500,
                    .min_margin_bp = 1'000};
}

// ---- model --------------------------------------------------------------------------

TEST(PriceModelTest, FloorIsCostPlusMarginRoundedUp) {
  PriceModel m = milk();
  EXPECT_EQ(floor_cents(m), 4'950);
  m.cost_cents = 1'001;
  m.min_margin_bp = 1'000;
  EXPECT_EQ(floor_cents(m), 1'102);  // 1101.1 rounds up
  m.cost_cents.reset();
  EXPECT_EQ(floor_cents(m), std::nullopt);
}

TEST(PriceModelTest, RefusesBadRowsNamingTheField) {
  const auto field_of = [](const nlohmann::json& j) {
    StatusOr<PriceModel> m = model_from_json(j, "milk-1l", "");
    EXPECT_FALSE(m.ok()) << j.dump();
    return m.ok() ? std::string() : m.status().field();
  };
  EXPECT_EQ(field_of({{"base_cents", 0}, {"mrp_cents", 100}}), "base_cents");
  EXPECT_EQ(field_of({{"base_cents", -5}, {"mrp_cents", 100}}), "base_cents");
  EXPECT_EQ(field_of({{"base_cents", 200}, {"mrp_cents", 100}}), "base_cents");
  EXPECT_EQ(field_of({{"base_cents", 100}, {"mrp_cents", 100}, {"cost_cents", nullptr}}),
            "cost_cents");
  EXPECT_EQ(field_of({{"base_cents", 100}, {"mrp_cents", 100}, {"cost_cents", 0}}), "cost_cents");
  EXPECT_EQ(field_of({{"base_cents", 100}, {"mrp_cents", 100}, {"cost_cents", -1}}), "cost_cents");
  EXPECT_EQ(
      field_of(
          {{"base_cents", 100}, {"mrp_cents", 100}, {"cost_cents", 95}, {"min_margin_bp", 1'000}}),
      "cost_cents");  // floor 104.5 above the MRP
  EXPECT_EQ(field_of({{"base_cents", 100.5}, {"mrp_cents", 100}}), "base_cents");
  EXPECT_EQ(field_of({{"mrp_cents", 100}}), "base_cents");
  EXPECT_EQ(field_of({{"base_cents", 10}, {"mrp_cents", kMaxPriceCents + 1}}), "mrp_cents");
  EXPECT_FALSE(model_from_json({{"base_cents", 10}, {"mrp_cents", 10}}, "bad sku", "").ok());
}

TEST(PriceModelTest, StoreOverrideWinsOverDefaults) {
  PriceModel global = milk();
  PriceModel local = milk();
  local.store_id = "blr-1";
  local.base_cents = 5'800;
  const std::vector<PriceModel> rows{global, local};
  EXPECT_EQ(resolve(rows, "blr-1")->base_cents, 5'800);
  EXPECT_EQ(resolve(rows, "del-1")->base_cents, 6'000);
  EXPECT_FALSE(resolve({local}, "del-1").has_value());
}

// ---- surge --------------------------------------------------------------------------

TEST(SurgeTest, StepsFollowLoadWithHysteresis) {
  const SurgeConfig c;  // steps at 1.5, 2.5, 4.0 orders per runner; 20% hysteresis
  LoadSignal s{.open_orders = 10, .available_runners = 10, .pick_queue = 0, .at_ms = kNow};
  EXPECT_EQ(evaluate_surge(c, &s, {}, 0, kNow).step, 0);
  EXPECT_EQ(evaluate_surge(c, &s, {}, 0, kNow).fee_cents, c.base_fee_cents);
  s.open_orders = 26;  // 2.6 per runner
  SurgeDecision d = evaluate_surge(c, &s, {}, 0, kNow);
  EXPECT_EQ(d.step, 2);
  EXPECT_EQ(d.fee_cents, 4'900);
  // 2.2 is under 2.5 but above 2.5 * 0.8: step 2 holds.
  s.open_orders = 22;
  EXPECT_EQ(evaluate_surge(c, &s, {}, 2, kNow).step, 2);
  // From step 0 the same load only reaches step 1.
  EXPECT_EQ(evaluate_surge(c, &s, {}, 0, kNow).step, 1);
  // 1.9 is below 2.0: down to step 1.
  s.open_orders = 19;
  EXPECT_EQ(evaluate_surge(c, &s, {}, 2, kNow).step, 1);
  // The pick queue alone reaches a step.
  s.open_orders = 0;
  s.pick_queue = 40;
  EXPECT_EQ(evaluate_surge(c, &s, {}, 0, kNow).step, 3);
}

TEST(SurgeTest, StaleSignalIsNeutralAndSaysSo) {
  const SurgeConfig c;
  const LoadSignal s{.open_orders = 100, .available_runners = 1, .pick_queue = 0, .at_ms = kNow};
  EXPECT_EQ(evaluate_surge(c, &s, {}, 0, kNow + 60'000).step, 3);
  // Frozen signal: within 60 s of its last update the surge ends, whatever the step was.
  SurgeDecision d = evaluate_surge(c, &s, {}, 3, kNow + 60'001);
  EXPECT_EQ(d.step, 0);
  EXPECT_EQ(d.fee_cents, c.base_fee_cents);
  EXPECT_TRUE(d.stale_signal);
  EXPECT_NE(d.reason.find("neutral"), std::string::npos);
  // A stamp far in the future is not trusted either.
  const LoadSignal future{.open_orders = 100, .available_runners = 1, .at_ms = kNow + kDay};
  EXPECT_EQ(evaluate_surge(c, &future, {}, 0, kNow).step, 0);
  EXPECT_EQ(evaluate_surge(c, nullptr, {}, 2, kNow).step, 0);
}

TEST(SurgeTest, WeatherFlagRaisesOneStepUntilItLapses) {
  const SurgeConfig c;
  const WeatherFlag rain{.bad_weather = true, .until_ms = kNow + 3'600'000};
  EXPECT_EQ(evaluate_surge(c, nullptr, rain, 0, kNow).step, 1);
  EXPECT_EQ(evaluate_surge(c, nullptr, rain, 0, kNow + 3'600'000).step, 0);
  const LoadSignal s{.open_orders = 100, .available_runners = 1, .at_ms = kNow};
  EXPECT_EQ(evaluate_surge(c, &s, rain, 0, kNow).step, 3);  // never past the last step
}

// ---- markdowns ----------------------------------------------------------------------

TEST(MarkdownTest, TiersByTimeToExpiryFloored) {
  const PricingConfig c;
  const PriceModel m = milk();  // base 60.00, floor 49.50
  Lot lot{.lot_id = "L1", .sku = "milk-1l", .expires_ms = kNow + 3 * kDay, .units = 5};
  EXPECT_FALSE(price_lot(c, m, lot, kNow).has_value());
  lot.expires_ms = kNow + 2 * kDay;
  EXPECT_EQ(price_lot(c, m, lot, kNow)->price_cents, 4'950);  // 20% off = 48.00, floored
  PriceModel cheap_cost = m;
  cheap_cost.cost_cents = 2'000;
  EXPECT_EQ(price_lot(c, cheap_cost, lot, kNow)->price_cents, 4'800);
  lot.expires_ms = kNow + kDay / 2;
  EXPECT_EQ(price_lot(c, cheap_cost, lot, kNow)->price_cents, 3'600);  // 40% on the last day
  lot.expires_ms = kNow;
  EXPECT_FALSE(price_lot(c, cheap_cost, lot, kNow).has_value());  // expired: not sold
  PriceModel no_floor = m;
  no_floor.cost_cents.reset();
  lot.expires_ms = kNow + kDay / 2;
  EXPECT_FALSE(price_lot(c, no_floor, lot, kNow).has_value());
}

// ---- competitor ---------------------------------------------------------------------

TEST(CompetitorTest, BeatsMedianWithinBandAndIgnoresOldRows) {
  CompetitorConfig c;
  c.beat_by_cents = 100;
  c.band_bp = 1'000;
  std::vector<CompetitorPrice> rows{
      {"milk-1l", "a", 5'600, kNow}, {"milk-1l", "b", 5'800, kNow}, {"milk-1l", "c", 9'000, kNow}};
  EXPECT_EQ(competitor_target(c, 6'000, rows, kNow), 5'700);
  // Already cheaper than the target: the rule never raises.
  EXPECT_EQ(competitor_target(c, 5'000, rows, kNow), 5'000);
  c.beat_by_cents = 5'000;  // kept within 10% of the median
  EXPECT_EQ(competitor_target(c, 6'000, rows, kNow), 5'220);
  EXPECT_FALSE(competitor_target(c, 6'000, rows, kNow + c.max_age_ms + 1).has_value());
}

TEST(CompetitorFeedTest, ParsesCsvAndJson) {
  const auto csv =
      parse_competitor_csv("sku,competitor,price,observed_at_ms\nmilk-1l,\"Shop, Inc\",55.5," +
                               std::to_string(kNow - 1000) + "\nbread,b,30\n",
                           kNow);
  ASSERT_TRUE(csv.ok()) << csv.status().to_string();
  ASSERT_EQ(csv->size(), 2u);
  EXPECT_EQ((*csv)[0].price_cents, 5'550);
  EXPECT_EQ((*csv)[0].competitor, "Shop, Inc");
  EXPECT_EQ((*csv)[1].observed_at_ms, kNow);
  const auto json = parse_competitor_json(
      nlohmann::json::parse(R"({"rows":[{"sku":"milk-1l","price":55.5}]})"), kNow);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ((*json)[0].price_cents, 5'550);
}

TEST(CompetitorFeedTest, RefusesBadRowsNamingThem) {
  const auto message = [](const std::string& text) {
    auto r = parse_competitor_csv(text, kNow);
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(message("sku,price\nmilk,10\nbread,\n"), "line 3: price is blank");
  EXPECT_EQ(message("sku,price\nmilk,0\n"), "line 2: price must be above zero");
  EXPECT_EQ(message("sku,price\nmilk,-4\n"), "line 2: price must be above zero");
  EXPECT_EQ(message("sku,price\nmilk,nan\n"), "line 2: price is not a finite number");
  EXPECT_EQ(message("sku,price\nmilk,inf\n"), "line 2: price is not a finite number");
  EXPECT_EQ(message("sku,price\nmilk,12abc\n"), "line 2: price '12abc' is not a number");
  EXPECT_NE(message("sku,price\nmilk,1e300\n").find("absurd"), std::string::npos);
  EXPECT_NE(message("sku,price\nbad sku,10\n").find("line 2: sku"), std::string::npos);
  EXPECT_NE(message("name,cost\n").find("header"), std::string::npos);
  auto j = parse_competitor_json(nlohmann::json::parse(R"([{"sku":"a","price":"NaN"}])"), kNow);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().field(), "rows[0]");
  j = parse_competitor_json(nlohmann::json::parse(R"([{"sku":"a","price":1},{"sku":"a"}])"), kNow);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "rows[1]: price is blank");
}

TEST(CompetitorFeedTest, AbsurdAgainstTheModelIsRefused) {
  std::vector<CompetitorPrice> rows{{"milk-1l", "a", 5'500, kNow, "line 2"},
                                    {"milk-1l", "b", 1, kNow, "line 3"}};
  const Status st = check_feed(rows, {milk()});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "line 3");
  rows.pop_back();
  EXPECT_TRUE(check_feed(rows, {milk()}).is_ok());
}

// ---- engine -------------------------------------------------------------------------

TEST(EngineTest, KillSwitchAndDefaultDenyServeBase) {
  PricingConfig c;
  SkuInputs in;
  in.competitor = {{"milk-1l", "a", 5'000, kNow}};
  PriceModel m = milk();
  m.cost_cents.reset();
  EXPECT_EQ(price_sku(c, m, in, kNow).price_cents, 6'000);
  EXPECT_EQ(price_sku(c, m, in, kNow).rule, "no_floor");
  c.enabled = false;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "kill_switch");
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 6'000);
}

TEST(EngineTest, HourlyCapLimitsTheMove) {
  PricingConfig c;  // 8% an hour
  SkuInputs in;
  in.competitor = {{"milk-1l", "a", 5'000, kNow}};
  PriceModel m = milk();
  m.cost_cents = 3'000;
  const PriceDecision d = price_sku(c, m, in, kNow);
  EXPECT_TRUE(d.capped);
  EXPECT_EQ(d.price_cents, 5'520);  // 6000 - 8%
  in.hour_ago_cents = 5'520;
  EXPECT_EQ(price_sku(c, m, in, kNow).price_cents, 5'079);  // competitor band: 4900..; capped
}

TEST(EngineTest, ChangesPastTheThresholdWaitForApproval) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  c.approval_threshold_bp = 1'000;
  SkuInputs in;
  in.competitor = {{"milk-1l", "a", 5'000, kNow}};
  PriceModel m = milk();
  m.cost_cents = 3'000;
  const PriceDecision d = price_sku(c, m, in, kNow);
  EXPECT_TRUE(d.pending_approval);
  EXPECT_EQ(d.proposed_cents, 4'900);
  EXPECT_EQ(d.price_cents, 6'000);
}

TEST(EngineTest, ConfigRoundTripsAndRefusesBadFields) {
  PricingConfig c;
  c.max_change_per_hour_bp = 500;
  c.surge.steps = {{1.0, 0, 3'000}};
  auto back = config_from_json(config_to_json(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(config_to_json(*back), config_to_json(c));
  auto bad = config_from_json({{"surge", {{"steps", {{{"orders_per_runner", 1}}}}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "surge.steps[0].fee_cents");
  bad = config_from_json({{"max_change_per_hour_bp", -1}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "max_change_per_hour_bp");
}

// ---- inventory cover ----------------------------------------------------------------

TEST(InventoryTest, ClassifiesCoverAgainstTheThresholds) {
  const InventoryConfig c;  // overstock at 21 days, scarce at 2
  EXPECT_EQ(classify_cover(c, {.units = 210, .daily_demand = 10}).state, CoverState::kOverstock);
  EXPECT_EQ(classify_cover(c, {.units = 209, .daily_demand = 10}).state, CoverState::kNormal);
  EXPECT_EQ(classify_cover(c, {.units = 20, .daily_demand = 10}).state, CoverState::kScarce);
  EXPECT_EQ(classify_cover(c, {.units = 21, .daily_demand = 10}).state, CoverState::kNormal);
  EXPECT_EQ(classify_cover(c, {.units = 0, .daily_demand = 0.5}).state, CoverState::kScarce);
  EXPECT_DOUBLE_EQ(classify_cover(c, {.units = 30, .daily_demand = 4}).days, 7.5);
  // Units and no demand: cover without end.
  const CoverVerdict idle = classify_cover(c, {.units = 3, .daily_demand = 0});
  EXPECT_EQ(idle.state, CoverState::kOverstock);
  EXPECT_TRUE(std::isinf(idle.days));
  // Nothing on hand and nothing sold: nothing to judge.
  EXPECT_EQ(classify_cover(c, {.units = 0, .daily_demand = 0}).state, CoverState::kNormal);
  // Figures no store should send never move a price.
  EXPECT_EQ(classify_cover(c, {.units = -5, .daily_demand = 1}).state, CoverState::kNormal);
  EXPECT_EQ(classify_cover(c, {.units = 5, .daily_demand = -1}).state, CoverState::kNormal);
  EXPECT_EQ(
      classify_cover(c, {.units = 5, .daily_demand = std::numeric_limits<double>::quiet_NaN()})
          .state,
      CoverState::kNormal);
  EXPECT_EQ(classify_cover(c, {.units = 5, .daily_demand = std::numeric_limits<double>::infinity()})
                .state,
            CoverState::kNormal);
}

TEST(InventoryTest, OverstockedSkuIsDiscounted) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  SkuInputs in;
  in.cover = SkuCover{.units = 300, .daily_demand = 10};  // 30 days
  const PriceDecision d = price_sku(c, milk(), in, kNow);
  EXPECT_EQ(d.rule, "overstock");
  EXPECT_EQ(d.price_cents, 5'400);  // 6000 - 10%
  EXPECT_EQ(d.reason, "cover 30.0 days, overstocked: 1000 bp off");
  EXPECT_FALSE(d.capped);
  EXPECT_FALSE(d.pending_approval);
}

TEST(InventoryTest, OverstockDiscountIsFlooredAndCappedPerHour) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  c.inventory.overstock_off_bp = 4'000;  // asks for 3600, under the 4950 floor
  c.approval_threshold_bp = 10'000;
  SkuInputs in;
  in.cover = SkuCover{.units = 300, .daily_demand = 10};
  PriceDecision d = price_sku(c, milk(), in, kNow);
  EXPECT_EQ(d.rule, "overstock");
  EXPECT_EQ(d.price_cents, 4'950);
  // At the default 8% an hour the move from the base stops at 5520.
  c.max_change_per_hour_bp = 800;
  d = price_sku(c, milk(), in, kNow);
  EXPECT_TRUE(d.capped);
  EXPECT_EQ(d.price_cents, 5'520);
  in.hour_ago_cents = 5'520;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 5'079);
}

TEST(InventoryTest, OverstockPastTheThresholdWaitsForApproval) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  c.approval_threshold_bp = 500;
  SkuInputs in;
  in.cover = SkuCover{.units = 300, .daily_demand = 10};
  const PriceDecision d = price_sku(c, milk(), in, kNow);
  EXPECT_TRUE(d.pending_approval);
  EXPECT_EQ(d.proposed_cents, 5'400);
  EXPECT_EQ(d.price_cents, 6'000);
}

TEST(InventoryTest, ZeroDemandWithStockIsOverstocked) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  SkuInputs in;
  in.cover = SkuCover{.units = 4, .daily_demand = 0};
  const PriceDecision d = price_sku(c, milk(), in, kNow);
  EXPECT_EQ(d.rule, "overstock");
  EXPECT_EQ(d.price_cents, 5'400);
  EXPECT_EQ(d.reason, "cover unbounded (no demand), overstocked: 1000 bp off");
}

TEST(InventoryTest, ScarceSkuIsNotPromotedBelowItsBase) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  SkuInputs in;
  in.competitor = {{"milk-1l", "a", 5'600, kNow}};
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "competitor");
  in.cover = SkuCover{.units = 15, .daily_demand = 10};  // 1.5 days
  const PriceDecision d = price_sku(c, milk(), in, kNow);
  EXPECT_EQ(d.rule, "scarce");
  EXPECT_EQ(d.price_cents, 6'000);
  EXPECT_EQ(d.reason, "cover 1.5 days, scarce: no promotion");
  // A SKU promoted an hour ago climbs back to its base within the cap.
  c.max_change_per_hour_bp = 800;
  in.hour_ago_cents = 5'000;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 5'400);
}

TEST(InventoryTest, ScarceSkuLotsAreStillMarkedDown) {
  PricingConfig c;
  const Lot lot{"L1", "milk-1l", kNow + kDay / 2, 3};
  // price_lot knows nothing of cover: the lot's units expire either way.
  ASSERT_TRUE(price_lot(c, milk(), lot, kNow).has_value());
  EXPECT_EQ(price_lot(c, milk(), lot, kNow)->price_cents, 4'950);
}

TEST(InventoryTest, TheLowerOfCompetitorAndOverstockWins) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  SkuInputs in;
  in.cover = SkuCover{.units = 300, .daily_demand = 10};  // asks 5400
  in.competitor = {{"milk-1l", "a", 5'600, kNow}};        // asks 5500
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "overstock");
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 5'400);
  in.competitor = {{"milk-1l", "a", 5'300, kNow}};  // asks 5200
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "competitor");
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 5'200);
  // Both under the floor: the floor.
  c.inventory.overstock_off_bp = 9'000;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).price_cents, 4'950);
}

TEST(InventoryTest, DisabledRuleOrNormalCoverChangesNothing) {
  PricingConfig c;
  c.max_change_per_hour_bp = 10'000;
  SkuInputs in;
  in.competitor = {{"milk-1l", "a", 5'600, kNow}};
  in.cover = SkuCover{.units = 15, .daily_demand = 10};
  c.inventory.enabled = false;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "competitor");
  in.competitor.clear();
  in.cover = SkuCover{.units = 300, .daily_demand = 10};
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "base");
  c.inventory.enabled = true;
  in.cover = SkuCover{.units = 100, .daily_demand = 10};  // 10 days: normal
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "base");
  // The kill switch and default-deny win over the rule.
  in.cover = SkuCover{.units = 300, .daily_demand = 10};
  c.enabled = false;
  EXPECT_EQ(price_sku(c, milk(), in, kNow).rule, "kill_switch");
  c.enabled = true;
  PriceModel no_floor = milk();
  no_floor.cost_cents.reset();
  EXPECT_EQ(price_sku(c, no_floor, in, kNow).rule, "no_floor");
}

TEST(InventoryTest, ConfigRoundTripsAndRefusesBadFields) {
  PricingConfig c;
  c.inventory = {
      .enabled = false, .overstock_days = 30.5, .overstock_off_bp = 1'500, .scarce_days = 1.5};
  auto back = config_from_json(config_to_json(c));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(config_to_json(*back), config_to_json(c));
  EXPECT_FALSE(back->inventory.enabled);
  EXPECT_DOUBLE_EQ(back->inventory.scarce_days, 1.5);
  // Left out: the defaults.
  EXPECT_TRUE(config_from_json(nlohmann::json::object())->inventory.enabled);
  const auto field_of = [](const nlohmann::json& inventory) {
    auto bad = config_from_json({{"inventory", inventory}});
    EXPECT_FALSE(bad.ok()) << inventory.dump();
    return bad.ok() ? std::string() : bad.status().field();
  };
  EXPECT_EQ(field_of({{"overstock_off_bp", 9'001}}), "inventory.overstock_off_bp");
  EXPECT_EQ(field_of({{"overstock_off_bp", -1}}), "inventory.overstock_off_bp");
  EXPECT_EQ(field_of({{"overstock_off_bp", 10.5}}), "inventory.overstock_off_bp");
  EXPECT_EQ(field_of({{"overstock_days", 0}}), "inventory.overstock_days");
  EXPECT_EQ(field_of({{"overstock_days", -3}}), "inventory.overstock_days");
  EXPECT_EQ(field_of({{"overstock_days", "21"}}), "inventory.overstock_days");
  EXPECT_EQ(field_of({{"scarce_days", 0}}), "inventory.scarce_days");
  EXPECT_EQ(field_of({{"scarce_days", 21}}), "inventory.scarce_days");
  EXPECT_EQ(field_of({{"scarce_days", 5}, {"overstock_days", 4}}), "inventory.scarce_days");
  EXPECT_EQ(field_of({{"enabled", "yes"}}), "inventory.enabled");
  EXPECT_EQ(field_of(nlohmann::json::array()), "inventory");
}

// 100,000 random models, rule settings, feeds, covers, anchors and lots: no price leaves
// [floor, MRP] for a SKU with a floor, and one without a floor stays at its base.
TEST(EnginePropertyTest, NoPriceEverOutsideFloorAndMrp) {
  std::mt19937_64 rng(20);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  for (int i = 0; i < 100'000; ++i) {
    PriceModel m;
    m.sku = "s";
    m.mrp_cents = pick(1, 2'000'000);
    m.base_cents = pick(1, m.mrp_cents);
    if (pick(0, 9) > 0) m.cost_cents = pick(1, m.mrp_cents);
    m.min_margin_bp = static_cast<std::int32_t>(pick(0, 10'000));
    if (!validate(m).is_ok()) {
      m.min_margin_bp = 0;
      ASSERT_TRUE(validate(m).is_ok());
    }
    PricingConfig c;
    c.enabled = pick(0, 9) > 0;
    c.max_change_per_hour_bp = static_cast<std::int32_t>(pick(0, 10'000));
    c.approval_threshold_bp = static_cast<std::int32_t>(pick(0, 10'000));
    c.competitor.beat_by_cents = pick(0, 1'000'000);
    c.competitor.band_bp = static_cast<std::int32_t>(pick(0, 10'000));
    c.markdown.tiers = {{pick(1, 5 * kDay), static_cast<std::int32_t>(pick(0, 9'000))}};
    SkuInputs in;
    for (std::int64_t k = pick(0, 5); k > 0; --k) {
      in.competitor.push_back({"s", "c", pick(1, kMaxPriceCents), kNow - pick(0, 2 * kDay)});
    }
    if (pick(0, 1) == 1) in.hour_ago_cents = pick(1, kMaxPriceCents);
    c.inventory.enabled = pick(0, 4) > 0;
    c.inventory.overstock_off_bp = static_cast<std::int32_t>(pick(0, 9'000));
    c.inventory.scarce_days = static_cast<double>(pick(1, 100)) / 10.0;
    c.inventory.overstock_days = c.inventory.scarce_days + static_cast<double>(pick(1, 600)) / 10.0;
    if (pick(0, 3) > 0) {
      // Zero units and zero demand included: the edges of the cover rule.
      const std::int64_t units = pick(0, 3) == 0 ? 0 : pick(0, 1'000'000);
      const double demand = pick(0, 3) == 0 ? 0.0 : static_cast<double>(pick(0, 100'000)) / 100.0;
      in.cover = SkuCover{.units = units, .daily_demand = demand};
    }
    const PriceDecision d = price_sku(c, m, in, kNow);
    const auto floor = floor_cents(m);
    if (!floor || !c.enabled) {
      ASSERT_EQ(d.price_cents, m.base_cents) << i;
      continue;
    }
    ASSERT_GE(d.price_cents, *floor) << i;
    ASSERT_LE(d.price_cents, m.mrp_cents) << i;
    ASSERT_GE(d.proposed_cents, *floor) << i;
    ASSERT_LE(d.proposed_cents, m.mrp_cents) << i;
    const Lot lot{"l", "s", kNow + pick(-kDay, 5 * kDay), 1};
    if (auto lp = price_lot(c, m, lot, kNow)) {
      ASSERT_GE(lp->price_cents, *floor) << i;
      ASSERT_LE(lp->price_cents, m.mrp_cents) << i;
    }
  }
}

}  // namespace
}  // namespace shopeasy::cloud::pricing
