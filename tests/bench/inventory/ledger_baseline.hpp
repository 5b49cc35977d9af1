// The ledger write baseline: what plain SQLite does for a receive scan when nothing
// stands between the caller and prepared statements. Per scan it writes exactly the
// rows the inventory module writes (stock and sku_totals upserts with RETURNING, one
// ledger row, one events row with the stock.changed body, one applied_scans row with
// the response), from one thread, in transactions of a fixed number of scans, with
// the store's connection settings (WAL, foreign keys, the same cache and sync mode).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/inventory/catalog_gen.hpp"

namespace shopeasy::bench {

struct BaselineSpec {
  // A database that already has the edge schema, the bins and the products.
  std::string path;
  bool durable = true;  // synchronous FULL (else NORMAL)
  std::size_t scans = 20000;
  std::size_t scans_per_transaction = 1;
  int cache_size_kib = 16 * 1024;
  std::uint64_t seed = 1;
  std::string scan_id_prefix = "raw";
};

struct BaselineResult {
  std::size_t scans = 0;
  std::size_t transactions = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(scans) / seconds : 0.0; }
};

// Writes `spec.scans` receive scans of random products of `catalog`. Errors from
// SQLite come back as kInternal/kUnavailable naming the statement.
StatusOr<BaselineResult> run_ledger_baseline(const BaselineSpec& spec,
                                             const std::vector<BenchProduct>& catalog);

}  // namespace shopeasy::bench
