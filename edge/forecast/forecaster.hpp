// Per-SKU demand forecasts from a demand series (series.hpp). Pure: no I/O, no clock,
// no threads, no randomness.
//
// Every method sees the history the same way: censored steps are filled in with the
// SKU's weekly level times its hour-of-week (day-of-week) shape, estimated from the
// uncensored steps only, so a SKU that keeps selling out is not forecast down; steps
// inside a past override (a holiday, a promotion) are divided by its multiplier first.
// The shape blends the SKU's own hour-of-week profile with its pool's (category, else
// the store's), the more of its own the more units it sold.
//
// Methods: seasonal naive (same step last week), the mean of the same step over the
// last four weeks, all-zero, the seasonal profile with a smoothed weekly level,
// Croston, SBA and TSB (a rate spread over the week by the shape), and ADIDA (a daily
// level, split by the shape). Each SKU takes the candidate with the least squared error
// over the last `selection_folds` weeks (a rolling-origin backtest inside its history);
// its residuals there give the dispersion of a negative binomial around the mean, from
// which p50/p90/p95 come.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "edge/forecast/series.hpp"

namespace shopeasy::forecast {

enum class Method : std::uint8_t {
  kSeasonalNaive,
  kMean4Weeks,
  kZero,
  kProfile,
  kCroston,
  kSba,
  kTsb,
  kAdida,
};
inline constexpr std::array<Method, 8> kAllMethods = {
    Method::kSeasonalNaive, Method::kMean4Weeks, Method::kZero, Method::kProfile,
    Method::kCroston,       Method::kSba,        Method::kTsb,  Method::kAdida};
std::string_view method_name(Method m);

// Demand in [from, to) (local seconds) is `multiplier` times the usual: applied to
// forecasts, and divided out of history so a past event does not lift the level.
struct Override {
  std::int64_t from = 0;
  std::int64_t to = 0;
  double multiplier = 1.0;
  std::string sku;  // empty: every SKU
};

struct Options {
  // false: censored steps are taken at face value (what a naive fit does; for
  // comparison only).
  bool censoring_aware = true;
  int selection_folds = 4;
  std::vector<Method> candidates = {Method::kProfile,       Method::kAdida,   Method::kTsb,
                                    Method::kSba,           Method::kCroston, Method::kMean4Weeks,
                                    Method::kSeasonalNaive, Method::kZero};
  std::vector<Override> overrides;
};

// Hour-of-week (day-of-week) shapes pooled over SKUs: per group and for the store.
class Pools {
 public:
  explicit Pools(const Calendar& cal);
  // Adds a series' uncensored steps before `origin`.
  void add(const Series& s, std::size_t origin);
  // The shape (sums to 1 over the period) for a group; the store's when the group is
  // empty or unknown, blended with the store's when the group sold little.
  const std::vector<double>& shape(const std::string& group) const;
  // Call after the last add() and before shape().
  void finish();

 private:
  struct Acc {
    std::vector<double> sum, count;
    std::vector<double> shape;
    double units = 0;
  };
  Calendar cal_;
  Acc store_;
  std::map<std::string, Acc> groups_;
};

struct SkuForecast {
  Method method = Method::kProfile;
  double inv_k = 0;          // negative binomial 1/size; 0 is Poisson
  std::vector<double> mean;  // per step from the origin
  std::vector<double> p50, p90, p95;
  // Every method's mean, in kAllMethods order, when asked for (backtests).
  std::vector<std::vector<double>> by_method;
};

// Forecasts steps [origin, origin + horizon) of `s` from its steps before `origin`.
SkuForecast forecast_sku(const Series& s, std::size_t origin, int horizon, const Pools& pools,
                         const Calendar& cal, const Options& options, bool every_method = false);

// Smallest q with P(X <= q) >= p for a negative binomial of this mean and 1/size
// (Poisson when inv_k is 0).
double nb_quantile(double mean, double inv_k, double p);

}  // namespace shopeasy::forecast
