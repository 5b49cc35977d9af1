// Rolling-origin backtests: the last `folds` weeks of the series are forecast one week
// at a time, each from the weeks before it only (pools included), and scored against
// what sold, censored steps left out. Scores per method (seasonal naive, the 4-week
// same-step mean and all-zero are the baselines) and for the per-SKU chosen method:
//   WAPE  = sum |actual - mean| / sum actual (and of p50, beside it: for sparse series
//           the median, often 0, has the lower WAPE, the mean the lower squared error)
//   bias  = sum (mean - actual) / sum actual
//   RMSSE = per SKU and fold sqrt(MSE / mean squared one-step change in its training
//           history), averaged weighted by the SKU's units in the 4 weeks before the
//           origin (M5's scaled error, weighted by recent volume instead of revenue)
// at the series' step (SKU x hour) and summed to days (SKU x day).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "edge/forecast/forecaster.hpp"
#include "edge/forecast/series.hpp"

namespace shopeasy::forecast {

struct Scores {
  double wape = 0;      // of the mean
  double wape_p50 = 0;  // of the median (p50), the forecast WAPE itself favours
  double bias = 0;
  double rmsse = 0;
  double actual_units = 0;
};

struct MethodScores {
  std::string name;  // a method name, or "chosen"
  Scores step;       // SKU x step (hour, or day for daily series)
  Scores day;        // SKU x day (equal to step for daily series)
};

struct BacktestReport {
  Granularity granularity = Granularity::kHour;
  int folds = 0;
  std::size_t skus = 0;
  std::vector<MethodScores> methods;                 // kAllMethods order, then "chosen"
  std::map<std::string, std::size_t> chosen_counts;  // method -> SKU-folds
  const MethodScores* find(const std::string& name) const;
};

// failed_precondition when the series are too short for the folds (a fold needs at
// least two weeks before it).
StatusOr<BacktestReport> backtest(const std::vector<Series>& series, Granularity g, int folds,
                                  const Options& options);

// The report as a table: per method WAPE (mean, p50), bias and RMSSE at the step and
// the day; the methods chosen; the chosen against the seasonal-naive and 4-week
// baselines' own point forecasts.
std::string format_report(const BacktestReport& report);

// The same scores for forecasts made elsewhere: accumulates (actual, forecast) pairs.
class ScoreAccumulator {
 public:
  void add(double actual, double forecast, double median);
  // One SKU-fold's RMSSE term: sum of squared errors over n pairs, the scale, a weight.
  void add_scaled(double sse, std::size_t n, double scale, double weight);
  Scores scores() const;

 private:
  double abs_err_ = 0, abs_err_p50_ = 0, err_ = 0, actual_ = 0;
  double rmsse_sum_ = 0, rmsse_weight_ = 0;
};

}  // namespace shopeasy::forecast
