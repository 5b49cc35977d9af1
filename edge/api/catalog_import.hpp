// Turns a catalog upload (CSV or JSON) into product rows, each either a ProductInput
// or the error that names the row's bad field, so one bad row never hides the others.
//
// CSV: a header line naming columns (sku and name required; category, price_cents,
// unit, barcodes, home_bin, reorder_point optional, any order), RFC 4180 quoting,
// barcodes separated by '|'. JSON: {"products": [{...}, ...]} with the same keys
// (barcodes an array of strings).
#pragma once

#include <string_view>
#include <vector>

#include "common/status/status.hpp"
#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::api {

inline constexpr std::size_t kMaxCatalogRows = 50000;

// kInvalidArgument when the document as a whole is unusable (no header, missing
// required column, not JSON, too many rows); otherwise one entry per data row.
StatusOr<std::vector<StatusOr<inventory::ProductInput>>> parse_catalog_csv(std::string_view text);
StatusOr<std::vector<StatusOr<inventory::ProductInput>>> parse_catalog_json(std::string_view text);

}  // namespace shopeasy::edge::api
