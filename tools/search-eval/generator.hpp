// A seeded grocery catalog and labelled queries for evaluating product search.
//
// Products are "{Brand} {Variant} {Base} {Size}" drawn from per-category tables (the
// same seed gives the same catalog). Each query pins the attributes it names (brand,
// variant, base product, size); the products relevant to it are those sharing every
// pinned attribute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cloud/storage/cloud_store.hpp"

namespace shopeasy::tools::search_eval {

struct Product {
  cloud::storage::CatalogItem item;
  int brand = 0;
  int variant = 0;
  int base = 0;
  int size = 0;  // index into the base's unit kind's sizes
};

enum class QueryClass { kExact, kPrefix, kOneTypo, kTwoTypo, kHinglish, kUnits, kBrands };
inline constexpr int kQueryClasses = 7;
const char* class_name(QueryClass c);

struct LabelledQuery {
  QueryClass cls = QueryClass::kExact;
  std::string text;
  // Pinned attributes (-1: not named by the query).
  int brand = -1, variant = -1, base = -1, size = -1;
  bool relevant(const Product& p) const {
    return (brand < 0 || p.brand == brand) && (variant < 0 || p.variant == variant) &&
           (base < 0 || p.base == base) && (size < 0 || p.size == size);
  }
};

// With noise_words > 0, each name also carries one made-up product-line word (a
// pronounceable 5..9 letters) from a pool of that many, after the brand: a catalog
// with a realistic vocabulary, full of near neighbours for typo matching.
std::vector<Product> generate_catalog(std::uint64_t seed, std::size_t count,
                                      std::size_t noise_words = 0);
// `per_class` queries of every class about products of `catalog`.
std::vector<LabelledQuery> generate_queries(std::uint64_t seed, const std::vector<Product>& catalog,
                                            std::size_t per_class);

}  // namespace shopeasy::tools::search_eval
