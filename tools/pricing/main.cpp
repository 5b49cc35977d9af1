// shopeasy-pricing simulate: the effect of near-expiry markdowns on expired units,
// revenue and gross margin, across price elasticities (see simulate.hpp).
//
//   shopeasy-pricing simulate [--data=FILE] [--days=30] [--skus=200] [--seed=1]
//       [--shelf-life=4] [--cover=1.4] [--cost-ratio=0.6]
//       [--elasticities=1.0,1.5,2.0,2.5,3.0] [--tiers=48:20,24:40]
//
// --tiers lists the markdown tiers as hours-before-expiry:percent-off (the engine's
// default is 48:20,24:40).
// Without --data the demand is generated. Exit status: 0 when, at every elasticity,
// markdowns cut expired units by at least 20% at an equal or better gross margin; 1 when
// they do not; 2 for a usage error or unreadable data.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tools/pricing/simulate.hpp"

namespace {

using shopeasy::tools::pricing::DemandSet;
using shopeasy::tools::pricing::SimParams;
using shopeasy::tools::pricing::SimResult;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "shopeasy-pricing: %s\nusage: shopeasy-pricing simulate [--data=FILE] [--days=30] "
               "[--skus=200] [--seed=1] [--shelf-life=4] [--cover=1.4] [--cost-ratio=0.6] "
               "[--elasticities=1.0,1.5,2.0,2.5,3.0] [--tiers=48:20,24:40]\n",
               why.c_str());
  return 2;
}

bool parse_double(const std::string& text, double lo, double hi, double* out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

std::string money(std::int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(cents) / 100.0);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "simulate") return usage("the command is simulate");
  std::string data;
  double days = 30, skus = 200, seed = 1, shelf = 4, cover = 1.4, cost = 0.6;
  std::vector<double> elasticities = {1.0, 1.5, 2.0, 2.5, 3.0};
  std::vector<shopeasy::cloud::pricing::MarkdownTier> tiers =
      shopeasy::cloud::pricing::MarkdownConfig{}.tiers;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
    bool ok = true;
    if (key == "--data") {
      data = value;
      ok = !value.empty();
    } else if (key == "--days") {
      ok = parse_double(value, 7, 3650, &days);
    } else if (key == "--skus") {
      ok = parse_double(value, 1, 1'000'000, &skus);
    } else if (key == "--seed") {
      ok = parse_double(value, 0, 1e15, &seed);
    } else if (key == "--shelf-life") {
      ok = parse_double(value, 1, 60, &shelf);
    } else if (key == "--cover") {
      ok = parse_double(value, 0.1, 20, &cover);
    } else if (key == "--cost-ratio") {
      ok = parse_double(value, 0.01, 0.95, &cost);
    } else if (key == "--elasticities") {
      elasticities.clear();
      std::stringstream in(value);
      for (std::string part; ok && std::getline(in, part, ',');) {
        double e = 0;
        ok = parse_double(part, 0, 20, &e);
        elasticities.push_back(e);
      }
      ok = ok && !elasticities.empty();
    } else if (key == "--tiers") {
      tiers.clear();
      std::stringstream in(value);
      for (std::string part; ok && std::getline(in, part, ',');) {
        const auto colon = part.find(':');
        double hours = 0, off = 0;
        ok = colon != std::string::npos && parse_double(part.substr(0, colon), 1, 720, &hours) &&
             parse_double(part.substr(colon + 1), 0, 90, &off);
        tiers.push_back(
            {static_cast<std::int64_t>(hours * 3'600'000), static_cast<std::int32_t>(off * 100)});
      }
      ok = ok && !tiers.empty();
    } else {
      return usage("unknown option " + a);
    }
    if (!ok) return usage("bad value in " + a);
  }

  DemandSet demand;
  if (!data.empty()) {
    auto loaded = shopeasy::tools::pricing::load_sales_csv(data, static_cast<int>(days),
                                                           static_cast<int>(days));
    if (!loaded.ok()) {
      std::fprintf(stderr, "shopeasy-pricing: %s\n", loaded.status().message().c_str());
      return 2;
    }
    demand = std::move(*loaded);
  } else {
    demand = shopeasy::tools::pricing::generate_demand(
        static_cast<int>(skus), static_cast<int>(days), static_cast<std::uint64_t>(seed));
  }
  SimParams params;
  params.shelf_life_days = static_cast<int>(shelf);
  params.order_cover = cover;
  params.cost_ratio = cost;
  params.seed = static_cast<std::uint64_t>(seed);
  params.markdown.tiers = tiers;

  std::printf(
      "pricing simulation: %s, %zu SKUs, %d days; shelf life %d days, shelf filled to "
      "%.2fx mean demand each morning, cost %.0f%% of base, floor cost + %d%%\n",
      demand.source.c_str(), demand.skus.size(), static_cast<int>(days), params.shelf_life_days,
      cover, cost * 100, params.min_margin_bp / 100);
  std::printf("markdown tiers:");
  for (const auto& t : params.markdown.tiers) {
    std::printf(" %d%% off within %lld h;", t.off_bp / 100,
                static_cast<long long>(t.within_ms / 3'600'000));
  }
  std::printf(" floored\n\n");
  std::printf(
      "| elasticity | expired (none) | expired (markdowns) | fewer expired | revenue (none) "
      "| revenue (markdowns) | margin (none) | margin (markdowns) | margin change | "
      "verdict |\n|---|---|---|---|---|---|---|---|---|---|\n");
  bool all_met = true;
  double worst_cut = 1e9, best_cut = -1e9;
  for (double e : elasticities) {
    params.elasticity = e;
    const SimResult none = shopeasy::tools::pricing::simulate(demand, params, false);
    const SimResult marked = shopeasy::tools::pricing::simulate(demand, params, true);
    const double cut = none.expired_units == 0
                           ? 0.0
                           : 100.0 *
                                 static_cast<double>(none.expired_units - marked.expired_units) /
                                 static_cast<double>(none.expired_units);
    const double margin_change =
        none.gross_margin_cents() == 0
            ? 0.0
            : 100.0 * static_cast<double>(marked.gross_margin_cents() - none.gross_margin_cents()) /
                  std::abs(static_cast<double>(none.gross_margin_cents()));
    const bool met = cut >= 20.0 && marked.gross_margin_cents() >= none.gross_margin_cents();
    all_met = all_met && met;
    worst_cut = std::min(worst_cut, cut);
    best_cut = std::max(best_cut, cut);
    std::printf("| %.1f | %lld | %lld | %.1f%% | %s | %s | %s | %s | %+.1f%% | %s |\n", e,
                static_cast<long long>(none.expired_units),
                static_cast<long long>(marked.expired_units), cut,
                money(none.revenue_cents).c_str(), money(marked.revenue_cents).c_str(),
                money(none.gross_margin_cents()).c_str(),
                money(marked.gross_margin_cents()).c_str(), margin_change, met ? "met" : "MISSED");
  }
  std::printf(
      "\nexpired units cut by %.1f%% to %.1f%% across elasticities %.1f-%.1f (target: "
      ">= 20%% at equal or better gross margin): %s\n",
      worst_cut, best_cut, elasticities.front(), elasticities.back(), all_met ? "met" : "MISSED");
  return all_met ? 0 : 1;
}
