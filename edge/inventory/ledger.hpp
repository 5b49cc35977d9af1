// The ledger's building blocks, used inside write functions by every workflow
// (scans, edits, counts, reservations). Internal to the inventory module.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "common/status/status.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::inventory::detail {

inline constexpr std::int64_t kNoLot = 0;

struct Movement {
  std::string sku;
  std::string bin;
  std::int64_t lot_id = kNoLot;
  std::int64_t delta = 0;           // on-hand change
  std::int64_t reserved_delta = 0;  // reserved change
  std::string reason;               // a wire::StockReason name
  std::optional<std::string> ref;   // order, scan or count id
  std::optional<std::string> note;  // free text from the person
};

// Appends the movement to the ledger, applies it to stock and sku_totals, and emits
// stock.changed. kFailedPrecondition if on-hand would go negative or below what is
// reserved. Returns the movement as applied, with its event's seq.
StatusOr<StockMovement> apply_movement(store::WriteContext& ctx, const std::string& store_id,
                                       const Actor& actor, const Movement& m);

// A part of a SKU's stock in one bin and lot.
struct Slice {
  std::string bin;
  std::int64_t lot_id = kNoLot;
  std::string lot_code;
  std::optional<std::string> expiry;
  std::int64_t qty = 0;
};

// Splits `qty` over the SKU's unreserved stock, earliest expiry first (lots without
// expiry last), then by the bins' walk order. Restricted to `bin` and/or `lot_id` when
// given. kFailedPrecondition naming available and asked when there is not enough.
StatusOr<std::vector<Slice>> plan_fefo(db::Database& db, const std::string& sku, std::int64_t qty,
                                       const std::optional<std::string>& bin,
                                       const std::optional<std::int64_t>& lot_id);

// The lot id for (sku, lot code, expiry), creating it if `create`. A lot code that
// exists with another expiry is kConflict. No code and no expiry is kNoLot; an expiry
// without a code gets the code "exp:<date>".
StatusOr<std::int64_t> lot_id_for(db::Database& db, const std::string& sku,
                                  const std::optional<std::string>& lot_code,
                                  const std::optional<std::string>& expiry, bool create);

// kInvalidArgument (field `field`) unless the bin exists.
Status require_bin(db::Database& db, const std::string& bin, const std::string& field);

struct ProductRef {
  std::string sku;
  std::string name;
  std::optional<std::string> home_bin;
};
// The product of a SKU; kNotFound if there is none.
StatusOr<ProductRef> product_by_sku(db::Database& db, const std::string& sku);
// The product whose barcode is this GTIN-14; kNotFound naming the code otherwise.
StatusOr<ProductRef> product_by_gtin(db::Database& db, const std::string& gtin14);

}  // namespace shopeasy::edge::inventory::detail
