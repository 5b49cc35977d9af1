#include "edge/forecast/forecaster.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace shopeasy::forecast {

std::string_view method_name(Method m) {
  switch (m) {
    case Method::kSeasonalNaive:
      return "seasonal-naive";
    case Method::kMean4Weeks:
      return "mean-4w";
    case Method::kZero:
      return "zero";
    case Method::kProfile:
      return "profile";
    case Method::kCroston:
      return "croston";
    case Method::kSba:
      return "sba";
    case Method::kTsb:
      return "tsb";
    case Method::kAdida:
      return "adida";
  }
  return "?";
}

namespace {

// Constants: set once from what the methods mean (a weekly level that forgets a quarter
// per week, shrinkage counted in units sold), not fitted to one data set.
constexpr double kWeeklyAlpha = 0.25;  // profile: weekly level smoothing
constexpr double kDailyAlpha = 0.1;    // ADIDA: daily level smoothing
constexpr double kCrostonAlpha = 0.1;  // Croston/SBA/TSB: demand size smoothing
constexpr double kTsbWeeklyForget = 0.25;
constexpr double kShapeDecay = 0.9;        // weight of a week one week older in the own shape
constexpr double kShapeShrinkUnits = 100;  // units at which own shape and pooled weigh equal
constexpr double kMarginShrinkUnits = 10;  // same for the day-of-week and hour-of-day margins
constexpr double kGroupShrinkUnits = 200;  // a group's pool against the store's
constexpr double kMinWeekMass = 0.2;       // a week with less uncensored shape than this borrows

void normalise(std::vector<double>& v) {
  const double total = std::accumulate(v.begin(), v.end(), 0.0);
  if (total > 0) {
    for (double& x : v) x /= total;
  } else {
    std::fill(v.begin(), v.end(), 1.0 / static_cast<double>(v.size()));
  }
}

}  // namespace

Pools::Pools(const Calendar& cal) : cal_(cal) {
  store_.sum.assign(cal.period, 0.0);
  store_.count.assign(cal.period, 0.0);
}

void Pools::add(const Series& s, std::size_t origin) {
  Acc* group = nullptr;
  if (!s.group.empty()) {
    auto [it, inserted] = groups_.try_emplace(s.group);
    group = &it->second;
    if (inserted) {
      group->sum.assign(cal_.period, 0.0);
      group->count.assign(cal_.period, 0.0);
    }
  }
  const std::size_t end = std::min(origin, s.size());
  for (std::size_t t = 0; t < end; ++t) {
    if (s.censored[t]) continue;
    const std::size_t how = t % cal_.period;
    store_.sum[how] += s.qty[t];
    store_.count[how] += 1;
    store_.units += s.qty[t];
    if (group) {
      group->sum[how] += s.qty[t];
      group->count[how] += 1;
      group->units += s.qty[t];
    }
  }
}

void Pools::finish() {
  auto rates = [](const Acc& a) {
    std::vector<double> r(a.sum.size(), 0.0);
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = a.count[i] > 0 ? a.sum[i] / a.count[i] : 0;
    normalise(r);
    return r;
  };
  store_.shape = rates(store_);
  for (auto& [name, acc] : groups_) {
    std::vector<double> own = rates(acc);
    const double w = acc.units / (acc.units + kGroupShrinkUnits);
    for (std::size_t i = 0; i < own.size(); ++i) {
      own[i] = w * own[i] + (1 - w) * store_.shape[i];
    }
    acc.shape = std::move(own);
  }
}

const std::vector<double>& Pools::shape(const std::string& group) const {
  if (!group.empty()) {
    auto it = groups_.find(group);
    if (it != groups_.end()) return it->second.shape;
  }
  return store_.shape;
}

namespace {

// One SKU's history up to an origin, as every method sees it.
struct Prepared {
  std::vector<double> y;      // censored steps filled in, overrides divided out
  std::vector<double> shape;  // sums to 1 over the period
};

double override_multiplier(const Series& s, std::size_t t, const Calendar& cal,
                           const std::vector<Override>& overrides) {
  double m = 1.0;
  const std::int64_t at = s.start + static_cast<std::int64_t>(t) * cal.step_seconds;
  for (const Override& o : overrides) {
    if (at >= o.from && at < o.to && (o.sku.empty() || o.sku == s.sku) && o.multiplier > 0) {
      m *= o.multiplier;
    }
  }
  return m;
}

// How much of a step's demand its sales show. A censored step that still sold something
// is the one the SKU sold out in: on average it was on sale for half of it. Counting it
// as half observed (rather than leaving it out) matters: the step in which stock runs
// out tends to be a busy one, so leaving it out biases the level low.
double observed_share(std::uint8_t censored, double sold) {
  if (!censored) return 1.0;
  return sold > 0 ? 0.5 : 0.0;
}

Prepared prepare(const Series& s, std::size_t origin, const std::vector<double>& pool,
                 const Calendar& cal, const Options& options) {
  const std::size_t period = static_cast<std::size_t>(cal.period);
  const std::size_t spd = static_cast<std::size_t>(cal.steps_per_day);
  const std::size_t days = period / spd;
  Prepared p;
  p.y.resize(origin);
  std::vector<std::uint8_t> cens(origin, 0);
  for (std::size_t t = 0; t < origin; ++t) {
    p.y[t] = s.qty[t];
    if (options.censoring_aware) cens[t] = s.censored[t];
  }
  if (!options.overrides.empty()) {
    for (std::size_t t = 0; t < origin; ++t)
      p.y[t] /= override_multiplier(s, t, cal, options.overrides);
  }

  // The SKU's own rate per step of the week, recent weeks weighing more.
  std::vector<double> sum(period, 0.0), weight(period, 0.0);
  std::vector<double> decay(origin / period + 1, 1.0);
  for (std::size_t i = 1; i < decay.size(); ++i) decay[i] = decay[i - 1] * kShapeDecay;
  double units = 0;
  for (std::size_t t = 0; t < origin; ++t) {
    const double seen = observed_share(cens[t], p.y[t]);
    if (seen == 0) continue;
    const double w = decay[(origin - 1 - t) / period];
    sum[t % period] += w * p.y[t];
    weight[t % period] += w * seen;
    units += w * p.y[t];
  }
  std::vector<double> rate(period, 0.0);
  double known_rate = 0, known_pool = 0;
  for (std::size_t i = 0; i < period; ++i) {
    if (weight[i] > 0) {
      rate[i] = sum[i] / weight[i];
      known_rate += rate[i];
      known_pool += pool[i];
    }
  }
  // A step of the week never seen uncensored takes the pool's share.
  for (std::size_t i = 0; i < period; ++i) {
    if (weight[i] == 0) rate[i] = known_pool > 0 ? known_rate * pool[i] / known_pool : 0;
  }
  std::vector<double> own = rate;
  normalise(own);

  // Middle level: the pool's shape tilted by the SKU's own day-of-week and hour-of-day
  // margins, each shrunk to the pool's.
  std::vector<double> own_dow(days, 0), pool_dow(days, 0), own_hod(spd, 0), pool_hod(spd, 0);
  for (std::size_t i = 0; i < period; ++i) {
    own_dow[i / spd] += own[i];
    pool_dow[i / spd] += pool[i];
    own_hod[i % spd] += own[i];
    pool_hod[i % spd] += pool[i];
  }
  auto ratio = [&](double o, double q) {
    const double shrunk = (units * o + kMarginShrinkUnits * q) / (units + kMarginShrinkUnits);
    return q > 0 ? shrunk / q : 0.0;
  };
  std::vector<double> mid(period, 0.0);
  for (std::size_t i = 0; i < period; ++i) {
    mid[i] = pool[i] * ratio(own_dow[i / spd], pool_dow[i / spd]) *
             (spd > 1 ? ratio(own_hod[i % spd], pool_hod[i % spd]) : 1.0);
  }
  normalise(mid);
  p.shape.resize(period);
  const double w_own = units / (units + kShapeShrinkUnits);
  for (std::size_t i = 0; i < period; ++i) p.shape[i] = w_own * own[i] + (1 - w_own) * mid[i];

  // Fill in censored steps: the week's level (from its uncensored steps) times the shape.
  bool any_censored = std::any_of(cens.begin(), cens.end(), [](std::uint8_t c) { return c; });
  if (any_censored) {
    const std::size_t weeks = (origin + period - 1) / period;
    std::vector<double> u(weeks, 0.0), m(weeks, 0.0), full(weeks, 0.0);
    for (std::size_t t = 0; t < origin; ++t) {
      const std::size_t w = t / period;
      full[w] += p.shape[t % period];
      u[w] += p.y[t] * (observed_share(cens[t], p.y[t]) > 0 ? 1 : 0);
      m[w] += p.shape[t % period] * observed_share(cens[t], p.y[t]);
    }
    const double u_all = std::accumulate(u.begin(), u.end(), 0.0);
    const double m_all = std::accumulate(m.begin(), m.end(), 0.0);
    const double level_all = m_all > 0 ? u_all / m_all : 0.0;
    for (std::size_t t = 0; t < origin; ++t) {
      if (!cens[t]) continue;
      const std::size_t w = t / period;
      const double level = (m[w] > 0 && m[w] >= kMinWeekMass * full[w]) ? u[w] / m[w] : level_all;
      // What sold in a sell-out step covers the part of it that was observed.
      p.y[t] += level * p.shape[t % period] * (1 - observed_share(cens[t], p.y[t]));
    }
  }
  return p;
}

// Smoothed level in units per week over blocks of `block` steps, each block's estimate
// being its sales over its share of the week's shape.
double block_level(const Prepared& p, std::size_t block, std::size_t period, double alpha) {
  const std::size_t n = p.y.size();
  double level = 0;
  bool started = false;
  const double per_week = static_cast<double>(period) / static_cast<double>(block);
  for (std::size_t b = 0; b < n; b += block) {
    double u = 0, m = 0;
    for (std::size_t t = b; t < std::min(n, b + block); ++t) {
      u += p.y[t];
      m += p.shape[t % period];
    }
    if (m <= 1e-12) continue;
    const double est = u / m;
    if (!started) {
      level = est;
      started = true;
      continue;
    }
    level += std::min(1.0, alpha * m * per_week) * (est - level);
  }
  return level;
}

double croston_rate(const std::vector<double>& y, bool sba) {
  double z = 0, interval = 0;
  bool started = false;
  std::size_t gap = 1;
  for (std::size_t t = 0; t < y.size(); ++t) {
    if (y[t] > 0) {
      if (!started) {
        z = y[t];
        interval = static_cast<double>(t + 1);
        started = true;
      } else {
        z += kCrostonAlpha * (y[t] - z);
        interval += kCrostonAlpha * (static_cast<double>(gap) - interval);
      }
      gap = 1;
    } else {
      ++gap;
    }
  }
  if (!started || interval <= 0) return 0;
  const double rate = z / interval;
  return sba ? rate * (1 - kCrostonAlpha / 2) : rate;
}

double tsb_rate(const std::vector<double>& y, std::size_t period) {
  const double beta = 1 - std::pow(1 - kTsbWeeklyForget, 1.0 / static_cast<double>(period));
  double prob = 0, z = 0;
  bool started = false;
  for (std::size_t t = 0; t < y.size(); ++t) {
    const bool demand = y[t] > 0;
    if (!started) {
      if (!demand) continue;
      started = true;
      prob = static_cast<double>(std::count_if(y.begin(), y.begin() + static_cast<long>(t) + 1,
                                               [](double v) { return v > 0; })) /
             static_cast<double>(t + 1);
      z = y[t];
      continue;
    }
    prob += beta * ((demand ? 1.0 : 0.0) - prob);
    if (demand) z += kCrostonAlpha * (y[t] - z);
  }
  return prob * z;
}

std::vector<double> forecast_method(Method method, const Prepared& p, std::size_t origin,
                                    int horizon, const Calendar& cal) {
  const std::size_t period = static_cast<std::size_t>(cal.period);
  std::vector<double> f(static_cast<std::size_t>(horizon), 0.0);
  auto past = [&](std::size_t k, std::size_t weeks_back) -> double {
    // The same step of the week, `weeks_back` weeks before the last one before origin.
    const std::size_t t = origin + k;
    const std::size_t back = period * ((k / period) + weeks_back);
    return t >= back ? p.y[t - back] : -1.0;
  };
  auto spread = [&](double weekly) {
    for (std::size_t k = 0; k < f.size(); ++k) f[k] = weekly * p.shape[(origin + k) % period];
  };
  switch (method) {
    case Method::kZero:
      break;
    case Method::kSeasonalNaive:
      for (std::size_t k = 0; k < f.size(); ++k) f[k] = std::max(0.0, past(k, 1));
      break;
    case Method::kMean4Weeks:
      for (std::size_t k = 0; k < f.size(); ++k) {
        double total = 0;
        int n = 0;
        for (std::size_t w = 1; w <= 4; ++w) {
          const double v = past(k, w);
          if (v < 0) break;
          total += v;
          ++n;
        }
        f[k] = n > 0 ? total / n : 0.0;
      }
      break;
    case Method::kProfile:
      spread(block_level(p, period, period, kWeeklyAlpha));
      break;
    case Method::kAdida:
      spread(block_level(p, static_cast<std::size_t>(cal.steps_per_day), period, kDailyAlpha));
      break;
    case Method::kCroston:
      spread(croston_rate(p.y, false) * static_cast<double>(period));
      break;
    case Method::kSba:
      spread(croston_rate(p.y, true) * static_cast<double>(period));
      break;
    case Method::kTsb:
      spread(tsb_rate(p.y, period) * static_cast<double>(period));
      break;
  }
  return f;
}

}  // namespace

double nb_quantile(double mean, double inv_k, double p) {
  if (!(mean > 0)) return 0;
  // P(0) and the ratio P(n+1)/P(n) of a negative binomial (a Poisson when inv_k is 0).
  double pmf, cdf;
  const bool poisson = inv_k <= 1e-9;
  const double k = poisson ? 0 : 1 / inv_k;
  if (poisson) {
    pmf = std::exp(-mean);
  } else {
    pmf = std::exp(k * std::log(k / (k + mean)));
  }
  // exp underflows for large means: start from a normal approximation then.
  if (pmf <= 1e-300) {
    const double sd = std::sqrt(mean + inv_k * mean * mean);
    static constexpr double kZ[] = {0.0, 1.2815515655, 1.6448536270};
    const double z = p >= 0.95 ? kZ[2] : p >= 0.9 ? kZ[1] : 0.0;
    return std::max(0.0, std::round(mean + z * sd));
  }
  cdf = pmf;
  double n = 0;
  const double q = poisson ? 0 : mean / (k + mean);
  while (cdf < p && n < 1e7) {
    pmf *= poisson ? mean / (n + 1) : (n + k) / (n + 1) * q;
    n += 1;
    cdf += pmf;
    if (pmf < 1e-16 && cdf < p && n > mean) break;  // rounding: the tail is spent
  }
  return n;
}

SkuForecast forecast_sku(const Series& s, std::size_t origin, int horizon, const Pools& pools,
                         const Calendar& cal, const Options& options, bool every_method) {
  const std::size_t period = static_cast<std::size_t>(cal.period);
  origin = std::min(origin, s.size());
  const std::vector<double>& pool = pools.shape(s.group);
  SkuForecast out;
  std::vector<Method> candidates = options.candidates;
  if (candidates.empty()) candidates.push_back(Method::kProfile);

  // Rolling origins inside the history, one week each.
  std::vector<double> loss(candidates.size(), 0.0);
  std::vector<double> s2(candidates.size(), 0.0), sf(candidates.size(), 0.0),
      sf2(candidates.size(), 0.0);
  int folds = 0;
  for (int i = 1; i <= options.selection_folds; ++i) {
    if (origin < period * static_cast<std::size_t>(i + 1)) break;
    const std::size_t o = origin - period * static_cast<std::size_t>(i);
    const Prepared p = prepare(s, o, pool, cal, options);
    ++folds;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      const std::vector<double> f =
          forecast_method(candidates[c], p, o, static_cast<int>(period), cal);
      for (std::size_t k = 0; k < period; ++k) {
        if (options.censoring_aware && s.censored[o + k]) continue;
        const double actual =
            s.qty[o + k] / (options.overrides.empty()
                                ? 1.0
                                : override_multiplier(s, o + k, cal, options.overrides));
        const double e = actual - f[k];
        loss[c] += e * e;
        s2[c] += e * e;
        sf[c] += f[k];
        sf2[c] += f[k] * f[k];
      }
    }
  }
  std::size_t best = 0;
  if (folds > 0) {
    for (std::size_t c = 1; c < candidates.size(); ++c) {
      if (loss[c] < loss[best] * (1 - 1e-9)) best = c;
    }
    out.inv_k = sf2[best] > 0 ? std::clamp((s2[best] - sf[best]) / sf2[best], 0.0, 20.0) : 0.0;
  } else {
    best = static_cast<std::size_t>(
        std::find(candidates.begin(), candidates.end(), Method::kProfile) - candidates.begin());
    if (best >= candidates.size()) best = 0;
    out.inv_k = 0.5;
  }
  out.method = candidates[best];

  const Prepared p = prepare(s, origin, pool, cal, options);
  if (every_method) {
    out.by_method.reserve(kAllMethods.size());
    for (Method m : kAllMethods)
      out.by_method.push_back(forecast_method(m, p, origin, horizon, cal));
    out.mean = out.by_method[static_cast<std::size_t>(out.method)];
  } else {
    out.mean = forecast_method(out.method, p, origin, horizon, cal);
  }
  if (!options.overrides.empty()) {
    for (std::size_t k = 0; k < out.mean.size(); ++k) {
      out.mean[k] *= override_multiplier(s, origin + k, cal, options.overrides);
    }
  }
  out.p50.resize(out.mean.size());
  out.p90.resize(out.mean.size());
  out.p95.resize(out.mean.size());
  for (std::size_t k = 0; k < out.mean.size(); ++k) {
    out.p50[k] = nb_quantile(out.mean[k], out.inv_k, 0.5);
    out.p90[k] = nb_quantile(out.mean[k], out.inv_k, 0.9);
    out.p95[k] = nb_quantile(out.mean[k], out.inv_k, 0.95);
  }
  return out;
}

}  // namespace shopeasy::forecast
