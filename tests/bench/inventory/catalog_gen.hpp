// The benchmark's synthetic store: a deterministic catalog of products with valid
// EAN-13 barcodes and home bins, in the forms the daemon takes it (CSV for
// POST /api/catalog, JSON for POST /api/bins) and as plain rows for direct inserts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shopeasy::bench {

struct BenchProduct {
  std::string sku;       // "SKU-00042"
  std::string name;      // "Product 00042"
  std::string category;  // one of a few dozen
  std::string ean13;     // 13 digits, valid check digit
  std::string home_bin;  // "B-007"
  std::int64_t price_cents = 0;
  std::int64_t reorder_point = 0;
};

// EAN-13 number `serial` under a fixed GS1 prefix, with its check digit. serial must
// be below 10^9.
std::string make_ean13(std::uint64_t serial);

// Bin codes "B-000" .. for `count` bins.
std::vector<std::string> make_bins(std::size_t count);

// `count` products spread over `bins` home bins; the same arguments always give the
// same products. bins must be non-zero.
std::vector<BenchProduct> make_catalog(std::size_t count, std::size_t bins);

// The catalog as the CSV POST /api/catalog takes (header sku,name,category,...).
std::string catalog_csv(const std::vector<BenchProduct>& products);

// {"bins":[{"code":..,"walk_order":..}, ...]} for POST /api/bins.
std::string bins_json(const std::vector<std::string>& bins);

}  // namespace shopeasy::bench
