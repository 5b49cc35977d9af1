// The pricing rules, each a pure function of its inputs and the time it is asked at, so
// that a test (or the simulator) can replay any moment with a fake clock.
//   - surge: the delivery fee from a store's live load, in steps with hysteresis;
//   - markdown: a lot's price as its expiry nears;
//   - competitor: the median of fresh competitor prices, beaten by a few cents, kept in
//     a band around it;
//   - inventory: a SKU's stock against its forecast demand (cover in days): overstocked,
//     a discount; scarce, no promotion.
// None of them sees who is asking: a price depends on the store, the SKU and time only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::cloud::pricing {

// ---- surge delivery fee ----------------------------------------------------------------

struct SurgeStep {
  double orders_per_runner = 0;  // reached at this many open orders per available runner
  std::int64_t pick_queue = 0;   // ... or at this many orders waiting to be picked (0: unused)
  std::int64_t fee_cents = 0;    // the delivery fee at this step
};

struct SurgeConfig {
  std::int64_t base_fee_cents = 2'500;
  std::vector<SurgeStep> steps{{1.5, 12, 3'500}, {2.5, 25, 4'900}, {4.0, 40, 6'900}};
  // A step, once reached, holds until the load falls this far below what reached it, so
  // a load wobbling on a boundary does not flip the fee on every quote.
  std::int32_t hysteresis_bp = 2'000;
  // A load signal older than this is treated as absent: the base fee applies.
  std::int64_t max_signal_age_ms = 60'000;
};

// What the store last said about its load, stamped when the cloud received it.
struct LoadSignal {
  std::int64_t open_orders = 0;
  std::int64_t available_runners = 0;
  std::int64_t pick_queue = 0;
  std::int64_t at_ms = 0;
};

// An operator's (or a weather feed's) flag: raise the surge one step until `until_ms`.
struct WeatherFlag {
  bool bad_weather = false;
  std::int64_t until_ms = 0;
};

struct SurgeDecision {
  int step = 0;  // 0: base fee; k: steps[k-1]
  std::int64_t fee_cents = 0;
  bool stale_signal = false;  // a signal was there but too old (the caller logs it)
  std::string reason{};
};

// The fee at now_ms. `previous_step` is the step this store was at (for hysteresis);
// `signal` null when the store never sent one.
SurgeDecision evaluate_surge(const SurgeConfig& config, const LoadSignal* signal,
                             const WeatherFlag& weather, int previous_step, std::int64_t now_ms);

// ---- near-expiry markdowns -------------------------------------------------------------

struct MarkdownTier {
  std::int64_t within_ms = 0;  // applies when the lot expires within this long
  std::int32_t off_bp = 0;     // discount off the base price
};

struct MarkdownConfig {
  bool enabled = true;
  // Default: 20% off two days out, 40% on the last day.
  std::vector<MarkdownTier> tiers{{2 * 86'400'000LL, 2'000}, {86'400'000LL, 4'000}};
};

struct Lot {
  std::string lot_id{};
  std::string sku{};
  std::int64_t expires_ms = 0;
  std::int64_t units = 0;
};

// The deepest tier the lot is in at now_ms, or nullopt (not near expiry, already expired,
// or markdowns off). The discount is off `base_cents`; the caller clamps to the floor.
std::optional<MarkdownTier> markdown_tier(const MarkdownConfig& config, const Lot& lot,
                                          std::int64_t now_ms);

// ---- competitor prices -----------------------------------------------------------------

struct CompetitorPrice {
  std::string sku{};
  std::string competitor{};
  std::int64_t price_cents = 0;
  std::int64_t observed_at_ms = 0;
  std::string row{};  // where it came from in the upload ("line 4", "rows[3]"), for errors
};

struct CompetitorConfig {
  bool enabled = true;
  std::int64_t beat_by_cents = 100;  // undercut the median by this much
  std::int32_t band_bp = 1'000;      // and stay within this band around the median
  std::int64_t max_age_ms = 86'400'000;
};

// The price the competitor rule asks for given the SKU's base, or nullopt when no fresh
// observation exists. It only ever lowers: a base already under the target stays.
std::optional<std::int64_t> competitor_target(const CompetitorConfig& config,
                                              std::int64_t base_cents,
                                              const std::vector<CompetitorPrice>& observations,
                                              std::int64_t now_ms);

// Parses an uploaded feed. CSV: a header naming the columns sku, price (in rupees, e.g.
// 45.50) and optionally competitor and observed_at_ms; JSON: an array (or {"rows": [...]})
// of objects with the same keys, "price" a number. Every row is checked before any is
// returned: a blank, zero, negative, non-numeric or non-finite price, a price above
// kMaxPriceCents, a bad SKU or a time more than five minutes ahead of now_ms is refused
// with the row named ("line 4: price is blank"), and nothing is imported.
StatusOr<std::vector<CompetitorPrice>> parse_competitor_csv(const std::string& text,
                                                            std::int64_t now_ms);
StatusOr<std::vector<CompetitorPrice>> parse_competitor_json(const nlohmann::json& j,
                                                             std::int64_t now_ms);

// ---- inventory cover -------------------------------------------------------------------

struct InventoryConfig {
  bool enabled = true;
  // At or beyond this many days of cover the SKU is overstocked and asks for
  // overstock_off_bp off its base (0..9,000).
  double overstock_days = 21;
  std::int32_t overstock_off_bp = 1'000;
  // At or under this many days of cover the SKU is scarce: no promotion lowers it
  // (0 < scarce_days < overstock_days).
  double scarce_days = 2;
};

// What the store last said about a SKU's stock against its demand.
struct SkuCover {
  std::int64_t units = 0;     // sellable on hand
  double daily_demand = 0.0;  // the store's forecast mean units per day
};

enum class CoverState { kNormal, kOverstock, kScarce };

struct CoverVerdict {
  CoverState state = CoverState::kNormal;
  // units / daily_demand; +infinity for units with no demand (0 when there is neither).
  double days = 0;
};

// Which side of the thresholds the SKU's cover is on. Normal when the rule is off, when
// the store has neither units nor demand (nothing to judge), or when the figures are not
// usable (negative or not finite): a bad report never moves a price.
CoverVerdict classify_cover(const InventoryConfig& config, const SkuCover& cover);

// "12.5 days" or "unbounded (no demand)", for a decision's reason.
std::string describe_cover_days(double days);

}  // namespace shopeasy::cloud::pricing
