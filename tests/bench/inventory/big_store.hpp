// Fills an edge database (schema already created by the daemon) with a large store's
// history in one go, straight through SQLite: products with barcodes, several lots per
// product with expiry dates, a long ledger of receipts and picks in time order, and the
// stock, sku_totals and lots rows that are consistent with it (on-hand per (sku, bin,
// lot) equals the sum of the ledger's deltas; sku_totals sums them per SKU and its
// version counts the SKU's movements). Deterministic for a given seed. The daemon must
// not be running while it works.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/inventory/catalog_gen.hpp"

namespace shopeasy::bench {

struct BigStoreSpec {
  std::string db_path;
  std::vector<std::string> bins;  // every product's home bin must be among them
  std::size_t lots_per_sku = 5;
  std::size_t ledger_rows = 1'000'000;
  std::int64_t now_ms = 0;  // the ledger ends here and spans the 90 days before
  std::uint64_t seed = 1;
};

struct BigStoreSummary {
  std::size_t products = 0;
  std::size_t lots = 0;
  std::size_t ledger_rows = 0;
  std::size_t stock_rows = 0;
  double seconds = 0;
};

// Inserts the catalog and its history. kInvalidArgument for an empty catalog or no
// lots per SKU; SQLite failures as kInternal/kUnavailable.
StatusOr<BigStoreSummary> build_big_store(const BigStoreSpec& spec,
                                          const std::vector<BenchProduct>& catalog);

// "YYYY-MM-DD" of a Unix time in milliseconds (UTC).
std::string utc_date_of(std::int64_t unix_ms);

}  // namespace shopeasy::bench
