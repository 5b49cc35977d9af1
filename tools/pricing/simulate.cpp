#include "tools/pricing/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>

namespace shopeasy::tools::pricing {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

// Days since 1970-01-01 of a "YYYY-MM-DD" prefix, or -1.
std::int64_t day_number(const std::string& s) {
  int y = 0, m = 0, d = 0;
  if (s.size() < 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3) return -1;
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  // Days from civil (proleptic Gregorian).
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Lot {
  std::int64_t units = 0;
  int expires_day = 0;  // last day it may be sold
};

// Rounds x to an integer, up with the probability of its fraction, so expected values hold.
std::int64_t round_random(double x, std::mt19937_64& rng) {
  const double f = std::floor(x);
  return static_cast<std::int64_t>(f) +
         (std::uniform_real_distribution<double>(0, 1)(rng) < x - f ? 1 : 0);
}

}  // namespace

StatusOr<DemandSet> load_sales_csv(const std::string& path, int days, int min_units) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + path);
  std::string line;
  if (!std::getline(in, line)) return invalid_argument(path + ": empty", "line 1");
  const std::vector<std::string> header = split(line);
  int sku_col = -1, qty_col = -1, when_col = -1;
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    if (header[i] == "sku") sku_col = i;
    if (header[i] == "qty") qty_col = i;
    if (header[i] == "date" || header[i] == "ts") when_col = i;
  }
  if (sku_col < 0 || qty_col < 0 || when_col < 0) {
    return invalid_argument(path + ": line 1: the header must name sku, qty and date or ts",
                            "line 1");
  }
  std::map<std::string, std::map<std::int64_t, double>> by_sku;
  std::int64_t last_day = -1;
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::vector<std::string> f = split(line);
    const int need = std::max({sku_col, qty_col, when_col});
    if (static_cast<int>(f.size()) <= need) {
      return invalid_argument(path + ": line " + std::to_string(line_no) + ": too few columns",
                              "line " + std::to_string(line_no));
    }
    const std::int64_t day = day_number(f[when_col]);
    char* end = nullptr;
    const double qty = std::strtod(f[qty_col].c_str(), &end);
    if (day < 0 || f[sku_col].empty() || end == f[qty_col].c_str() || !std::isfinite(qty) ||
        qty < 0) {
      return invalid_argument(
          path + ": line " + std::to_string(line_no) + ": needs a sku, a date and a qty >= 0",
          "line " + std::to_string(line_no));
    }
    by_sku[f[sku_col]][day] += qty;
    last_day = std::max(last_day, day);
  }
  DemandSet out;
  out.source = path + " (last " + std::to_string(days) + " days)";
  for (const auto& [sku, series] : by_sku) {
    std::vector<double> daily(static_cast<std::size_t>(days), 0.0);
    double total = 0;
    for (const auto& [day, qty] : series) {
      const std::int64_t index = day - (last_day - days + 1);
      if (index < 0 || index >= days) continue;
      daily[static_cast<std::size_t>(index)] += qty;
      total += qty;
    }
    if (total < min_units) continue;
    out.skus.push_back(sku);
    out.daily.push_back(std::move(daily));
  }
  if (out.skus.empty()) {
    return invalid_argument(path + ": no SKU sold at least " + std::to_string(min_units) +
                                " units in the last " + std::to_string(days) + " days",
                            "min_units");
  }
  return out;
}

DemandSet generate_demand(int skus, int days, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  DemandSet out;
  out.source = "generated (" + std::to_string(skus) + " SKUs, seed " + std::to_string(seed) + ")";
  const double weekly[7] = {0.85, 0.9, 0.9, 0.95, 1.1, 1.25, 1.05};
  for (int s = 0; s < skus; ++s) {
    const double mean =
        std::exp(std::uniform_real_distribution<double>(std::log(0.5), std::log(20.0))(rng));
    std::vector<double> daily;
    for (int d = 0; d < days; ++d) {
      std::poisson_distribution<int> p(mean * weekly[d % 7]);
      daily.push_back(p(rng));
    }
    out.skus.push_back("gen-" + std::to_string(s));
    out.daily.push_back(std::move(daily));
  }
  return out;
}

SimResult simulate(const DemandSet& demand, const SimParams& params, bool with_markdowns) {
  SimResult r;
  std::mt19937_64 rng(params.seed);
  cloud::pricing::PricingConfig config;
  config.markdown = params.markdown;
  config.markdown.enabled = with_markdowns;
  const std::int64_t base = params.base_price_cents;
  const std::int64_t cost =
      static_cast<std::int64_t>(std::llround(static_cast<double>(base) * params.cost_ratio));
  const cloud::pricing::PriceModel model{.sku = "sim",
                                         .store_id = "",
                                         .base_cents = base,
                                         .mrp_cents = base,
                                         .cost_cents = cost,
                                         .min_margin_bp = params.min_margin_bp};
  for (const std::vector<double>& series : demand.daily) {
    if (series.empty()) continue;
    double mean = 0;
    for (double d : series) mean += d;
    mean /= static_cast<double>(series.size());
    const auto target = static_cast<std::int64_t>(std::ceil(mean * params.order_cover));
    std::deque<Lot> shelf;  // oldest first
    for (int day = 0; day < static_cast<int>(series.size()); ++day) {
      // Morning: fill up to the target with one new lot.
      std::int64_t on_hand = 0;
      for (const Lot& l : shelf) on_hand += l.units;
      if (target > on_hand) {
        shelf.push_back(Lot{target - on_hand, day + params.shelf_life_days - 1});
        r.cost_cents += (target - on_hand) * cost;
      }
      const double base_demand = series[static_cast<std::size_t>(day)];
      double left = base_demand;  // demand still to serve, in base-price units
      // The oldest lot first: at its markdown price when it has one.
      for (Lot& lot : shelf) {
        if (lot.units == 0 || left <= 0) continue;
        std::int64_t price = base;
        if (with_markdowns) {
          // The lot expires at the end of its last day; the day is seen from its start.
          const cloud::pricing::Lot l{.lot_id = "l",
                                      .sku = "sim",
                                      .expires_ms = (lot.expires_day + 1) * kDayMs,
                                      .units = lot.units};
          if (auto p = cloud::pricing::price_lot(config, model, l, day * kDayMs)) {
            price = p->price_cents;
          }
        }
        const double lift =
            std::pow(static_cast<double>(price) / static_cast<double>(base), -params.elasticity);
        const std::int64_t want = round_random(left * lift, rng);
        const std::int64_t sold = std::min(want, lot.units);
        lot.units -= sold;
        r.sold_units += sold;
        r.revenue_cents += sold * price;
        if (price < base) r.marked_down_units += sold;
        // What the marked lot did not satisfy, back in base-price units.
        left = std::max(0.0, left - static_cast<double>(sold) / lift);
      }
      // Evening: what reaches its last day unsold is thrown away.
      while (!shelf.empty() && (shelf.front().expires_day <= day || shelf.front().units == 0)) {
        if (shelf.front().expires_day <= day) r.expired_units += shelf.front().units;
        shelf.pop_front();
      }
    }
  }
  return r;
}

}  // namespace shopeasy::tools::pricing
