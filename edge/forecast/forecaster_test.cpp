#include "edge/forecast/forecaster.hpp"

#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "edge/forecast/evaluate.hpp"
#include "edge/forecast/synthetic.hpp"

namespace shopeasy::forecast {
namespace {

const Calendar kHour = calendar_for(Granularity::kHour);

Options only(Method m) {
  Options o;
  o.candidates = {m};
  return o;
}

// A SKU selling the same thing every week: 3 at 10:00 and 1 at 15:00 on weekdays.
Series steady(int weeks) {
  Series s;
  s.sku = "steady";
  s.start = days_from_civil(2026, 1, 5) * 86400;
  s.qty.assign(static_cast<std::size_t>(weeks) * 168, 0.0f);
  s.censored.assign(s.qty.size(), 0);
  for (std::size_t t = 0; t < s.qty.size(); ++t) {
    const std::size_t how = t % 168;
    if (how / 24 < 5 && how % 24 == 10) s.qty[t] = 3;
    if (how / 24 < 5 && how % 24 == 15) s.qty[t] = 1;
  }
  return s;
}

Pools pools_of(const std::vector<Series>& all, std::size_t origin) {
  Pools p(kHour);
  for (const Series& s : all) p.add(s, origin);
  p.finish();
  return p;
}

TEST(NbQuantile, PoissonAndOverdispersedValues) {
  EXPECT_EQ(nb_quantile(0, 0, 0.5), 0);
  // Poisson(1): P(0)=0.368, P(<=1)=0.736, P(<=2)=0.920, P(<=3)=0.981.
  EXPECT_EQ(nb_quantile(1, 0, 0.5), 1);
  EXPECT_EQ(nb_quantile(1, 0, 0.9), 2);
  EXPECT_EQ(nb_quantile(1, 0, 0.95), 3);
  // More dispersion, a longer right tail and more zeros.
  EXPECT_EQ(nb_quantile(1, 2.0, 0.5), 0);
  EXPECT_GT(nb_quantile(1, 2.0, 0.95), 3);
  // Large means use the normal approximation without looping for ever.
  EXPECT_NEAR(nb_quantile(5000, 0, 0.5), 5000, 2);
}

TEST(Forecaster, MethodsReproduceASteadyWeek) {
  const std::vector<Series> all = {steady(6)};
  const std::size_t origin = 5 * 168;
  const Pools pools = pools_of(all, origin);
  for (Method m : {Method::kSeasonalNaive, Method::kMean4Weeks, Method::kProfile, Method::kAdida}) {
    const SkuForecast f = forecast_sku(all[0], origin, 168, pools, kHour, only(m));
    EXPECT_NEAR(f.mean[10], 3, 0.05) << method_name(m);
    EXPECT_NEAR(f.mean[15], 1, 0.05) << method_name(m);
    EXPECT_NEAR(f.mean[5 * 24 + 10], 0, 0.05) << method_name(m);  // Saturday
  }
  const SkuForecast zero = forecast_sku(all[0], origin, 168, pools, kHour, only(Method::kZero));
  EXPECT_EQ(std::accumulate(zero.mean.begin(), zero.mean.end(), 0.0), 0);
  // Croston-type rates keep the week's total.
  for (Method m : {Method::kCroston, Method::kTsb}) {
    const SkuForecast f = forecast_sku(all[0], origin, 168, pools, kHour, only(m));
    EXPECT_NEAR(std::accumulate(f.mean.begin(), f.mean.end(), 0.0), 20, 4) << method_name(m);
  }
}

TEST(Forecaster, ChoosesAMethodByBacktestAndGivesOrderedQuantiles) {
  const std::vector<Series> all = {steady(8)};
  const Pools pools = pools_of(all, 8 * 168);
  const SkuForecast f = forecast_sku(all[0], 8 * 168, 168, pools, kHour, Options{});
  EXPECT_NE(f.method, Method::kZero);
  EXPECT_NEAR(f.mean[10], 3, 0.05);
  for (std::size_t k = 0; k < f.mean.size(); ++k) {
    EXPECT_LE(f.p50[k], f.p90[k]);
    EXPECT_LE(f.p90[k], f.p95[k]);
  }
  EXPECT_GE(f.p90[10], 3);
}

TEST(Forecaster, StockOutsAreNotReadAsLowDemand) {
  // Every weekday the 15:00 hour sold out early: sales of 1 where demand was 4, and the
  // hours after it censored.
  Series s = steady(8);
  for (std::size_t t = 0; t < s.qty.size(); ++t) {
    const std::size_t how = t % 168;
    if (how / 24 < 5 && how % 24 == 15) {
      s.qty[t] = 1;
      s.censored[t] = 1;
    }
  }
  // Demand at 15:00 as seen on the Saturdays it never sells out: the pool knows 15:00
  // sells, and the week's level comes from the uncensored hours.
  Series other = steady(8);
  other.sku = "other";
  for (std::size_t t = 0; t < other.qty.size(); ++t) {
    if (t % 168 / 24 < 5 && t % 24 == 15) other.qty[t] = 3;
  }
  const std::vector<Series> all = {s, other};
  const Pools pools = pools_of(all, 7 * 168);
  Options aware = only(Method::kProfile);
  Options naive = aware;
  naive.censoring_aware = false;
  const SkuForecast a = forecast_sku(s, 7 * 168, 168, pools, kHour, aware);
  const SkuForecast n = forecast_sku(s, 7 * 168, 168, pools, kHour, naive);
  EXPECT_GT(a.mean[15], 1.2);  // above what sold: demand was censored
  EXPECT_NEAR(n.mean[15], 1, 0.05);
}

TEST(Forecaster, OverridesScaleForecastsAndAreDividedOutOfHistory) {
  Series s = steady(6);
  const std::int64_t week5 = s.start + 4 * 7 * 86400;
  // A past event doubled week 5's sales; a coming holiday halves Monday of week 6.
  for (std::size_t t = 4 * 168; t < 5 * 168; ++t) s.qty[t] *= 2;
  Options o = only(Method::kSeasonalNaive);
  o.overrides.push_back(Override{week5, week5 + 7 * 86400, 2.0, ""});
  o.overrides.push_back(Override{week5 + 7 * 86400, week5 + 8 * 86400, 0.5, "steady"});
  o.overrides.push_back(Override{week5 + 7 * 86400, week5 + 8 * 86400, 0.1, "another-sku"});
  const std::vector<Series> all = {s};
  const Pools pools = pools_of(all, 5 * 168);
  const SkuForecast f = forecast_sku(s, 5 * 168, 168, pools, kHour, o);
  EXPECT_NEAR(f.mean[10], 1.5, 1e-6);     // Monday 10:00, halved
  EXPECT_NEAR(f.mean[24 + 10], 3, 1e-6);  // Tuesday, as usual
}

TEST(Forecaster, CensoredAwareFitIsUnbiasedOnGeneratedStockOuts) {
  SyntheticOptions gen;
  gen.days = 16 * 7;
  gen.seed = 5;
  gen.limited_stock_day_share = 0.25;
  gen.median_weekly_units = 40;
  gen.level_spread = 0.6;
  gen.weekly_drift = 0;
  std::vector<SyntheticSku> skus;
  std::vector<Series> observed;
  for (std::size_t i = 0; i < 300; ++i) {
    skus.push_back(generate_sku(i, gen));
    observed.push_back(skus.back().observed);
  }
  const std::size_t origin = 12 * 168;
  const Pools pools = pools_of(observed, origin);
  Options aware;
  Options naive;
  naive.censoring_aware = false;
  double truth = 0, fa = 0, fn = 0;
  for (std::size_t i = 0; i < skus.size(); ++i) {
    const auto a = forecast_sku(observed[i], origin, 4 * 168, pools, kHour, aware);
    const auto n = forecast_sku(observed[i], origin, 4 * 168, pools, kHour, naive);
    for (std::size_t k = 0; k < a.mean.size(); ++k) {
      truth += skus[i].demand[origin + k];
      fa += a.mean[k];
      fn += n.mean[k];
    }
  }
  EXPECT_NEAR(fa / truth - 1, 0, 0.04);
  EXPECT_LT(fn / truth - 1, -0.06);
}

TEST(Backtest, BaselinesAndChosenAreScored) {
  SyntheticOptions gen;
  gen.days = 10 * 7;
  std::vector<Series> all;
  for (std::size_t i = 0; i < 20; ++i) all.push_back(generate_sku(i, gen).observed);
  const auto r = backtest(all, Granularity::kHour, 3, Options{});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->methods.size(), kAllMethods.size() + 1);
  const MethodScores* zero = r->find("zero");
  const MethodScores* chosen = r->find("chosen");
  const MethodScores* snaive = r->find("seasonal-naive");
  ASSERT_TRUE(zero && chosen && snaive);
  EXPECT_NEAR(zero->step.wape, 1.0, 1e-9);
  EXPECT_NEAR(zero->step.bias, -1.0, 1e-9);
  EXPECT_LT(chosen->step.wape, snaive->step.wape);
  EXPECT_LT(chosen->step.rmsse, snaive->step.rmsse);
  EXPECT_GT(chosen->day.actual_units, 0);

  const auto too_many = backtest(all, Granularity::kHour, 9, Options{});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shopeasy::forecast
