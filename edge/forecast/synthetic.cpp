#include "edge/forecast/synthetic.hpp"

#include <array>
#include <cmath>
#include <string>

namespace shopeasy::forecast {
namespace {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  int poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda > 30) {
      return static_cast<int>(std::max(0.0, std::round(lambda + std::sqrt(lambda) * normal())));
    }
    const double limit = std::exp(-lambda);
    double p = uniform();
    int n = 0;
    while (p > limit) {
      p *= uniform();
      ++n;
    }
    return n;
  }

 private:
  std::uint64_t state_;
};

}  // namespace

SyntheticSku generate_sku(std::size_t index, const SyntheticOptions& options) {
  // Each SKU's stream starts at a hashed state: splitmix64 steps its state by a fixed
  // increment, so seeds differing by a multiple of it would give shifted copies of one
  // stream (correlated SKUs).
  Rng seeder(options.seed ^ (static_cast<std::uint64_t>(index) << 20));
  Rng rng(seeder.next() ^ Rng(index).next());
  constexpr int kPeriod = 168;
  // The store: open 07:00-22:00, a lunch and an evening peak, busier at the weekend.
  static constexpr std::array<double, 7> kDow = {0.9, 0.9, 0.95, 1.0, 1.15, 1.25, 0.85};
  const double tilt = rng.uniform() * 2 - 1;
  std::array<double, kPeriod> shape{};
  double total = 0;
  for (int d = 0; d < 7; ++d) {
    const double dow = kDow[d] * (1 + 0.15 * (rng.uniform() * 2 - 1));
    for (int h = 7; h < 22; ++h) {
      const double hod = (1 + std::exp(-(h - 12.0) * (h - 12.0) / 4) +
                          0.8 * std::exp(-(h - 18.0) * (h - 18.0) / 4)) *
                         std::exp(tilt * (h - 14.0) / 8);
      shape[d * 24 + h] = dow * hod;
      total += dow * hod;
    }
  }
  for (double& v : shape) v /= total;
  double level = options.median_weekly_units * std::exp(options.level_spread * rng.normal());

  SyntheticSku out;
  Series& s = out.observed;
  s.sku = "sku-" + std::to_string(index);
  s.group = "g" + std::to_string(options.groups > 0 ? index % options.groups : 0);
  s.start = days_from_civil(2026, 1, 5) * 86400;  // a Monday
  const std::size_t hours = static_cast<std::size_t>(options.days) * 24;
  s.qty.assign(hours, 0.0f);
  s.censored.assign(hours, 0);
  out.demand.assign(hours, 0.0f);
  out.expected.assign(hours, 0.0f);
  for (std::size_t day = 0; day < static_cast<std::size_t>(options.days); ++day) {
    if (day % 7 == 0 && day > 0) level *= std::exp(options.weekly_drift * rng.normal());
    double day_expected = 0;
    for (std::size_t h = 0; h < 24; ++h) {
      const std::size_t t = day * 24 + h;
      const double mu = level * shape[t % kPeriod];
      out.expected[t] = static_cast<float>(mu);
      day_expected += mu;
      // Gamma(2, mu/2) mixing makes the Poisson count negative binomial (size 2).
      const double gamma = -std::log(rng.uniform() * rng.uniform()) / 2;
      out.demand[t] = static_cast<float>(mu > 0 ? rng.poisson(mu * gamma) : 0);
    }
    // Limited stock is set from what the day was expected to sell, not from what it did:
    // the SKU sells out when demand runs above it, so sell-outs fall on busy days.
    const bool stockout = rng.uniform() < options.limited_stock_day_share;
    int stock =
        stockout ? static_cast<int>(std::floor((0.3 + 0.9 * rng.uniform()) * day_expected)) : 0;
    bool sold_out = stockout && stock == 0;
    for (std::size_t h = 0; h < 24; ++h) {
      const std::size_t t = day * 24 + h;
      const int demand = static_cast<int>(out.demand[t]);
      if (!stockout) {
        s.qty[t] = static_cast<float>(demand);
        continue;
      }
      if (sold_out) {
        s.censored[t] = 1;
        continue;
      }
      const int sold = std::min(demand, stock);
      stock -= sold;
      s.qty[t] = static_cast<float>(sold);
      if (stock == 0 && sold > 0) {
        // Nothing left to sell from here on: this hour and the rest of the day.
        sold_out = true;
        s.censored[t] = 1;
      }
    }
  }
  return out;
}

}  // namespace shopeasy::forecast
