#include "cloud/pricing/rules.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "cloud/pricing/price_model.hpp"

namespace shopeasy::cloud::pricing {
namespace {

constexpr std::int64_t kFutureSlackMs = 5 * 60'000;

// Load as open orders per available runner; no runner with orders waiting is as loaded
// as a store can be.
double load_ratio(const LoadSignal& s) {
  if (s.available_runners <= 0) return s.open_orders > 0 ? 1e9 : 0.0;
  return static_cast<double>(s.open_orders) / static_cast<double>(s.available_runners);
}

bool reaches(const SurgeStep& step, const LoadSignal& s, double scale) {
  if (load_ratio(s) >= step.orders_per_runner * scale) return true;
  return step.pick_queue > 0 &&
         static_cast<double>(s.pick_queue) >= static_cast<double>(step.pick_queue) * scale;
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  // Feeds from spreadsheets quote fields that hold commas; a doubled quote is a quote.
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  for (auto& f : out) f = trim(f);
  return out;
}

Status row_error(const std::string& row, const std::string& what) {
  return invalid_argument(row + ": " + what, row);
}

// A price in rupees to cents, refusing everything that is not a sane positive amount.
StatusOr<std::int64_t> price_to_cents(double value, const std::string& row) {
  if (std::isnan(value) || std::isinf(value)) return row_error(row, "price is not a finite number");
  if (value <= 0) return row_error(row, "price must be above zero");
  const double cents = std::round(value * 100.0);
  if (cents < 1) return row_error(row, "price must be at least 0.01");
  if (cents > static_cast<double>(kMaxPriceCents)) {
    return row_error(row, "price is absurd (above " + std::to_string(kMaxPriceCents / 100) + ")");
  }
  return static_cast<std::int64_t>(cents);
}

Status check_common(const CompetitorPrice& p, std::int64_t now_ms) {
  if (!is_valid_id(p.sku)) return row_error(p.row, "sku must be 1 to 64 of [A-Za-z0-9_.-]");
  if (p.competitor.size() > 64) return row_error(p.row, "competitor is longer than 64");
  if (p.observed_at_ms <= 0 || p.observed_at_ms > now_ms + kFutureSlackMs) {
    return row_error(p.row, "observed_at_ms must be a past Unix time in ms");
  }
  return Status::ok();
}

}  // namespace

SurgeDecision evaluate_surge(const SurgeConfig& config, const LoadSignal* signal,
                             const WeatherFlag& weather, int previous_step, std::int64_t now_ms) {
  SurgeDecision d;
  const int max_step = static_cast<int>(config.steps.size());
  int step = 0;
  std::string why;
  if (signal != nullptr && now_ms - signal->at_ms > config.max_signal_age_ms) {
    d.stale_signal = true;
    why = "load signal " + std::to_string((now_ms - signal->at_ms) / 1000) + " s old: neutral";
  } else if (signal != nullptr && signal->at_ms > now_ms + kFutureSlackMs) {
    // A stamp from the future is as untrustworthy as an old one.
    d.stale_signal = true;
    why = "load signal stamped in the future: neutral";
  } else if (signal != nullptr) {
    int up = 0;
    int hold = 0;
    const double keep = 1.0 - config.hysteresis_bp / 10'000.0;
    for (int k = 1; k <= max_step; ++k) {
      if (reaches(config.steps[k - 1], *signal, 1.0)) up = k;
      if (reaches(config.steps[k - 1], *signal, keep)) hold = k;
    }
    step = up >= previous_step ? up : std::max(up, std::min(previous_step, hold));
    std::ostringstream os;
    os << signal->open_orders << " open orders, " << signal->available_runners << " runners, "
       << signal->pick_queue << " to pick";
    why = os.str();
  } else {
    why = "no load signal";
  }
  if (weather.bad_weather && now_ms < weather.until_ms && step < max_step) {
    ++step;
    why += "; bad weather flag";
  }
  d.step = std::clamp(step, 0, max_step);
  d.fee_cents = d.step == 0 ? config.base_fee_cents : config.steps[d.step - 1].fee_cents;
  d.fee_cents = std::clamp<std::int64_t>(d.fee_cents, 0, kMaxPriceCents);
  d.reason =
      (d.step == 0 ? std::string("base delivery fee") : "surge step " + std::to_string(d.step)) +
      " (" + why + ")";
  return d;
}

std::optional<MarkdownTier> markdown_tier(const MarkdownConfig& config, const Lot& lot,
                                          std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  const std::int64_t left = lot.expires_ms - now_ms;
  if (left <= 0) return std::nullopt;  // expired: not for sale, never "marked down"
  std::optional<MarkdownTier> best;
  for (const MarkdownTier& t : config.tiers) {
    if (left <= t.within_ms && (!best || t.off_bp > best->off_bp)) best = t;
  }
  return best;
}

std::optional<std::int64_t> competitor_target(const CompetitorConfig& config,
                                              std::int64_t base_cents,
                                              const std::vector<CompetitorPrice>& observations,
                                              std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  std::vector<std::int64_t> fresh;
  for (const CompetitorPrice& o : observations) {
    if (o.price_cents > 0 && now_ms - o.observed_at_ms <= config.max_age_ms &&
        o.observed_at_ms <= now_ms + kFutureSlackMs) {
      fresh.push_back(o.price_cents);
    }
  }
  if (fresh.empty()) return std::nullopt;
  std::sort(fresh.begin(), fresh.end());
  const std::size_t n = fresh.size();
  const std::int64_t median = n % 2 == 1 ? fresh[n / 2] : (fresh[n / 2 - 1] + fresh[n / 2]) / 2;
  const std::int64_t low = median - median * config.band_bp / 10'000;
  const std::int64_t high = median + median * config.band_bp / 10'000;
  const std::int64_t target = std::clamp(median - config.beat_by_cents, low, high);
  return std::min(base_cents, target);
}

StatusOr<std::vector<CompetitorPrice>> parse_competitor_csv(const std::string& text,
                                                            std::int64_t now_ms) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  int sku_col = -1, price_col = -1, competitor_col = -1, at_col = -1;
  std::vector<CompetitorPrice> out;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    const std::vector<std::string> f = split_csv_line(line);
    if (sku_col < 0 && price_col < 0) {
      for (int i = 0; i < static_cast<int>(f.size()); ++i) {
        if (f[i] == "sku") sku_col = i;
        if (f[i] == "price") price_col = i;
        if (f[i] == "competitor") competitor_col = i;
        if (f[i] == "observed_at_ms") at_col = i;
      }
      if (sku_col < 0 || price_col < 0) {
        return invalid_argument(
            "line " + std::to_string(line_no) + ": the header must name the columns sku and price",
            "line " + std::to_string(line_no));
      }
      continue;
    }
    CompetitorPrice p;
    p.row = "line " + std::to_string(line_no);
    const auto cell = [&](int col) -> std::string {
      return col >= 0 && col < static_cast<int>(f.size()) ? f[col] : std::string();
    };
    p.sku = cell(sku_col);
    p.competitor = cell(competitor_col);
    const std::string price = cell(price_col);
    if (price.empty()) return row_error(p.row, "price is blank");
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(price.c_str(), &end);
    if (end != price.c_str() + price.size() || errno == ERANGE) {
      return row_error(p.row, "price '" + price.substr(0, 32) + "' is not a number");
    }
    SHOPEASY_ASSIGN_OR_RETURN(p.price_cents, price_to_cents(value, p.row));
    const std::string at = cell(at_col);
    if (at.empty()) {
      p.observed_at_ms = now_ms;
    } else {
      char* at_end = nullptr;
      errno = 0;
      const long long v = std::strtoll(at.c_str(), &at_end, 10);
      if (at_end != at.c_str() + at.size() || errno == ERANGE) {
        return row_error(p.row, "observed_at_ms '" + at.substr(0, 32) + "' is not an integer");
      }
      p.observed_at_ms = v;
    }
    SHOPEASY_RETURN_IF_ERROR(check_common(p, now_ms));
    out.push_back(std::move(p));
  }
  if (sku_col < 0) return invalid_argument("the feed is empty", "line 1");
  return out;
}

StatusOr<std::vector<CompetitorPrice>> parse_competitor_json(const nlohmann::json& j,
                                                             std::int64_t now_ms) {
  const nlohmann::json* rows = &j;
  if (j.is_object() && j.contains("rows")) rows = &j["rows"];
  if (!rows->is_array()) return invalid_argument("must be an array of rows", "rows");
  std::vector<CompetitorPrice> out;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const nlohmann::json& r = (*rows)[i];
    CompetitorPrice p;
    p.row = "rows[" + std::to_string(i) + "]";
    if (!r.is_object()) return row_error(p.row, "must be an object");
    if (!r.contains("sku") || !r["sku"].is_string()) return row_error(p.row, "sku is missing");
    p.sku = r["sku"].get<std::string>();
    if (r.contains("competitor") && r["competitor"].is_string()) {
      p.competitor = r["competitor"].get<std::string>();
    }
    if (!r.contains("price") || r["price"].is_null()) return row_error(p.row, "price is blank");
    const nlohmann::json& price = r["price"];
    if (price.is_string()) {
      // "NaN" and friends arrive as strings: they are not prices.
      return row_error(
          p.row, "price must be a number, not '" + price.get<std::string>().substr(0, 32) + "'");
    }
    if (!price.is_number()) return row_error(p.row, "price must be a number");
    SHOPEASY_ASSIGN_OR_RETURN(p.price_cents, price_to_cents(price.get<double>(), p.row));
    p.observed_at_ms = now_ms;
    if (r.contains("observed_at_ms")) {
      if (!r["observed_at_ms"].is_number_integer()) {
        return row_error(p.row, "observed_at_ms must be an integer");
      }
      p.observed_at_ms = r["observed_at_ms"].get<std::int64_t>();
    }
    SHOPEASY_RETURN_IF_ERROR(check_common(p, now_ms));
    out.push_back(std::move(p));
  }
  return out;
}

CoverVerdict classify_cover(const InventoryConfig& config, const SkuCover& cover) {
  CoverVerdict v;
  if (!config.enabled || cover.units < 0 || !std::isfinite(cover.daily_demand) ||
      cover.daily_demand < 0) {
    return v;
  }
  if (cover.daily_demand == 0) {
    // Units nobody is expected to buy never run out: unbounded cover, the most
    // overstocked a SKU can be. With no units either there is nothing to price on.
    if (cover.units == 0) return v;
    v.days = std::numeric_limits<double>::infinity();
    v.state = CoverState::kOverstock;
    return v;
  }
  v.days = static_cast<double>(cover.units) / cover.daily_demand;
  if (v.days >= config.overstock_days) {
    v.state = CoverState::kOverstock;
  } else if (v.days <= config.scarce_days) {
    v.state = CoverState::kScarce;
  }
  return v;
}

std::string describe_cover_days(double days) {
  if (std::isinf(days)) return "unbounded (no demand)";
  char text[64];
  std::snprintf(text, sizeof text, "%.1f days", days);
  return text;
}

}  // namespace shopeasy::cloud::pricing
