#include "edge/forecast/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace shopeasy::forecast {

void ScoreAccumulator::add(double actual, double forecast, double median) {
  abs_err_ += std::abs(actual - forecast);
  abs_err_p50_ += std::abs(actual - median);
  err_ += forecast - actual;
  actual_ += actual;
}

void ScoreAccumulator::add_scaled(double sse, std::size_t n, double scale, double weight) {
  if (n == 0 || !(scale > 0) || !(weight > 0)) return;
  rmsse_sum_ += weight * std::sqrt(sse / static_cast<double>(n) / scale);
  rmsse_weight_ += weight;
}

Scores ScoreAccumulator::scores() const {
  Scores s;
  s.actual_units = actual_;
  s.wape = actual_ > 0 ? abs_err_ / actual_ : 0;
  s.wape_p50 = actual_ > 0 ? abs_err_p50_ / actual_ : 0;
  s.bias = actual_ > 0 ? err_ / actual_ : 0;
  s.rmsse = rmsse_weight_ > 0 ? rmsse_sum_ / rmsse_weight_ : 0;
  return s;
}

const MethodScores* BacktestReport::find(const std::string& name) const {
  for (const MethodScores& m : methods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

namespace {

// Mean squared change between neighbouring values, over pairs where both are known.
double naive_scale(const std::vector<double>& v, const std::vector<std::uint8_t>& known) {
  double total = 0;
  std::size_t n = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (!known[i] || !known[i - 1]) continue;
    const double d = v[i] - v[i - 1];
    total += d * d;
    ++n;
  }
  return n > 0 ? total / static_cast<double>(n) : 0;
}

}  // namespace

StatusOr<BacktestReport> backtest(const std::vector<Series>& series, Granularity g, int folds,
                                  const Options& options) {
  const Calendar cal = calendar_for(g);
  const std::size_t period = static_cast<std::size_t>(cal.period);
  const std::size_t spd = static_cast<std::size_t>(cal.steps_per_day);
  if (series.empty()) return failed_precondition("no series to backtest");
  if (folds < 1) return invalid_argument("folds must be at least 1", "folds");
  const std::size_t total = series.front().size();
  if (total < period * static_cast<std::size_t>(folds + 2)) {
    return failed_precondition("the history covers " + std::to_string(total / period) + " weeks; " +
                               std::to_string(folds) + " weekly folds need at least " +
                               std::to_string(folds + 2));
  }
  constexpr std::size_t kMethods = kAllMethods.size() + 1;  // every method, then the chosen
  std::vector<ScoreAccumulator> step_acc(kMethods), day_acc(kMethods);
  BacktestReport report;
  report.granularity = g;
  report.folds = folds;
  report.skus = series.size();

  for (int f = 0; f < folds; ++f) {
    const std::size_t origin = total - period * static_cast<std::size_t>(folds - f);
    const std::size_t horizon = std::min(period, total - origin);
    Pools pools(cal);
    for (const Series& s : series) pools.add(s, origin);
    pools.finish();
    for (const Series& s : series) {
      const SkuForecast fc =
          forecast_sku(s, origin, static_cast<int>(horizon), pools, cal, options, true);
      ++report.chosen_counts[std::string(method_name(fc.method))];
      // Training history as scored values: raw steps and days, known where uncensored.
      std::vector<double> train(s.qty.begin(), s.qty.begin() + static_cast<long>(origin));
      std::vector<std::uint8_t> known(origin);
      for (std::size_t t = 0; t < origin; ++t) known[t] = !s.censored[t];
      const double step_scale = naive_scale(train, known);
      const std::size_t train_days = origin / spd;
      std::vector<double> day_train(train_days, 0.0);
      std::vector<std::uint8_t> day_known(train_days, 1);
      for (std::size_t t = 0; t < train_days * spd; ++t) {
        day_train[t / spd] += train[t];
        if (!known[t]) day_known[t / spd] = 0;
      }
      const double day_scale = naive_scale(day_train, day_known);
      double weight = 0;
      for (std::size_t t = origin - std::min(origin, 4 * period); t < origin; ++t) {
        if (known[t]) weight += train[t];
      }
      for (std::size_t m = 0; m < kMethods; ++m) {
        const std::vector<double>& mean = m < kAllMethods.size() ? fc.by_method[m] : fc.mean;
        std::vector<double> median(horizon);
        for (std::size_t k = 0; k < horizon; ++k) median[k] = nb_quantile(mean[k], fc.inv_k, 0.5);
        double sse = 0;
        std::size_t n = 0;
        std::vector<double> day_actual(horizon / spd + 1, 0.0), day_fc(horizon / spd + 1, 0.0),
            day_var(horizon / spd + 1, 0.0);
        for (std::size_t k = 0; k < horizon; ++k) {
          if (s.censored[origin + k]) continue;
          const double y = s.qty[origin + k];
          step_acc[m].add(y, mean[k], median[k]);
          sse += (y - mean[k]) * (y - mean[k]);
          ++n;
          day_actual[k / spd] += y;
          day_fc[k / spd] += mean[k];
          day_var[k / spd] += mean[k] + fc.inv_k * mean[k] * mean[k];
        }
        step_acc[m].add_scaled(sse, n, step_scale, weight);
        double day_sse = 0;
        std::size_t day_n = 0;
        for (std::size_t d = 0; d < horizon / spd; ++d) {
          // The day's median from a negative binomial with the day's mean and the sum of
          // the steps' variances (steps taken as independent).
          const double inv_k =
              day_fc[d] > 0 ? std::max(0.0, (day_var[d] - day_fc[d]) / (day_fc[d] * day_fc[d]))
                            : 0.0;
          day_acc[m].add(day_actual[d], day_fc[d], nb_quantile(day_fc[d], inv_k, 0.5));
          day_sse += (day_actual[d] - day_fc[d]) * (day_actual[d] - day_fc[d]);
          ++day_n;
        }
        day_acc[m].add_scaled(day_sse, day_n, day_scale, weight);
      }
    }
  }
  for (std::size_t m = 0; m < kMethods; ++m) {
    MethodScores ms;
    ms.name = m < kAllMethods.size() ? std::string(method_name(kAllMethods[m])) : "chosen";
    ms.step = step_acc[m].scores();
    ms.day = day_acc[m].scores();
    report.methods.push_back(ms);
  }
  return report;
}

namespace {

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", v * 100);
  return buf;
}

}  // namespace

std::string format_report(const BacktestReport& report) {
  std::string out;
  const bool hourly = report.granularity == Granularity::kHour;
  char line[256];
  std::snprintf(line, sizeof line, "%-15s %10s %9s %8s %7s   %10s %9s %8s %7s\n", "method",
                hourly ? "hour WAPE" : "day WAPE", "(p50)", "bias", "RMSSE",
                hourly ? "day WAPE" : "", hourly ? "(p50)" : "", hourly ? "bias" : "",
                hourly ? "RMSSE" : "");
  out += line;
  for (const MethodScores& m : report.methods) {
    if (hourly) {
      std::snprintf(line, sizeof line,
                    "%-15s %9.1f%% %8.1f%% %8s %7.3f   %9.1f%% %8.1f%% %8s %7.3f\n", m.name.c_str(),
                    m.step.wape * 100, m.step.wape_p50 * 100, pct(m.step.bias).c_str(),
                    m.step.rmsse, m.day.wape * 100, m.day.wape_p50 * 100, pct(m.day.bias).c_str(),
                    m.day.rmsse);
    } else {
      std::snprintf(line, sizeof line, "%-15s %9.1f%% %8.1f%% %8s %7.3f\n", m.name.c_str(),
                    m.step.wape * 100, m.step.wape_p50 * 100, pct(m.step.bias).c_str(),
                    m.step.rmsse);
    }
    out += line;
  }
  out += "\nchosen per SKU and fold:";
  for (const auto& [name, n] : report.chosen_counts) out += " " + name + " " + std::to_string(n);
  out += "\n";
  const MethodScores* chosen = report.find("chosen");
  const char* level = hourly ? "SKU x hour" : "SKU x day";
  for (const char* base : {"seasonal-naive", "mean-4w"}) {
    const MethodScores* b = report.find(base);
    if (chosen == nullptr || b == nullptr || !(b->step.wape > 0)) continue;
    out += std::string("chosen vs ") + base + " (" + level + "): WAPE of the mean " +
           pct(chosen->step.wape / b->step.wape - 1) + ", of the p50 " +
           pct(chosen->step.wape_p50 / b->step.wape - 1) + " (against " + base +
           "'s own forecast), RMSSE " +
           pct(b->step.rmsse > 0 ? chosen->step.rmsse / b->step.rmsse - 1 : 0) + "\n";
  }
  return out;
}

}  // namespace shopeasy::forecast
