// forecast_bench: the forecasting goals of edge/forecast, each against baselines
// measured in the same run.
//
//   forecast_bench --data=DIR [--folds=8] [--generated-skus=400] [--stockout-skus=2000]
//                  [--refit-skus=25000] [--refit-days=90] [--seed=1]
//
// 1. Real till data in DIR (bakery-sales.csv hourly, grocery-daily.csv daily): rolling
//    backtest, chosen method against seasonal naive and the 4-week same-hour mean.
//    Targets (the bakery, SKU x hour): WAPE >= 25% below seasonal naive and >= 5% below
//    the 4-week mean, bias within +-5%, RMSSE below both. The grocery file and generated
//    series are judged the same way, so nothing is tuned to one data set.
// 2. Stock-outs: generated demand with limited stock (set from the day's expected demand)
//    on 25% of days, so that SKUs sell out on about 20% of days, the busy ones; bias of
//    the 4 weeks after 12 weeks of history against true demand, censoring-aware (target
//    within +-3%) and naive (censored hours read as sales).
// 3. Refit: 25,000 SKUs x 90 days hourly on one core, thread CPU time of the fits
//    (series generation not counted) <= 30 s, peak RSS <= 300 MB.
// Exit status: 0 every target met, 1 a target missed, 2 bad arguments or unreadable data.
#include <sys/resource.h>
#include <time.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "edge/forecast/evaluate.hpp"
#include "edge/forecast/forecaster.hpp"
#include "edge/forecast/series.hpp"
#include "edge/forecast/synthetic.hpp"
#include "tests/bench/bench_common.hpp"

namespace shopeasy::bench::forecast_bench {
namespace {

using namespace shopeasy::forecast;

struct Args {
  std::string data;
  bool no_data = false;  // leave the real till data out (smoke runs without it)
  int folds = 8;
  std::size_t generated_skus = 400;
  std::size_t stockout_skus = 2000;
  std::size_t refit_skus = 25000;
  int refit_days = 90;
  std::uint64_t seed = 1;
};

template <typename T>
bool parse_number(std::string_view text, T* out) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = v;
  return true;
}

bool parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const std::size_t eq = arg.find('=');
    if (arg == "--no-data") {
      a->no_data = true;
      continue;
    }
    if (eq == std::string_view::npos) return false;
    const std::string_view key = arg.substr(0, eq), value = arg.substr(eq + 1);
    bool ok = true;
    if (key == "--data") {
      a->data = std::string(value);
    } else if (key == "--folds") {
      ok = parse_number(value, &a->folds) && a->folds >= 1;
    } else if (key == "--generated-skus") {
      ok = parse_number(value, &a->generated_skus);
    } else if (key == "--stockout-skus") {
      ok = parse_number(value, &a->stockout_skus) && a->stockout_skus > 0;
    } else if (key == "--refit-skus") {
      ok = parse_number(value, &a->refit_skus) && a->refit_skus > 0;
    } else if (key == "--refit-days") {
      ok = parse_number(value, &a->refit_days) && a->refit_days >= 21;
    } else if (key == "--seed") {
      ok = parse_number(value, &a->seed);
    } else {
      return false;
    }
    if (!ok) return false;
  }
  return a->no_data || !a->data.empty();
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

bool all_met = true;

void verdict(const std::string& figure, const std::string& measured, const std::string& baseline,
             const std::string& ratio, const std::string& target, bool met) {
  all_met = all_met && met;
  std::printf("  %-52s %10s  baseline %10s  ratio %7s  target %-14s %s\n", figure.c_str(),
              measured.c_str(), baseline.c_str(), ratio.c_str(), target.c_str(),
              met ? "met" : "MISSED");
  record_result("forecast", figure, measured, baseline, ratio, target, met ? "met" : "MISSED");
}

// Judges a backtest's chosen method against the two baselines at its step.
void judge(const std::string& name, const BacktestReport& r) {
  const MethodScores* c = r.find("chosen");
  const MethodScores* sn = r.find("seasonal-naive");
  const MethodScores* m4 = r.find("mean-4w");
  const std::string level = r.granularity == Granularity::kHour ? "SKU x hour" : "SKU x day";
  std::printf("\n%s, %s, %d folds: targets\n", name.c_str(), level.c_str(), r.folds);
  verdict(name + " WAPE (mean) vs seasonal naive", fmt("%.1f%%", c->step.wape * 100),
          fmt("%.1f%%", sn->step.wape * 100), fmt("%.3f", c->step.wape / sn->step.wape), "<= 0.75",
          c->step.wape <= 0.75 * sn->step.wape);
  verdict(name + " WAPE (mean) vs 4-week mean", fmt("%.1f%%", c->step.wape * 100),
          fmt("%.1f%%", m4->step.wape * 100), fmt("%.3f", c->step.wape / m4->step.wape), "<= 0.95",
          c->step.wape <= 0.95 * m4->step.wape);
  // Not a target: the median's WAPE against the baselines' own point forecasts.
  std::printf("  %-52s %10s  (seasonal naive %.1f%%, 4-week mean %.1f%%; not judged)\n",
              (name + " WAPE (p50)").c_str(), fmt("%.1f%%", c->step.wape_p50 * 100).c_str(),
              sn->step.wape * 100, m4->step.wape * 100);
  verdict(name + " bias (mean)", fmt("%+.1f%%", c->step.bias * 100), "-", "-", "within +-5%",
          std::abs(c->step.bias) <= 0.05);
  verdict(name + " RMSSE vs seasonal naive", fmt("%.3f", c->step.rmsse),
          fmt("%.3f", sn->step.rmsse), fmt("%.3f", c->step.rmsse / sn->step.rmsse), "< 1",
          c->step.rmsse < sn->step.rmsse);
  verdict(name + " RMSSE vs 4-week mean", fmt("%.3f", c->step.rmsse), fmt("%.3f", m4->step.rmsse),
          fmt("%.3f", c->step.rmsse / m4->step.rmsse), "< 1", c->step.rmsse < m4->step.rmsse);
}

bool real_data(const Args& a, const std::string& file, Granularity g, const std::string& name) {
  const std::string path = a.data + "/" + file;
  const auto h = load_history_csv(path);
  if (!h.ok()) {
    std::fprintf(stderr, "forecast_bench: %s\n", h.status().to_string().c_str());
    return false;
  }
  const std::int64_t end = (h->last_ts / 86400 + 1) * 86400;
  const std::vector<Series> series =
      build_series(h->sales, g, end, end - default_history_seconds(g));
  const double started = thread_cpu_s();
  const auto r = backtest(series, g, a.folds, Options{});
  if (!r.ok()) {
    std::fprintf(stderr, "forecast_bench: %s: %s\n", file.c_str(), r.status().to_string().c_str());
    return false;
  }
  std::printf("\n== %s (%s): %zu rows, %zu bad, %zu SKUs, %zu weeks; backtest %.2f s CPU\n",
              name.c_str(), file.c_str(), h->rows, h->bad_row_count, series.size(),
              series.front().size() / static_cast<std::size_t>(calendar_for(g).period),
              thread_cpu_s() - started);
  std::printf("%s", format_report(*r).c_str());
  judge(name, *r);
  return true;
}

void generated(const Args& a) {
  SyntheticOptions gen;
  gen.days = (a.folds + 8) * 7;
  gen.seed = a.seed;
  std::vector<Series> series;
  // What a forecast knowing the true expected demand would score over the same weeks:
  // the floor the noise of sparse counts sets.
  double abs_err = 0, err = 0, actual = 0;
  for (std::size_t i = 0; i < a.generated_skus; ++i) {
    SyntheticSku sku = generate_sku(i, gen);
    for (std::size_t t = sku.demand.size() - static_cast<std::size_t>(a.folds) * 168;
         t < sku.demand.size(); ++t) {
      abs_err += std::abs(sku.demand[t] - sku.expected[t]);
      err += sku.expected[t] - sku.demand[t];
      actual += sku.demand[t];
    }
    series.push_back(std::move(sku.observed));
  }
  const auto r = backtest(series, Granularity::kHour, a.folds, Options{});
  std::printf("\n== generated: %zu SKUs, %d weeks hourly, no stock-outs\n", series.size(),
              gen.days / 7);
  std::printf("%s", format_report(*r).c_str());
  const MethodScores* sn = r->find("seasonal-naive");
  const MethodScores* m4 = r->find("mean-4w");
  std::printf(
      "the true expected demand as the forecast (a perfect mean): WAPE %.1f%% (%.3f of seasonal "
      "naive's, %.3f of the 4-week mean's), bias %+.1f%%\n",
      abs_err / actual * 100, abs_err / actual / sn->step.wape, abs_err / actual / m4->step.wape,
      err / actual * 100);
  judge("generated", *r);
}

void stockouts(const Args& a) {
  SyntheticOptions gen;
  gen.days = 16 * 7;
  gen.seed = a.seed + 100;
  gen.limited_stock_day_share = 0.25;
  gen.level_spread = 0.6;
  gen.median_weekly_units = 40;
  gen.weekly_drift = 0;  // a steady level: the bias then measures the censoring alone
  const Calendar cal = calendar_for(Granularity::kHour);
  const std::size_t origin = 12 * 168;
  const int horizon = 4 * 168;
  std::vector<SyntheticSku> skus;
  Pools aware_pools(cal), naive_pools(cal);
  std::size_t censored = 0, stockout_days = 0, days = 0;
  for (std::size_t i = 0; i < a.stockout_skus; ++i) {
    skus.push_back(generate_sku(i, gen));
    const Series& s = skus.back().observed;
    aware_pools.add(s, origin);
    Series naive = s;
    std::fill(naive.censored.begin(), naive.censored.end(), 0);
    naive_pools.add(naive, origin);
    for (std::size_t d = 0; d < origin / 24; ++d) {
      bool out = false;
      for (std::size_t h = 0; h < 24; ++h) out = out || s.censored[d * 24 + h];
      stockout_days += out;
      ++days;
    }
    for (std::size_t t = 0; t < origin; ++t) censored += s.censored[t];
  }
  aware_pools.finish();
  naive_pools.finish();
  Options aware, naive;
  naive.censoring_aware = false;
  double truth = 0, sold = 0, fa = 0, fn = 0;
  for (const SyntheticSku& sku : skus) {
    const auto fa_sku = forecast_sku(sku.observed, origin, horizon, aware_pools, cal, aware);
    const auto fn_sku = forecast_sku(sku.observed, origin, horizon, naive_pools, cal, naive);
    for (int k = 0; k < horizon; ++k) {
      truth += sku.demand[origin + k];
      fa += fa_sku.mean[k];
      fn += fn_sku.mean[k];
    }
    for (std::size_t t = 0; t < origin; ++t) sold += sku.observed.qty[t];
  }
  std::printf(
      "\n== stock-outs: %zu generated SKUs, 12 weeks of history with a sell-out on %.1f%% of "
      "SKU-days (%.1f%% of hours censored), 4 weeks forecast against true demand\n",
      skus.size(), 100.0 * stockout_days / days, 100.0 * censored / (skus.size() * origin));
  verdict("stock-outs: bias of the censoring-aware fit", fmt("%+.1f%%", (fa / truth - 1) * 100),
          fmt("%+.1f%%", (fn / truth - 1) * 100), "-", "within +-3%",
          std::abs(fa / truth - 1) <= 0.03);
  std::printf("  (baseline: the naive fit, censored hours read as sales)\n");
}

void refit(const Args& a) {
  SyntheticOptions gen;
  gen.days = a.refit_days;
  gen.seed = a.seed + 200;
  gen.groups = 50;
  const Calendar cal = calendar_for(Granularity::kHour);
  const std::size_t chunk = 1000;
  double fit_cpu = 0, gen_cpu = 0;
  // The week's forecast of every SKU is kept, as a refit would keep it.
  std::vector<std::vector<float>> forecasts;
  forecasts.reserve(a.refit_skus);
  std::vector<Series> batch;
  Pools pools(cal);
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t from = 0; from < a.refit_skus; from += chunk) {
      double t0 = thread_cpu_s();
      batch.clear();
      for (std::size_t i = from; i < std::min(a.refit_skus, from + chunk); ++i) {
        batch.push_back(generate_sku(i, gen).observed);
      }
      double t1 = thread_cpu_s();
      gen_cpu += t1 - t0;
      if (pass == 0) {
        for (const Series& s : batch) pools.add(s, s.size());
      } else {
        for (const Series& s : batch) {
          const SkuForecast f = forecast_sku(s, s.size(), 168, pools, cal, Options{});
          forecasts.emplace_back(f.mean.begin(), f.mean.end());
        }
      }
      fit_cpu += thread_cpu_s() - t1;
    }
    if (pass == 0) pools.finish();
  }
  const double rss = peak_rss_mb();
  std::printf(
      "\n== refit: %zu SKUs x %d days hourly, one thread: fits %.1f s CPU (%.0f us per SKU; "
      "generating the series took another %.1f s, not counted), peak RSS %.0f MB\n",
      a.refit_skus, a.refit_days, fit_cpu, fit_cpu / a.refit_skus * 1e6, gen_cpu, rss);
  verdict("refit " + std::to_string(a.refit_skus) + " SKUs x " + std::to_string(a.refit_days) +
              " days: CPU seconds",
          fmt("%.1f", fit_cpu), "-", "-", "<= 30 s", fit_cpu <= 30);
  verdict("refit: peak RSS MB", fmt("%.0f", rss), "-", "-", "<= 300 MB", rss <= 300);
}

}  // namespace
}  // namespace shopeasy::bench::forecast_bench

int main(int argc, char** argv) {
  using namespace shopeasy::bench::forecast_bench;
  Args a;
  if (!parse_args(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: forecast_bench --data=DIR|--no-data [--folds=8] [--generated-skus=400] "
                 "[--stockout-skus=2000] [--refit-skus=25000] [--refit-days=90] [--seed=1]\n"
                 "DIR holds bakery-sales.csv and grocery-daily.csv\n");
    return 2;
  }
  if (a.no_data) {
    std::printf("forecast_bench: --no-data: the real till data backtests are left out\n");
  } else {
    if (!real_data(a, "bakery-sales.csv", Granularity::kHour, "bakery")) return 2;
    if (!real_data(a, "grocery-daily.csv", Granularity::kDay, "grocery")) return 2;
  }
  if (a.generated_skus > 0) generated(a);
  stockouts(a);
  refit(a);
  std::printf("\nforecast_bench: %s\n", all_met ? "every target met" : "a target was MISSED");
  return all_met ? 0 : 1;
}
