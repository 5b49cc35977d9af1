#include "tests/bench/inventory/catalog_gen.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace shopeasy::bench {

std::string make_ean13(std::uint64_t serial) {
  char digits[32];
  // 890 is a real GS1 prefix; nine digits of item number follow.
  std::snprintf(digits, sizeof digits, "890%09llu", static_cast<unsigned long long>(serial));
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (digits[i] - '0') * (i % 2 == 0 ? 1 : 3);
  const int check = (10 - sum % 10) % 10;
  return std::string(digits, 12) + static_cast<char>('0' + check);
}

std::vector<std::string> make_bins(std::size_t count) {
  std::vector<std::string> bins;
  bins.reserve(count);
  char code[32];
  for (std::size_t i = 0; i < count; ++i) {
    std::snprintf(code, sizeof code, "B-%03zu", i);
    bins.emplace_back(code);
  }
  return bins;
}

std::vector<BenchProduct> make_catalog(std::size_t count, std::size_t bins) {
  static constexpr const char* kCategories[] = {
      "dairy",    "bakery", "produce", "frozen", "snacks", "beverages", "household",
      "personal", "baby",   "pets",    "meat",   "fish",   "pantry",    "breakfast",
      "sauces",   "spices", "sweets",  "health", "deli",   "eggs",      "stationery"};
  const std::vector<std::string> bin_codes = make_bins(bins);
  std::vector<BenchProduct> out;
  out.reserve(count);
  char buf[64];
  for (std::size_t i = 0; i < count; ++i) {
    BenchProduct p;
    std::snprintf(buf, sizeof buf, "SKU-%05zu", i);
    p.sku = buf;
    std::snprintf(buf, sizeof buf, "Product %05zu", i);
    p.name = buf;
    p.category = kCategories[i % std::size(kCategories)];
    p.ean13 = make_ean13(100000 + i);
    p.home_bin = bin_codes[i % bins];
    p.price_cents = static_cast<std::int64_t>(1000 + (i * 37) % 50000);
    p.reorder_point = static_cast<std::int64_t>(i % 7 == 0 ? 0 : 3 + i % 10);
    out.push_back(std::move(p));
  }
  return out;
}

std::string catalog_csv(const std::vector<BenchProduct>& products) {
  std::string csv = "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n";
  for (const auto& p : products) {
    csv += p.sku + ',' + p.name + ',' + p.category + ',' + std::to_string(p.price_cents) + ',' +
           p.ean13 + ',' + p.home_bin + ',' + std::to_string(p.reorder_point) + '\n';
  }
  return csv;
}

std::string bins_json(const std::vector<std::string>& bins) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < bins.size(); ++i) {
    list.push_back({{"code", bins[i]}, {"walk_order", i}, {"zone", "Z" + std::to_string(i / 25)}});
  }
  return nlohmann::json{{"bins", list}}.dump();
}

}  // namespace shopeasy::bench
