// What one store is told about its prices: whether dynamic pricing is on, the delivery
// fee its quotes carry now and why, the rules in force, the SKUs whose price there is
// not the base (as its quotes last served them, with the rule and reason), its lots
// marked down, and the model rows that override the defaults there.
//
// The edge shows it on the command center; the version (a fingerprint of everything but
// the time it was made) lets the edge wait for the next change instead of polling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/pricing/engine.hpp"
#include "cloud/pricing/price_model.hpp"
#include "cloud/pricing/rules.hpp"

namespace shopeasy::cloud::pricing {

// A SKU served at other than its base price at the store.
struct ServedPrice {
  std::string sku{};
  std::int64_t price_cents = 0;
  std::int64_t base_cents = 0;
  std::string rule{};
  std::string reason{};
  std::int64_t since_ms = 0;  // when a quote first served this price
};

// One of the store's lots at its markdown price.
struct LotMarkdown {
  std::string sku{};
  std::string lot{};
  std::int64_t expires_ms = 0;
  std::int64_t units = 0;
  std::int64_t price_cents = 0;
  std::int64_t base_cents = 0;
  std::int32_t off_bp = 0;
  std::string reason{};
};

struct StorePricing {
  std::string store_id{};
  std::int64_t generated_at_ms = 0;
  PricingConfig rules{};  // enabled is the kill switch
  SurgeDecision delivery_fee{};
  std::vector<ServedPrice> prices{};     // by SKU
  std::vector<LotMarkdown> markdowns{};  // soonest expiry first
  std::vector<PriceModel> overrides{};   // by SKU
  bool truncated = false;                // a list reached its cap
};

// The most entries of each list a view carries.
inline constexpr int kStoreViewMaxEntries = 5'000;

// {"store_id", "version", "generated_at_ms", "enabled", "delivery_fee": {...}, "rules",
//  "prices", "markdowns", "overrides", "truncated"}.
nlohmann::json store_pricing_json(const StorePricing& view);

// 16 lower-case hex digits over everything in the view except generated_at_ms and the
// fee's reason: equal views have equal versions on every instance.
std::string store_pricing_version(const StorePricing& view);

}  // namespace shopeasy::cloud::pricing
