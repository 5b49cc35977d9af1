#include "edge/replenish/stock_cover.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>
#include <utility>

namespace shopeasy::edge::replenish {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// What the wire's SKU rule accepts (1..64 characters, no control characters): one bad
// SKU would get the whole batch refused, and the store's sync with it.
bool sendable_sku(const std::string& sku) {
  if (sku.empty() || sku.size() > 64) return false;
  return std::none_of(sku.begin(), sku.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

struct Candidate {
  wire::StockCover cover;
  double extremity = 0;  // how many times past its threshold; +inf for no demand or no stock
};

}  // namespace

std::vector<wire::StockCover> select_stock_cover(const std::vector<SkuStockDemand>& skus,
                                                 const CoverThresholds& thresholds,
                                                 std::size_t max) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<Candidate> picked;
  for (const SkuStockDemand& s : skus) {
    if (!sendable_sku(s.sku) || s.units < 0 || !std::isfinite(s.daily_demand) ||
        s.daily_demand < 0) {
      continue;
    }
    const std::int64_t units = std::min(s.units, wire::kMaxCoverUnits);
    const double demand = std::min(s.daily_demand, wire::kMaxCoverDailyDemand);
    if (units == 0 && demand == 0) continue;  // nothing on hand, nothing sold: no cover to speak of
    const double days = demand == 0 ? kInf : static_cast<double>(units) / demand;
    double extremity = 0;
    if (days >= thresholds.overstock_days) {
      extremity = days / thresholds.overstock_days;
    } else if (days <= thresholds.scarce_days) {
      extremity = days == 0 ? kInf : thresholds.scarce_days / days;
    } else {
      continue;
    }
    picked.push_back({{.sku = s.sku, .units = units, .daily_demand = demand}, extremity});
  }
  // Most extreme first, so the cap drops the SKUs nearest their threshold.
  std::sort(picked.begin(), picked.end(), [](const Candidate& a, const Candidate& b) {
    if (a.extremity != b.extremity) return a.extremity > b.extremity;
    return a.cover.sku < b.cover.sku;
  });
  // Each SKU once: the first (most extreme) entry wins if the input repeats one.
  std::vector<wire::StockCover> out;
  std::unordered_set<std::string> seen;
  for (Candidate& c : picked) {
    if (out.size() >= max) break;
    if (!seen.insert(c.cover.sku).second) continue;
    out.push_back(std::move(c.cover));
  }
  return out;
}

StockCoverReport::StockCoverReport(store::EdgeStore& store, CoverThresholds thresholds,
                                   CachedDemand cached)
    : store_(store), thresholds_(thresholds), cached_(std::move(cached)) {}

StatusOr<std::unordered_map<std::string, double>> StockCoverReport::read_trailing(
    std::int64_t hour_start_ms) {
  return store_.read([&](db::Database& db) -> StatusOr<std::unordered_map<std::string, double>> {
    std::unordered_map<std::string, double> out;
    // The store's first ledger row (by the ts index: one step), so that a store open for
    // five days divides five days of sales by five, not by 28.
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<std::int64_t> first,
                              db.query_one<std::int64_t>("SELECT MIN(ts_ms) FROM ledger"));
    if (!first) return out;  // no history: no demand yet
    const std::int64_t from = hour_start_ms - kTrailingDays * kDayMs;
    const double days =
        std::clamp(static_cast<double>(hour_start_ms - std::max(from, *first)) / kDayMs, 1.0,
                   static_cast<double>(kTrailingDays));
    // One probe per SKU the store holds, each a range of the picks index (edge migration
    // 10): the cost follows the window's picks, not the whole history, and no temporary
    // table is built for the grouping.
    auto q = db.query(
        "SELECT t.sku, (SELECT SUM(-l.delta) FROM ledger l INDEXED BY ledger_picks "
        "WHERE l.sku = t.sku AND l.ts_ms >= ?1 AND l.ts_ms < ?2 AND l.reason = 'pick' AND "
        "l.delta < 0) FROM sku_totals t",
        from, hour_start_ms);
    while (const db::Statement* row = q.next()) {
      const std::int64_t picked = row->column_int64(1);  // NULL (no picks) reads as 0
      if (picked > 0) out[row->column_text(0)] = static_cast<double>(picked) / days;
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  });
}

StatusOr<std::vector<wire::StockCover>> StockCoverReport::report(std::int64_t now_ms) {
  const std::int64_t hour_start = now_ms - ((now_ms % kHourMs) + kHourMs) % kHourMs;
  shopeasy::sync::MutexLock lock(mu_);
  if (trailing_hour_ms_ != hour_start) {
    SHOPEASY_ASSIGN_OR_RETURN(trailing_, read_trailing(hour_start));
    trailing_hour_ms_ = hour_start;
  }
  SHOPEASY_ASSIGN_OR_RETURN(
      std::vector<SkuStockDemand> skus,
      store_.read([&](db::Database& db) -> StatusOr<std::vector<SkuStockDemand>> {
        std::vector<SkuStockDemand> out;
        // Units promised to orders are not for sale.
        auto q = db.query("SELECT sku, on_hand - reserved FROM sku_totals");
        while (const db::Statement* row = q.next()) {
          out.push_back({.sku = row->column_text(0),
                         .units = std::max<std::int64_t>(row->column_int64(1), 0),
                         .daily_demand = 0});
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      }));
  for (SkuStockDemand& s : skus) {
    std::optional<double> demand = cached_ ? cached_(s.sku, now_ms) : std::nullopt;
    if (!demand) {
      const auto it = trailing_.find(s.sku);
      demand = it == trailing_.end() ? 0.0 : it->second;
    }
    s.daily_demand = *demand;
  }
  return select_stock_cover(skus, thresholds_);
}

}  // namespace shopeasy::edge::replenish
