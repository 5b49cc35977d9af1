#include "cloud/routing/store_index.hpp"

#include <gtest/gtest.h>

#include <random>

namespace shopeasy::cloud::routing {
namespace {

IndexedStore store(std::string id, double lat, double lon, double radius, std::int64_t seen = 0) {
  return IndexedStore{std::move(id), "", {lat, lon}, radius, nlohmann::json::object(), seen, true};
}

TEST(StoreIndexTest, FindsStoresWhoseCircleHoldsThePointNearestFirst) {
  StoreIndex index;
  ASSERT_TRUE(index
                  .rebuild({store("near", 12.9719, 77.6412, 3000, 1000),
                            store("far", 12.9352, 77.6245, 5000, 0),
                            store("other-city", 19.07, 72.87, 3000)})
                  .is_ok());
  auto s = index.serving({12.9700, 77.6400}, 2000, 5000);
  ASSERT_EQ(s.candidates.size(), 2u);
  EXPECT_EQ(s.candidates[0].store->id, "near");
  EXPECT_TRUE(s.candidates[0].online);
  EXPECT_EQ(s.candidates[1].store->id, "far");
  EXPECT_FALSE(s.candidates[1].online);
  EXPECT_TRUE(index.serving({0, 0}, 0, 0).candidates.empty());
}

// The index must agree with checking every store, including across the antimeridian and
// right at the edge of a service circle.
TEST(StoreIndexTest, AgreesWithBruteForce) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> lat(-60, 60), jitter(-0.05, 0.05), radius(500, 8000);
  std::vector<IndexedStore> stores;
  for (int i = 0; i < 300; ++i) {
    double lo = i % 10 == 0 ? 179.99 : (i % 10 == 1 ? -179.99 : lat(rng) * 3);
    stores.push_back(store("s" + std::to_string(i), lat(rng), lo, radius(rng)));
  }
  StoreIndex index;
  ASSERT_TRUE(index.rebuild(stores).is_ok());
  for (int q = 0; q < 5000; ++q) {
    const auto& anchor = stores[q % stores.size()];
    geohash::LatLon p{std::clamp(anchor.location.lat + jitter(rng), -90.0, 90.0),
                      anchor.location.lon + jitter(rng)};
    if (p.lon > 180) p.lon -= 360;
    if (p.lon < -180) p.lon += 360;
    std::set<std::string> expected;
    for (const auto& s : stores) {
      if (geohash::haversine_m(p, s.location) <= s.service_radius_m) expected.insert(s.id);
    }
    std::set<std::string> got;
    for (const auto& c : index.serving(p, 0, 0).candidates) got.insert(c.store->id);
    ASSERT_EQ(got, expected) << p.lat << "," << p.lon;
  }
}

TEST(OpeningHoursTest, HandlesMidnightAndOffsets) {
  const std::int64_t noon_utc = 1767268800000;  // 2026-01-01T12:00Z
  EXPECT_TRUE(is_open(nlohmann::json::object(), noon_utc));
  EXPECT_TRUE(is_open({{"open", "09:00"}, {"close", "23:00"}}, noon_utc));
  EXPECT_FALSE(is_open({{"open", "13:00"}, {"close", "23:00"}}, noon_utc));
  // 12:00 UTC is 17:30 in India (+330 min).
  EXPECT_FALSE(is_open({{"open", "06:00"}, {"close", "17:00"}, {"tz_offset_min", 330}}, noon_utc));
  EXPECT_TRUE(is_open({{"open", "22:00"}, {"close", "02:00"}}, noon_utc - 12 * 3600000LL));
}

TEST(StoreIndexTest, RefusesUnindexableRadius) {
  StoreIndex index;
  EXPECT_FALSE(index.rebuild({store("huge", 0, 0, 100000)}).is_ok());
}

}  // namespace
}  // namespace shopeasy::cloud::routing
