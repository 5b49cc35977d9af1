#include "tools/forecast/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include "edge/forecast/evaluate.hpp"
#include "edge/forecast/forecaster.hpp"
#include "edge/forecast/peak.hpp"
#include "edge/forecast/series.hpp"
#include "edge/forecast/synthetic.hpp"
#include "edge/replenish/policy.hpp"
#include "edge/replenish/simulate.hpp"

namespace shopeasy::forecast_cli {
namespace {

using namespace shopeasy::forecast;

constexpr const char* kUsage =
    "usage: shopeasy-forecast backtest --history FILE.csv [--folds 8] [--granularity hour|day]\n"
    "       shopeasy-forecast predict --history FILE.csv --until TIMESTAMP [--horizon-h 168]\n"
    "                                 [--granularity hour|day] [--out FILE.csv]\n"
    "       shopeasy-forecast peak --history FILE.csv --until TIMESTAMP [--hours 168]\n"
    "                              [--orders-per-picker-hour 12] [--orders-per-runner-hour 3]\n"
    "                              [--out FILE.csv]\n"
    "       shopeasy-forecast replenish-sim (--history FILE.csv | --no-data)\n"
    "                              [--lead-time-days 2] [--order-days daily|mon,thu,...]\n"
    "                              [--service-level 0.95] [--shelf-life-days N]\n"
    "                              [--pack-size 1] [--min-order-qty 0] [--warmup-weeks 8]\n"
    "The history needs a header with sku, qty and ts (ISO 8601 local time or Unix seconds)\n"
    "or date (daily data); optional category, stockout (1: nothing sellable) and order (or\n"
    "receipt) columns; peak needs ts and the order column. The last 2 years (hourly) or\n"
    "10 years (daily) before the end are read.\n";

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
};

// --key value or --key=value; every option takes a value but --no-data.
std::optional<Args> parse(const std::vector<std::string>& args, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return std::nullopt;
  }
  Args out;
  out.command = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      err << "shopeasy-forecast: unexpected argument '" << a << "'\n" << kUsage;
      return std::nullopt;
    }
    const std::size_t eq = a.find('=');
    if (a == "--no-data") {
      out.values["no-data"] = "1";
    } else if (eq != std::string::npos) {
      out.values[a.substr(2, eq - 2)] = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      out.values[a.substr(2)] = args[++i];
    } else {
      err << "shopeasy-forecast: " << a << " needs a value\n";
      return std::nullopt;
    }
  }
  return out;
}

bool check_known(const Args& a, std::initializer_list<const char*> known, std::ostream& err) {
  for (const auto& [key, value] : a.values) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      err << "shopeasy-forecast " << a.command << ": unknown option --" << key << "\n" << kUsage;
      return false;
    }
  }
  return true;
}

std::optional<int> parse_int(const std::string& text, int lo, int hi) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    return std::nullopt;
  return v;
}

// Loads the history and reports its bad rows; nullopt after printing the error.
std::optional<History> load(const Args& a, std::ostream& err) {
  auto it = a.values.find("history");
  if (it == a.values.end()) {
    err << "shopeasy-forecast " << a.command << ": --history FILE.csv is required\n";
    return std::nullopt;
  }
  auto h = load_history_csv(it->second);
  if (!h.ok()) {
    err << "shopeasy-forecast: " << it->second << ": " << h.status().message() << "\n";
    return std::nullopt;
  }
  if (h->bad_row_count > 0) {
    err << "shopeasy-forecast: " << it->second << ": " << h->bad_row_count << " of " << h->rows
        << " rows left out\n";
    for (std::size_t i = 0; i < h->bad_rows.size() && i < 20; ++i) {
      err << "  line " << h->bad_rows[i].line << ": " << h->bad_rows[i].reason << "\n";
    }
    if (h->bad_row_count > 20) err << "  (" << h->bad_row_count - 20 << " more not shown)\n";
  }
  if (h->sales.empty()) {
    err << "shopeasy-forecast: " << it->second << ": no usable rows\n";
    return std::nullopt;
  }
  return std::move(h).value();
}

std::optional<Granularity> granularity(const Args& a, const History& h, std::ostream& err) {
  auto it = a.values.find("granularity");
  if (it == a.values.end()) return h.granularity;
  if (it->second == "hour") {
    if (h.granularity == Granularity::kDay) {
      err << "shopeasy-forecast: --granularity hour needs a ts column; this file has dates only\n";
      return std::nullopt;
    }
    return Granularity::kHour;
  }
  if (it->second == "day") return Granularity::kDay;
  err << "shopeasy-forecast: --granularity must be hour or day, not '" << it->second << "'\n";
  return std::nullopt;
}

int backtest_command(const Args& a, std::ostream& out, std::ostream& err) {
  if (!check_known(a, {"history", "folds", "granularity"}, err)) return 2;
  int folds = 8;
  if (auto f = a.values.find("folds"); f != a.values.end()) {
    const auto v = parse_int(f->second, 1, 520);
    if (!v) {
      err << "shopeasy-forecast: --folds must be a whole number 1..520, not '" << f->second
          << "'\n";
      return 2;
    }
    folds = *v;
  }
  const auto h = load(a, err);
  if (!h) return 2;
  const auto g = granularity(a, *h, err);
  if (!g) return 2;
  const std::int64_t end = (h->last_ts / 86400 + 1) * 86400;  // the end of the last day
  const std::vector<Series> series =
      build_series(h->sales, *g, end, end - default_history_seconds(*g));
  const auto report = backtest(series, *g, folds, Options{});
  if (!report.ok()) {
    err << "shopeasy-forecast: " << report.status().message() << "\n";
    return 1;
  }
  out << "history: " << h->sales.size() << " rows, " << series.size() << " SKUs, "
      << series.front().size() / static_cast<std::size_t>(calendar_for(*g).period)
      << " weeks, granularity " << granularity_name(*g) << "\n";
  out << "backtest: " << folds
      << " weekly folds (rolling origin, each week forecast from the weeks before it)\n\n"
      << format_report(*report);
  return 0;
}

// The --until timestamp `command` requires; nullopt (after saying why) when it is
// missing or unreadable.
std::optional<std::int64_t> until_of(const Args& a, const char* command, std::ostream& err) {
  const auto it = a.values.find("until");
  if (it == a.values.end()) {
    err << "shopeasy-forecast " << command << ": --until TIMESTAMP is required\n";
    return std::nullopt;
  }
  const auto until = parse_timestamp(it->second);
  if (!until.ok()) {
    err << "shopeasy-forecast: --until: " << until.status().message() << "\n";
    return std::nullopt;
  }
  return *until;
}

// A number of hours in 1..`max` given as --`key` (else `fallback`); nullopt (after saying
// why) when it is not one.
std::optional<int> hours_flag(const Args& a, const std::string& key, int fallback, int max,
                              std::ostream& err) {
  const auto it = a.values.find(key);
  if (it == a.values.end()) return fallback;
  const auto v = parse_int(it->second, 1, max);
  if (!v) {
    err << "shopeasy-forecast: --" << key << " must be 1.." << max << " hours, not '" << it->second
        << "'\n";
  }
  return v;
}

int predict_command(const Args& a, std::ostream& out, std::ostream& err) {
  if (!check_known(a, {"history", "until", "horizon-h", "granularity", "out"}, err)) return 2;
  const auto until = until_of(a, "predict", err);
  if (!until) return 2;
  const auto horizon_flag = hours_flag(a, "horizon-h", 168, 24 * 366, err);
  if (!horizon_flag) return 2;
  const int horizon_h = *horizon_flag;
  const auto h = load(a, err);
  if (!h) return 2;
  const auto g = granularity(a, *h, err);
  if (!g) return 2;
  const Calendar cal = calendar_for(*g);
  const std::int64_t origin_ts = *until / cal.step_seconds * cal.step_seconds;
  const std::vector<Series> series =
      build_series(h->sales, *g, origin_ts, origin_ts - default_history_seconds(*g));
  if (series.empty()) {
    err << "shopeasy-forecast: no history before --until " << a.values.at("until") << "\n";
    return 2;
  }
  const int horizon = *g == Granularity::kHour ? horizon_h : (horizon_h + 23) / 24;
  Pools pools(cal);
  for (const Series& s : series) pools.add(s, s.size());
  pools.finish();

  std::ofstream file;
  std::ostream* sink = &out;
  if (auto it = a.values.find("out"); it != a.values.end()) {
    file.open(it->second, std::ios::trunc);
    if (!file) {
      err << "shopeasy-forecast: cannot write " << it->second << "\n";
      return 1;
    }
    sink = &file;
  }
  *sink << "sku,ts,p50,p90,mean\n";
  char num[64];
  for (const Series& s : series) {
    const SkuForecast f = forecast_sku(s, s.size(), horizon, pools, cal, Options{});
    std::string sku = s.sku;
    if (sku.find_first_of(",\"") != std::string::npos) {
      std::string quoted = "\"";
      for (char c : sku) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      sku = quoted + "\"";
    }
    for (int k = 0; k < horizon; ++k) {
      const std::int64_t at = origin_ts + static_cast<std::int64_t>(k) * cal.step_seconds;
      std::snprintf(num, sizeof num, ",%g,%g,%.4f\n", f.p50[k], f.p90[k], f.mean[k]);
      *sink << sku << ',' << (*g == Granularity::kHour ? format_local_time(at) : format_date(at))
            << num;
    }
  }
  sink->flush();
  if (!*sink) {
    err << "shopeasy-forecast: writing the forecast failed\n";
    return 1;
  }
  return 0;
}

std::optional<double> parse_rate(const std::string& text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v > 0) || v > 1e6) {
    return std::nullopt;
  }
  return v;
}

int peak_command(const Args& a, std::ostream& out, std::ostream& err) {
  if (!check_known(
          a,
          {"history", "until", "hours", "orders-per-picker-hour", "orders-per-runner-hour", "out"},
          err)) {
    return 2;
  }
  const auto until = until_of(a, "peak", err);
  if (!until) return 2;
  const auto hours_wanted = hours_flag(a, "hours", 168, 24 * 31, err);
  if (!hours_wanted) return 2;
  const int hours = *hours_wanted;
  StaffingRates rates;
  for (auto [key, field] : {std::pair{"orders-per-picker-hour", &rates.orders_per_picker_hour},
                            std::pair{"orders-per-runner-hour", &rates.orders_per_runner_hour}}) {
    if (auto it = a.values.find(key); it != a.values.end()) {
      const auto v = parse_rate(it->second);
      if (!v) {
        err << "shopeasy-forecast: --" << key << " must be a positive number, not '" << it->second
            << "'\n";
        return 2;
      }
      *field = *v;
    }
  }
  const auto h = load(a, err);
  if (!h) return 2;
  if (h->granularity != Granularity::kHour || !h->has_orders) {
    err << "shopeasy-forecast peak: the history needs a ts column and an order (or receipt) "
           "column\n";
    return 2;
  }
  const std::int64_t origin = *until / 3600 * 3600;
  const auto plan = plan_peak_hours(h->sales, origin, hours, rates);
  if (!plan.ok()) {
    err << "shopeasy-forecast: " << plan.status().message() << "\n";
    return plan.status().code() == StatusCode::kFailedPrecondition ? 2 : 1;
  }
  std::ofstream file;
  std::ostream* sink = &out;
  if (auto it = a.values.find("out"); it != a.values.end()) {
    file.open(it->second, std::ios::trunc);
    if (!file) {
      err << "shopeasy-forecast: cannot write " << it->second << "\n";
      return 1;
    }
    sink = &file;
  }
  *sink << "ts,orders_mean,orders_p90,pickers,runners\n";
  char line[128];
  for (const HourPlan& p : plan->hours) {
    std::snprintf(line, sizeof line, ",%.3f,%g,%d,%d\n", p.orders_mean, p.orders_p90, p.pickers,
                  p.runners);
    *sink << format_local_time(p.ts) << line;
  }
  sink->flush();
  if (!*sink) {
    err << "shopeasy-forecast: writing the plan failed\n";
    return 1;
  }
  for (std::size_t i : plan->daily_peaks) {
    const HourPlan& p = plan->hours[i];
    std::snprintf(line, sizeof line, " %.1f orders expected (p90 %g): %d pickers, %d runners\n",
                  p.orders_mean, p.orders_p90, p.pickers, p.runners);
    err << "peak " << format_local_time(p.ts) << line;
  }
  return 0;
}

// Generated daily demand for a run without data: negative binomial hours with weekly
// patterns and drifting levels (edge/forecast/synthetic), summed into days.
std::vector<Series> generated_daily(std::size_t skus, int days) {
  std::vector<Series> out;
  SyntheticOptions o;
  o.days = days;
  o.median_weekly_units = 40;
  o.seed = 17;
  for (std::size_t i = 0; i < skus; ++i) {
    const SyntheticSku g = generate_sku(i, o);
    Series d;
    d.sku = g.observed.sku;
    d.start = g.observed.start;
    for (std::size_t t = 0; t + 24 <= g.demand.size(); t += 24) {
      float sum = 0;
      for (std::size_t h = t; h < t + 24; ++h) sum += g.demand[h];
      d.qty.push_back(sum);
    }
    d.censored.assign(d.qty.size(), 0);
    out.push_back(std::move(d));
  }
  return out;
}

int replenish_sim_command(const Args& a, std::ostream& out, std::ostream& err) {
  namespace rp = shopeasy::edge::replenish;
  if (!check_known(a,
                   {"history", "no-data", "lead-time-days", "order-days", "service-level",
                    "shelf-life-days", "pack-size", "min-order-qty", "warmup-weeks"},
                   err)) {
    return 2;
  }
  rp::SimOptions o;
  for (auto [key, field, lo, hi] :
       {std::tuple{"lead-time-days", &o.lead_time_days, rp::kMinLeadTimeDays, rp::kMaxLeadTimeDays},
        std::tuple{"warmup-weeks", &o.warmup_days, 1, 520}}) {
    if (auto it = a.values.find(key); it != a.values.end()) {
      const auto v = parse_int(it->second, lo, hi);
      if (!v) {
        err << "shopeasy-forecast: --" << key << " must be a whole number " << lo << ".." << hi
            << ", not '" << it->second << "'\n";
        return 2;
      }
      *field = *v;
    }
  }
  if (a.values.contains("warmup-weeks")) {
    o.warmup_days *= 7;
  }
  for (auto [key, field] :
       {std::pair{"pack-size", &o.pack_size}, std::pair{"min-order-qty", &o.min_order_qty}}) {
    if (auto it = a.values.find(key); it != a.values.end()) {
      const auto v = parse_int(it->second, key == std::string("pack-size") ? 1 : 0, 100000);
      if (!v) {
        err << "shopeasy-forecast: --" << key << " must be a whole number, not '" << it->second
            << "'\n";
        return 2;
      }
      *field = *v;
    }
  }
  if (auto it = a.values.find("shelf-life-days"); it != a.values.end()) {
    const auto v = parse_int(it->second, 1, 3650);
    if (!v) {
      err << "shopeasy-forecast: --shelf-life-days must be 1..3650, not '" << it->second << "'\n";
      return 2;
    }
    o.shelf_life_days = *v;
  }
  if (auto it = a.values.find("order-days"); it != a.values.end()) {
    const auto d = rp::parse_order_days(it->second, "--order-days");
    if (!d.ok()) {
      err << "shopeasy-forecast: " << d.status().message() << "\n";
      return 2;
    }
    o.order_days = *d;
  }
  if (auto it = a.values.find("service-level"); it != a.values.end()) {
    double v = 0;
    const auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || !(v >= 0.5) ||
        !(v <= 0.999)) {
      err << "shopeasy-forecast: --service-level must be 0.5..0.999, not '" << it->second << "'\n";
      return 2;
    }
    o.service_level = v;
  }
  std::vector<Series> daily;
  std::string source;
  if (a.values.contains("no-data")) {
    if (a.values.contains("history")) {
      err << "shopeasy-forecast replenish-sim: give --history or --no-data, not both\n";
      return 2;
    }
    daily = generated_daily(40, 26 * 7);
    source = "generated demand (no data)";
  } else {
    const auto h = load(a, err);
    if (!h) return 2;
    const std::int64_t end = (h->last_ts / 86400 + 1) * 86400;
    daily = build_series(h->sales, Granularity::kDay, end,
                         end - default_history_seconds(Granularity::kDay));
    source = a.values.at("history");
  }
  const rp::SimResult p = rp::simulate_proposal(daily, o);
  if (p.skus == 0) {
    err << "shopeasy-forecast replenish-sim: no SKU has more than the " << o.warmup_days
        << " warm-up days of history\n";
    return 1;
  }
  const rp::SimResult same = rp::find_static_for_fill_rate(daily, o, p.fill_rate());
  const rp::SimResult at_target = rp::find_static_for_fill_rate(daily, o, o.service_level);
  char line[256];
  out << "replenish-sim: " << source << "\n";
  std::snprintf(line, sizeof line,
                "%zu SKUs, %lld SKU-days simulated after %d warm-up days; lead time %d days, "
                "orders %s, service level %.1f%%, shelf life %s, pack %lld, minimum order %lld\n\n",
                p.skus, static_cast<long long>(p.sku_days), o.warmup_days, o.lead_time_days,
                rp::format_order_days(o.order_days).c_str(), o.service_level * 100,
                o.shelf_life_days ? (std::to_string(*o.shelf_life_days) + " days").c_str() : "none",
                static_cast<long long>(o.pack_size), static_cast<long long>(o.min_order_qty));
  out << line;
  out << "policy                            fill_rate   demand     lost  expired  avg_on_hand  "
         "orders\n";
  auto row = [&](const std::string& name, const rp::SimResult& r) {
    std::snprintf(line, sizeof line, "%-32s  %8.2f%%  %7.0f  %7.0f  %7.0f  %11.2f  %6lld\n",
                  name.c_str(), r.fill_rate() * 100, r.demand, r.lost(), r.expired,
                  r.average_on_hand(), static_cast<long long>(r.orders));
    out << line;
  };
  row("proposal (forecast quantiles)", p);
  char name[64];
  std::snprintf(name, sizeof name, "static min/max x%.2f (same fill)", same.multiplier);
  row(name, same);
  std::snprintf(name, sizeof name, "static min/max x%.2f (>= target)", at_target.multiplier);
  row(name, at_target);
  std::snprintf(
      line, sizeof line,
      "\nfill rate %.2f%% against a %.1f%% target (%+.2f points); average on hand %.2f "
      "vs %.2f for the best static min/max at the same fill rate (%+.1f%%)\n",
      p.fill_rate() * 100, o.service_level * 100, (p.fill_rate() - o.service_level) * 100,
      p.average_on_hand(), same.average_on_hand(),
      same.average_on_hand() > 0 ? (p.average_on_hand() / same.average_on_hand() - 1) * 100 : 0.0);
  out << line;
  return 0;
}

}  // namespace

int run_forecast_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto a = parse(args, err);
  if (!a) return 2;
  if (a->command == "backtest") return backtest_command(*a, out, err);
  if (a->command == "predict") return predict_command(*a, out, err);
  if (a->command == "peak") return peak_command(*a, out, err);
  if (a->command == "replenish-sim") return replenish_sim_command(*a, out, err);
  if (a->command == "--help" || a->command == "help") {
    out << kUsage;
    return 0;
  }
  err << "shopeasy-forecast: unknown command '" << a->command << "'\n" << kUsage;
  return 2;
}

}  // namespace shopeasy::forecast_cli
