// The repricing engine: a SKU's price at one store from its model, the rules and the
// price in force an hour ago, with the guardrails applied last so that no rule can get
// round them: default-deny without a floor, the hourly change cap, the approval
// threshold, and the clamp to [floor, MRP]. Pure: same inputs, same price.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/pricing/price_model.hpp"
#include "cloud/pricing/rules.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::pricing {

struct PricingConfig {
  // The kill switch: false serves every base price and the base delivery fee.
  bool enabled = true;
  // A SKU's price moves at most this much against its price an hour earlier.
  std::int32_t max_change_per_hour_bp = 800;
  // A price further than this from the base is held for a manager's approval; the SKU
  // keeps its current price meanwhile.
  std::int32_t approval_threshold_bp = 2'500;
  // How long a quote holds its total.
  std::int64_t quote_ttl_ms = 10 * 60'000;
  SurgeConfig surge{};
  MarkdownConfig markdown{};
  CompetitorConfig competitor{};
  InventoryConfig inventory{};
};

// Reads a full configuration document; fields left out keep their defaults. Errors name
// the field ("surge.steps[1].fee_cents").
StatusOr<PricingConfig> config_from_json(const nlohmann::json& j);
nlohmann::json config_to_json(const PricingConfig& c);

// What the engine knows about a SKU at a store besides its model.
struct SkuInputs {
  std::vector<CompetitorPrice> competitor{};
  // The price in force an hour before now (the anchor of the change cap); nullopt: base.
  std::optional<std::int64_t> hour_ago_cents{};
  // The store's stock against its demand, when it reported the SKU as overstocked or
  // scarce (and the report is fresh); nullopt: the inventory rule has nothing to say.
  std::optional<SkuCover> cover{};
};

struct PriceDecision {
  std::int64_t price_cents = 0;     // what is served now
  std::int64_t proposed_cents = 0;  // what the rules asked for, after the guardrails
  // "base", "kill_switch", "no_floor", "competitor", "overstock", "scarce"
  std::string rule{};
  std::string reason{};
  bool capped = false;            // the hourly cap limited the move
  bool pending_approval = false;  // proposed_cents waits for a manager; price_cents is the base
};

// The rules ask for a price, the guardrails (floor, hourly cap, approval, clamp) then
// apply to it. Competitor and overstock both lower the price: the lower of the two
// wins. A scarce SKU is not promoted: the competitor undercut is skipped and it asks
// for its base.
PriceDecision price_sku(const PricingConfig& config, const PriceModel& model,
                        const SkuInputs& inputs, std::int64_t now_ms);

// A lot's price: its markdown tier off the base, floored. nullopt when the lot is not
// marked down (no tier, no floor, or pricing off).
struct LotPrice {
  std::int64_t price_cents = 0;
  std::int32_t off_bp = 0;
  std::string reason{};
};
std::optional<LotPrice> price_lot(const PricingConfig& config, const PriceModel& model,
                                  const Lot& lot, std::int64_t now_ms);

// Checks an imported feed against the models: a price under a tenth of the SKU's base or
// over ten times its MRP is refused as absurd, naming the row. Rows of SKUs without a
// model are kept (they may be priced later).
Status check_feed(const std::vector<CompetitorPrice>& rows, const std::vector<PriceModel>& models);

}  // namespace shopeasy::cloud::pricing
