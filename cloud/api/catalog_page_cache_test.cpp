#include "cloud/api/catalog_page_cache.hpp"

#include <gtest/gtest.h>

namespace shopeasy::cloud::api {
namespace {

using namespace std::chrono_literals;

CatalogPageCache::Page page(const std::string& items) { return {items, "null"}; }

TEST(CatalogPageCacheTest, ServesAPageUntilItExpires) {
  FakeClock clock;
  metrics::Registry metrics;
  CatalogPageCache cache(clock, {.ttl = 250ms, .max_pages = 100}, metrics);
  EXPECT_EQ(cache.find("s1", "", 20), nullptr);
  cache.put("s1", "", 20, page("[1]"));
  ASSERT_NE(cache.find("s1", "", 20), nullptr);
  EXPECT_EQ(cache.find("s1", "", 20)->items_json, "[1]");
  EXPECT_EQ(cache.find("s1", "", 21), nullptr);  // another limit is another page
  EXPECT_EQ(cache.find("s1", "A", 20), nullptr);
  clock.advance(249ms);
  EXPECT_NE(cache.find("s1", "", 20), nullptr);
  clock.advance(1ms);
  EXPECT_EQ(cache.find("s1", "", 20), nullptr);  // at most ttl old
  const std::string text = metrics.render();
  EXPECT_NE(text.find("cloud_catalog_page_cache_hits_total 3"), std::string::npos) << text;
}

TEST(CatalogPageCacheTest, AStoreChangeDropsOnlyThatStoresPages) {
  FakeClock clock;
  metrics::Registry metrics;
  CatalogPageCache cache(clock, {}, metrics);
  cache.put("s1", "", 20, page("[1]"));
  cache.put("s1", "SKU-9", 20, page("[2]"));
  cache.put("s2", "", 20, page("[3]"));
  cache.drop_store("s1");
  EXPECT_EQ(cache.find("s1", "", 20), nullptr);
  EXPECT_EQ(cache.find("s1", "SKU-9", 20), nullptr);
  EXPECT_NE(cache.find("s2", "", 20), nullptr);
  cache.drop_all();
  EXPECT_EQ(cache.find("s2", "", 20), nullptr);
}

TEST(CatalogPageCacheTest, StaysWithinItsSize) {
  FakeClock clock;
  metrics::Registry metrics;
  CatalogPageCache cache(clock, {.ttl = 10s, .max_pages = 3}, metrics);
  for (int i = 0; i < 10; ++i) cache.put("s1", "K" + std::to_string(i), 20, page("[]"));
  int held = 0;
  for (int i = 0; i < 10; ++i) held += cache.find("s1", "K" + std::to_string(i), 20) != nullptr;
  EXPECT_LE(held, 3);
  EXPECT_NE(cache.find("s1", "K9", 20), nullptr);  // the newest is kept
}

}  // namespace
}  // namespace shopeasy::cloud::api
