#include "edge/replenish/simulate.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <functional>
#include <map>

#include "edge/forecast/forecaster.hpp"
#include "edge/replenish/policy.hpp"

namespace shopeasy::edge::replenish {

namespace {

namespace fc = shopeasy::forecast;

struct Lot {
  std::int64_t qty = 0;
  std::int64_t expiry = INT64_MAX;  // first day it may not be sold
};

// What a policy sees on an order day.
struct DayState {
  std::size_t sku = 0;
  std::size_t day = 0;
  const std::deque<Lot>* lots = nullptr;
  std::int64_t on_order = 0;
};

using Decide = std::function<std::int64_t(const DayState&)>;

// A SKU's simulation starts after the warm-up that follows its first sale (a SKU new
// to the range has no history before it, for either policy).
std::optional<std::size_t> start_day(const fc::Series& s, int warmup_days) {
  for (std::size_t t = 0; t < s.size(); ++t) {
    if (s.censored[t] == 0 && s.qty[t] > 0) {
      const std::size_t start = t + static_cast<std::size_t>(std::max(0, warmup_days));
      if (start < s.size()) return start;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::int64_t round_to_packs(std::int64_t qty, const SimOptions& o) {
  const std::int64_t pack = std::max<std::int64_t>(1, o.pack_size);
  qty = (qty + pack - 1) / pack * pack;
  const std::int64_t moq = (o.min_order_qty + pack - 1) / pack * pack;
  return std::max(qty, moq);
}

SimResult run(const std::vector<fc::Series>& daily, const SimOptions& o, const Decide& decide,
              std::string policy) {
  SimResult r;
  r.policy = std::move(policy);
  for (std::size_t i = 0; i < daily.size(); ++i) {
    const fc::Series& s = daily[i];
    const auto start = start_day(s, o.warmup_days);
    if (!start) continue;
    ++r.skus;
    std::deque<Lot> lots;
    std::map<std::size_t, std::int64_t> arrivals;  // day -> units
    std::int64_t on_order = 0;
    for (std::size_t d = *start; d < s.size(); ++d) {
      if (auto it = arrivals.find(d); it != arrivals.end()) {
        const std::int64_t expiry =
            o.shelf_life_days ? static_cast<std::int64_t>(d) + *o.shelf_life_days : INT64_MAX;
        lots.push_back(Lot{it->second, expiry});  // later arrivals expire later: stays FEFO
        on_order -= it->second;
        arrivals.erase(it);
      }
      while (!lots.empty() && lots.front().expiry <= static_cast<std::int64_t>(d)) {
        r.expired += static_cast<double>(lots.front().qty);
        lots.pop_front();
      }
      if ((o.order_days & (1u << (d % 7))) != 0) {
        const std::int64_t qty = decide(DayState{i, d, &lots, on_order});
        if (qty > 0) {
          arrivals[d + static_cast<std::size_t>(std::max(1, o.lead_time_days))] += qty;
          on_order += qty;
          ++r.orders;
        }
      }
      double want = std::max(0.0, static_cast<double>(s.qty[d]));
      r.demand += want;
      while (want > 0 && !lots.empty()) {
        const double take = std::min(want, static_cast<double>(lots.front().qty));
        want -= take;
        r.filled += take;
        lots.front().qty -= static_cast<std::int64_t>(std::ceil(take));
        if (lots.front().qty <= 0) lots.pop_front();
      }
      for (const Lot& l : lots) r.on_hand_sum += static_cast<double>(l.qty);
      ++r.sku_days;
    }
  }
  return r;
}

}  // namespace

SimResult simulate_proposal(const std::vector<fc::Series>& daily, const SimOptions& o) {
  const fc::Calendar cal = fc::calendar_for(fc::Granularity::kDay);
  const int refit = std::max(1, o.refit_days);
  const int horizon = refit + o.lead_time_days + 7 + o.shelf_life_days.value_or(0) + 1;
  std::map<std::size_t, fc::Pools> pools;  // by origin, shared by every SKU
  auto pools_at = [&](std::size_t origin) -> const fc::Pools& {
    auto it = pools.find(origin);
    if (it != pools.end()) return it->second;
    fc::Pools p(cal);
    for (const fc::Series& s : daily) p.add(s, origin);
    p.finish();
    return pools.emplace(origin, std::move(p)).first->second;
  };
  Supplier supplier;
  supplier.id = "sim";
  supplier.name = "sim";
  supplier.lead_time_days = std::max(1, o.lead_time_days);
  supplier.order_days = o.order_days;
  supplier.min_order_qty = o.min_order_qty;
  supplier.pack_size = o.pack_size;
  SkuSupply link;
  link.supplier_id = "sim";
  link.service_level = o.service_level;
  link.shelf_life_days = o.shelf_life_days;

  std::size_t current_sku = SIZE_MAX, current_origin = SIZE_MAX;
  fc::SkuForecast forecast;
  Decide decide = [&](const DayState& st) -> std::int64_t {
    const std::size_t origin =
        st.day / static_cast<std::size_t>(refit) * static_cast<std::size_t>(refit);
    if (st.sku != current_sku || origin != current_origin) {
      forecast = fc::forecast_sku(daily[st.sku], origin, horizon + refit, pools_at(origin), cal,
                                  fc::Options{});
      current_sku = st.sku;
      current_origin = origin;
    }
    ProposalInput in;
    in.supplier = supplier;
    in.link = link;
    in.link.sku = daily[st.sku].sku;
    in.weekday = static_cast<int>(st.day % 7);
    in.demand.step_hours = 24;
    in.demand.inv_k = forecast.inv_k;
    const std::size_t offset = st.day - origin;
    in.demand.mean.assign(
        forecast.mean.begin() + static_cast<std::ptrdiff_t>(std::min(offset, forecast.mean.size())),
        forecast.mean.end());
    for (const Lot& l : *st.lots) {
      StockLot lot;
      lot.qty = l.qty;
      if (l.expiry != INT64_MAX) {
        lot.expires_in_steps = static_cast<double>(l.expiry - static_cast<std::int64_t>(st.day));
      }
      in.position.lots.push_back(lot);
    }
    in.position.on_order = st.on_order;
    return propose(in).qty;
  };
  return run(daily, o, decide, "proposal");
}

SimResult simulate_static(const std::vector<fc::Series>& daily, const SimOptions& o,
                          double multiplier) {
  // Each SKU's mean daily demand over its warm-up: the one figure a static min/max knows.
  std::vector<double> mean(daily.size(), 0.0);
  for (std::size_t i = 0; i < daily.size(); ++i) {
    const auto start = start_day(daily[i], o.warmup_days);
    if (!start) continue;
    double sum = 0;
    int n = 0;
    for (std::size_t t = *start - static_cast<std::size_t>(std::max(0, o.warmup_days)); t < *start;
         ++t) {
      if (daily[i].censored[t] != 0) continue;
      sum += daily[i].qty[t];
      ++n;
    }
    mean[i] = n > 0 ? sum / n : 0;
  }
  // Review period: the average gap between order days.
  int order_days = 0;
  for (int d = 0; d < 7; ++d) order_days += (o.order_days >> d) & 1;
  const double review = order_days > 0 ? 7.0 / order_days : 7.0;
  Decide decide = [&](const DayState& st) -> std::int64_t {
    const double mu = mean[st.sku];
    const auto min_level = static_cast<std::int64_t>(
        std::ceil(multiplier * mu * (std::max(1, o.lead_time_days) + review)));
    const auto max_level = min_level + static_cast<std::int64_t>(std::ceil(mu * review));
    std::int64_t position = st.on_order;
    for (const Lot& l : *st.lots) position += l.qty;
    if (position > min_level || max_level <= position) return 0;
    return round_to_packs(max_level - position, o);
  };
  SimResult r = run(daily, o, decide, "static min/max");
  r.multiplier = multiplier;
  return r;
}

SimResult find_static_for_fill_rate(const std::vector<fc::Series>& daily, const SimOptions& o,
                                    double target) {
  double lo = 0, hi = 8;
  SimResult best = simulate_static(daily, o, hi);
  if (best.fill_rate() < target) return best;
  while (hi - lo > 0.05) {
    const double mid = (lo + hi) / 2;
    SimResult r = simulate_static(daily, o, mid);
    if (r.fill_rate() >= target) {
      hi = mid;
      best = std::move(r);
    } else {
      lo = mid;
    }
  }
  return best;
}

}  // namespace shopeasy::edge::replenish
