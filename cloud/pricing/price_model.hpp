// The price model of one SKU: what the cloud may charge for it and the bounds no rule
// may cross. All money is in integer cents; rates are basis points (1% = 100 bp) so that
// the bounds are exact and the same on every instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::cloud::pricing {

// The largest price (or fee) the model accepts: ten million rupees in paise. Anything
// above is a typo or a unit mix-up, refused at the door.
inline constexpr std::int64_t kMaxPriceCents = 1'000'000'000;

// One row of the model: the SKU's defaults (store_id empty) or one store's override.
struct PriceModel {
  std::string sku{};
  std::string store_id{};                    // empty: every store without an override
  std::int64_t base_cents = 0;               // the list price; what is served when no rule applies
  std::int64_t mrp_cents = 0;                // the legal maximum retail price: never exceeded
  std::optional<std::int64_t> cost_cents{};  // landed cost; absent: no floor, no repricing
  std::int32_t min_margin_bp = 0;            // the least margin over cost a rule may leave

  friend bool operator==(const PriceModel&, const PriceModel&) = default;
};

// The lowest price a rule may set: cost plus the minimum margin, rounded up to a cent.
// nullopt when the model has no cost (default-deny: such a SKU keeps its base price).
std::optional<std::int64_t> floor_cents(const PriceModel& m);

// Checks one row: a valid SKU and store id, 0 < base <= MRP <= kMaxPriceCents, a cost
// (when present) above zero, a margin of 0..10000 bp, and a floor not above the MRP.
// kInvalidArgument naming the field otherwise.
Status validate(const PriceModel& m);

// Reads a row from JSON ({"base_cents", "mrp_cents", "cost_cents"?, "min_margin_bp"?});
// the SKU and store come from the path. A null or blank cost is refused (it would read as
// a zero floor); leaving the field out is how a SKU without a floor is written.
StatusOr<PriceModel> model_from_json(const nlohmann::json& j, const std::string& sku,
                                     const std::string& store_id);
nlohmann::json model_to_json(const PriceModel& m);

// The row that applies at `store_id`: its override if there is one, else the defaults.
// nullopt when neither exists.
std::optional<PriceModel> resolve(const std::vector<PriceModel>& rows, const std::string& store_id);

// Ids of SKUs and stores: 1..64 of [A-Za-z0-9_.-].
bool is_valid_id(const std::string& id);

}  // namespace shopeasy::cloud::pricing
