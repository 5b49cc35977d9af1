#include "edge/replenish/policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace shopeasy::edge::replenish {

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

bool valid_code(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Inverse of the standard normal distribution function (Acklam's rational
// approximation, relative error below 1.2e-9), for quantiles of large sums where the
// negative binomial's probabilities underflow.
double normal_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  if (p <= 0) return -1e9;
  if (p >= 1) return 1e9;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - kLow) return -normal_quantile(1 - p);
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Smallest n with P(X <= n) >= p for a negative binomial of this mean and 1/size.
std::int64_t nb_quantile(double mean, double inv_k, double p) {
  if (!(mean > 0)) return 0;
  const bool poisson = inv_k <= 1e-9;
  const double k = poisson ? 0 : 1 / inv_k;
  double pmf = poisson ? std::exp(-mean) : std::exp(k * std::log(k / (k + mean)));
  if (pmf <= 1e-250 || mean > 1e5) {
    const double sd = std::sqrt(mean + inv_k * mean * mean);
    return static_cast<std::int64_t>(std::max(0.0, std::ceil(mean + normal_quantile(p) * sd)));
  }
  double cdf = pmf;
  double n = 0;
  const double q = poisson ? 0 : mean / (k + mean);
  while (cdf < p && n < 1e7) {
    pmf *= poisson ? mean / (n + 1) : (n + k) / (n + 1) * q;
    n += 1;
    cdf += pmf;
    if (pmf < 1e-16 && n > mean) break;  // rounding: the tail is spent
  }
  return static_cast<std::int64_t>(n);
}

// A negative binomial (Poisson when inv_k is 0) walked upwards from 0: at each n, the
// expected shortfall E[(X - n)+] and P(X <= n). E[(X - n)+] falls by P(X > n) with
// each step of n, from the mean at n = 0.
class NbWalk {
 public:
  NbWalk(double mean, double inv_k)
      : mean_(mean),
        poisson_(inv_k <= 1e-9),
        k_(poisson_ ? 0 : 1 / inv_k),
        q_(poisson_ ? 0 : mean / (k_ + mean)),
        pmf_(mean > 0 ? (poisson_ ? std::exp(-mean) : std::exp(k_ * std::log(k_ / (k_ + mean))))
                      : 1.0),
        cdf_(pmf_),
        shortfall_(std::max(0.0, mean)) {}
  // False when the probabilities underflow (a mean too large to walk).
  bool walkable() const { return pmf_ > 1e-250 && mean_ <= 1e5; }
  double shortfall() const { return shortfall_; }
  void step() {
    shortfall_ = std::max(0.0, shortfall_ - (1 - std::min(1.0, cdf_)));
    pmf_ *= poisson_ ? mean_ / (n_ + 1) : (n_ + k_) / (n_ + 1) * q_;
    n_ += 1;
    cdf_ += pmf_;
  }

 private:
  double mean_;
  bool poisson_;
  double k_, q_;
  double pmf_, cdf_, shortfall_;
  double n_ = 0;
};

// E[(X - n)+] of a normal of this mean and sd.
double normal_shortfall(double mean, double sd, double n) {
  if (!(sd > 0)) return std::max(0.0, mean - n);
  const double z = (n - mean) / sd;
  const double phi = std::exp(-z * z / 2) / std::sqrt(2 * 3.141592653589793);
  const double tail = 0.5 * std::erfc(z / std::sqrt(2.0));
  return sd * (phi - z * tail);
}

// Smallest level n at which the expected units short in one order cycle, E[(P - n)+]
// - E[(L - n)+] (shortfall by the next arrival less what was already short when this
// order arrived), is at most `max_short`. P: demand over the protection period, L:
// over the lead time, each a negative binomial (mean, 1/size).
std::int64_t level_for_cycle_shortfall(double p_mean, double p_inv_k, double l_mean, double l_inv_k,
                                       double max_short) {
  if (!(p_mean > 0)) return 0;
  NbWalk p(p_mean, p_inv_k), l(l_mean, l_inv_k);
  if (!p.walkable() || !l.walkable()) {
    const double p_sd = std::sqrt(p_mean + p_inv_k * p_mean * p_mean);
    const double l_sd = std::sqrt(l_mean + l_inv_k * l_mean * l_mean);
    double lo = 0, hi = p_mean + 10 * p_sd;
    for (int i = 0; i < 100; ++i) {
      const double mid = (lo + hi) / 2;
      const double cycle =
          normal_shortfall(p_mean, p_sd, mid) - normal_shortfall(l_mean, l_sd, mid);
      (cycle > max_short ? lo : hi) = mid;
    }
    return static_cast<std::int64_t>(std::ceil(hi));
  }
  std::int64_t n = 0;
  while (p.shortfall() - l.shortfall() > max_short && p.shortfall() > 1e-12 && n < 10'000'000) {
    p.step();
    l.step();
    ++n;
  }
  return n;
}

// Mean of step i, the last week of the forecast repeating beyond its end.
double step_mean(const DemandForecast& d, std::int64_t i) {
  const auto n = static_cast<std::int64_t>(d.mean.size());
  if (n == 0 || i < 0) return 0;
  if (i < n) return d.mean[static_cast<std::size_t>(i)];
  const std::int64_t period = d.step_hours >= 24 ? 7 : 168;
  if (n >= period) return d.mean[static_cast<std::size_t>(n - period + (i - n) % period)];
  double sum = 0;
  for (double m : d.mean) sum += m;
  return sum / static_cast<double>(n);
}

// Sum of mean and of squared mean over [from, to), fractions of a step in part.
std::pair<double, double> sums(const DemandForecast& d, double from, double to) {
  double s = 0, s2 = 0;
  if (!(to > from)) return {0, 0};
  const auto first = static_cast<std::int64_t>(std::floor(from));
  const auto last = static_cast<std::int64_t>(std::ceil(to));
  for (std::int64_t i = first; i < last; ++i) {
    const double lo = std::max(from, static_cast<double>(i));
    const double hi = std::min(to, static_cast<double>(i + 1));
    const double part = hi - lo;
    if (part <= 0) continue;
    const double m = step_mean(d, i) * part;
    s += m;
    s2 += m * m;
  }
  return {s, s2};
}

std::int64_t round_up(std::int64_t qty, std::int64_t pack) {
  if (pack <= 1) return qty;
  return (qty + pack - 1) / pack * pack;
}

std::int64_t round_down(std::int64_t qty, std::int64_t pack) {
  if (pack <= 1) return qty;
  return qty / pack * pack;
}

}  // namespace

Status validate_supplier(const Supplier& s) {
  if (!valid_code(s.id)) return invalid_argument("id must be 1..64 of [A-Za-z0-9._-]", "id");
  if (s.name.empty() || s.name.size() > 200) {
    return invalid_argument("name must be 1..200 characters", "name");
  }
  if (s.lead_time_days < kMinLeadTimeDays || s.lead_time_days > kMaxLeadTimeDays) {
    return invalid_argument("lead_time_days must be " + std::to_string(kMinLeadTimeDays) + ".." +
                                std::to_string(kMaxLeadTimeDays),
                            "lead_time_days");
  }
  if ((s.order_days & 0x7F) == 0 || (s.order_days & 0x80) != 0) {
    return invalid_argument("order_days must name at least one weekday", "order_days");
  }
  if (s.min_order_qty < 0 || s.min_order_qty > 1'000'000) {
    return invalid_argument("min_order_qty must be 0..1000000", "min_order_qty");
  }
  if (s.pack_size < 1 || s.pack_size > 100'000) {
    return invalid_argument("pack_size must be 1..100000", "pack_size");
  }
  return Status();
}

Status validate_sku_supply(const SkuSupply& link) {
  if (!valid_code(link.sku)) return invalid_argument("sku must be 1..64 of [A-Za-z0-9._-]", "sku");
  if (!valid_code(link.supplier_id)) {
    return invalid_argument("supplier_id must be 1..64 of [A-Za-z0-9._-]", "supplier_id");
  }
  if (!(link.service_level >= 0.5 && link.service_level <= 0.999)) {
    return invalid_argument("service_level must be 0.5..0.999", "service_level");
  }
  if (link.shelf_life_days && (*link.shelf_life_days < 1 || *link.shelf_life_days > 3650)) {
    return invalid_argument("shelf_life_days must be 1..3650", "shelf_life_days");
  }
  if (link.pack_size && (*link.pack_size < 1 || *link.pack_size > 100'000)) {
    return invalid_argument("pack_size must be 1..100000", "pack_size");
  }
  return Status();
}

StatusOr<std::uint8_t> parse_order_days(std::string_view text, std::string_view field) {
  if (text == "daily") return std::uint8_t{0x7F};
  std::uint8_t bits = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view part = text.substr(pos, comma - pos);
    const auto it = std::find(kDayNames.begin(), kDayNames.end(), part);
    if (it == kDayNames.end()) {
      return invalid_argument(std::string(field) + ": '" + std::string(part) +
                                  "' is not a weekday (mon,tue,wed,thu,fri,sat,sun or daily)",
                              std::string(field));
    }
    bits = static_cast<std::uint8_t>(bits | (1u << (it - kDayNames.begin())));
    pos = comma + 1;
  }
  return bits;
}

std::string format_order_days(std::uint8_t days) {
  std::string out;
  for (std::size_t d = 0; d < kDayNames.size(); ++d) {
    if ((days & (1u << d)) == 0) continue;
    if (!out.empty()) out += ',';
    out += kDayNames[d];
  }
  return out;
}

double demand_mean(const DemandForecast& d, double from, double to) {
  return sums(d, from, to).first;
}

std::int64_t demand_quantile(const DemandForecast& d, double from, double to, double p) {
  const auto [mean, mean_sq] = sums(d, from, to);
  if (!(mean > 0)) return 0;
  // Steps taken as independent: variance sum(m + inv_k m^2), i.e. a negative binomial
  // of the total's mean with 1/size inv_k * sum(m^2) / mean^2.
  return nb_quantile(mean, d.inv_k * mean_sq / (mean * mean), p);
}

std::int64_t fill_rate_level(const DemandForecast& d, double arrival, double protection,
                             double fill_rate) {
  const auto [mean, mean_sq] = sums(d, 0, protection);
  if (!(mean > 0)) return 0;
  const auto [l_mean, l_mean_sq] = sums(d, 0, arrival);
  // The units this order is for: demand between its arrival and the next one's, at the
  // protection period's average rate (a day the forecast puts at zero must not ask for
  // a shortfall of zero, which only the far tail meets).
  const double cycle = mean * (protection - arrival) / protection;
  // The total's dispersion is capped at a geometric tail (size 1): fitted to a slow
  // mover's residuals, mostly zeros, 1/size runs to 5-20, and the tail that implies
  // (a dozen units held for a SKU that sells one a month) is not in the data.
  constexpr double kMaxInvK = 1.0;
  const double p_inv_k = std::min(kMaxInvK, d.inv_k * mean_sq / (mean * mean));
  const double l_inv_k =
      l_mean > 0 ? std::min(kMaxInvK, d.inv_k * l_mean_sq / (l_mean * l_mean)) : 0;
  return level_for_cycle_shortfall(mean, p_inv_k, l_mean, l_inv_k, (1 - fill_rate) * cycle);
}

int review_days(std::uint8_t order_days, int weekday) {
  for (int k = 1; k <= 7; ++k) {
    if ((order_days & (1u << ((weekday + k) % 7))) != 0) return k;
  }
  return 7;
}

Proposal propose(const ProposalInput& in) {
  Proposal p;
  p.sku = in.link.sku;
  p.supplier_id = in.supplier.id;
  p.method = in.demand.method;
  p.censored_steps = in.demand.censored_steps;
  p.order_day = (in.supplier.order_days & (1u << (in.weekday % 7))) != 0;
  p.lead_time_days = in.supplier.lead_time_days;
  p.review_days = review_days(in.supplier.order_days, in.weekday);
  p.service_level = in.link.service_level;
  p.pack_size = std::max<std::int64_t>(1, in.link.pack_size.value_or(in.supplier.pack_size));
  const double per_day = 24.0 / std::max(1, in.demand.step_hours);
  const double arrival = p.lead_time_days * per_day;
  const double protection = (p.lead_time_days + p.review_days) * per_day;

  p.demand_lead_time = demand_mean(in.demand, 0, arrival);
  p.demand_protection = demand_mean(in.demand, 0, protection);
  p.reorder_point = demand_quantile(in.demand, 0, arrival, p.service_level);
  p.order_up_to = fill_rate_level(in.demand, arrival, protection, p.service_level);
  p.safety_stock = static_cast<double>(p.order_up_to) - p.demand_protection;

  // On hand, with lots that expire before the delivery counted only for what should
  // sell before they expire (earliest expiry sells first).
  std::vector<StockLot> lots = in.position.lots;
  std::stable_sort(lots.begin(), lots.end(), [](const StockLot& a, const StockLot& b) {
    return a.expires_in_steps.value_or(1e18) < b.expires_in_steps.value_or(1e18);
  });
  double sold_before = 0;  // expected units of earlier-expiring lots sold first
  bool expiring_cut = false;
  for (const StockLot& lot : lots) {
    if (lot.qty <= 0) continue;
    p.on_hand += lot.qty;
    if (!lot.expires_in_steps || *lot.expires_in_steps > arrival) {
      p.usable_on_hand += lot.qty;
      continue;
    }
    const double sells = std::max(
        0.0, demand_mean(in.demand, 0, std::max(0.0, *lot.expires_in_steps)) - sold_before);
    const auto cover = std::min(lot.qty, static_cast<std::int64_t>(std::floor(sells)));
    if (cover < lot.qty) expiring_cut = true;
    p.usable_on_hand += cover;
    sold_before += static_cast<double>(cover);
  }
  if (expiring_cut) p.reasons.emplace_back("expiring_stock_not_cover");
  if (p.censored_steps > 0) p.reasons.emplace_back("stockouts_in_history");
  p.reserved = in.position.reserved;
  p.on_order = in.position.on_order;
  p.inventory_position = p.usable_on_hand + p.on_order - p.reserved;
  p.shortfall = std::max<std::int64_t>(0, p.order_up_to - p.inventory_position);
  if (p.shortfall == 0) {
    p.reasons.emplace_back("covered");
    return p;
  }
  p.reasons.emplace_back("below_order_up_to");
  std::int64_t qty = round_up(p.shortfall, p.pack_size);
  if (qty != p.shortfall) p.reasons.emplace_back("pack_rounded");
  const std::int64_t moq = round_up(in.supplier.min_order_qty, p.pack_size);
  if (qty < moq) {
    qty = moq;
    p.reasons.emplace_back("min_order_qty");
  }
  if (in.link.shelf_life_days) {
    // What the delivery can sell before it expires: demand over its shelf life after
    // arrival, less what will still be on hand (and on order) when it arrives.
    p.demand_shelf_life =
        demand_mean(in.demand, arrival, arrival + *in.link.shelf_life_days * per_day);
    const double carried =
        std::max(0.0, static_cast<double>(p.inventory_position) - p.demand_lead_time);
    const auto sellable =
        static_cast<std::int64_t>(std::floor(std::max(0.0, p.demand_shelf_life - carried)));
    const std::int64_t cap = round_down(sellable, p.pack_size);
    if (qty > cap) {
      qty = cap;
      p.reasons.emplace_back("shelf_life_cap");
      if (qty < moq || qty == 0) {
        qty = 0;
        p.reasons.emplace_back("shelf_life_below_min_order");
      }
    }
  }
  p.qty = qty;
  return p;
}

}  // namespace shopeasy::edge::replenish
