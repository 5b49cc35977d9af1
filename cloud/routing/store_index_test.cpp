#include "cloud/routing/store_index.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

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

std::set<std::string> brute_force(const std::map<std::string, IndexedStore>& stores,
                                  geohash::LatLon p) {
  std::set<std::string> out;
  for (const auto& [id, s] : stores) {
    if (s.active && geohash::haversine_m(p, s.location) <= s.service_radius_m) out.insert(id);
  }
  return out;
}

// Stores added, moved, resized, deactivated and removed one at a time leave the index
// answering exactly as a search over every store does, with no trace of old circles.
TEST(StoreIndexTest, IncrementalChangesAgreeWithBruteForce) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> lat(12.8, 13.1), lon(77.5, 77.8), radius(500, 4000),
      pole_lat(89.9, 90.0);
  std::uniform_int_distribution<int> pick(0, 59), action(0, 9);
  std::map<std::string, IndexedStore> truth;
  StoreIndex index;
  for (int step = 0; step < 600; ++step) {
    const std::string id = "s" + std::to_string(pick(rng));
    const int a = action(rng);
    if (a == 0) {
      EXPECT_EQ(index.remove(id), truth.erase(id) == 1);
    } else {
      IndexedStore s = store(id, a == 1 ? pole_lat(rng) : lat(rng), lon(rng), radius(rng));
      s.active = a != 2;
      ASSERT_TRUE(index.upsert(s).is_ok());
      truth[id] = s;
    }
    ASSERT_EQ(index.size(), truth.size());
    for (int q = 0; q < 20; ++q) {
      geohash::LatLon p{lat(rng), lon(rng)};
      if (q == 0) p = {pole_lat(rng), lon(rng)};
      std::set<std::string> got;
      for (const auto& c : index.serving(p, 0, 0).candidates) got.insert(c.store->id);
      ASSERT_EQ(got, brute_force(truth, p)) << "step " << step;
    }
  }
}

TEST(StoreIndexTest, ReconcileAppliesOnlyTheDifferences) {
  StoreIndex index;
  ASSERT_TRUE(index
                  .rebuild({store("a", 12.97, 77.64, 3000), store("b", 12.93, 77.62, 3000),
                            store("c", 12.90, 77.60, 3000)})
                  .is_ok());
  // a unchanged but heard from, b moved, c gone, d new.
  auto r = index.reconcile({store("a", 12.97, 77.64, 3000, 5000), store("b", 12.95, 77.62, 3000),
                            store("d", 12.99, 77.70, 2000)});
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.updated, 1u);
  EXPECT_EQ(r.removed, 1u);
  EXPECT_TRUE(r.refused.empty());
  EXPECT_EQ(index.size(), 3u);
  auto near_a = index.serving({12.97, 77.64}, 6000, 5000);
  ASSERT_FALSE(near_a.candidates.empty());
  EXPECT_EQ(near_a.candidates[0].store->id, "a");
  EXPECT_TRUE(near_a.candidates[0].online);  // the newer last_seen_ms was recorded
  EXPECT_TRUE(index.serving({12.90, 77.60}, 0, 0).candidates.empty());  // c's circle is gone
  // The same list again changes nothing.
  auto again = index.reconcile({store("a", 12.97, 77.64, 3000, 5000),
                                store("b", 12.95, 77.62, 3000), store("d", 12.99, 77.70, 2000)});
  EXPECT_EQ(again.added + again.updated + again.removed, 0u);
}

TEST(StoreIndexTest, ABadEditRemovesTheOldCircleAndIsReported) {
  StoreIndex index;
  ASSERT_TRUE(
      index.rebuild({store("a", 12.97, 77.64, 3000), store("b", 12.93, 77.62, 3000)}).is_ok());
  auto r = index.reconcile({store("a", 12.97, 77.64, 90000), store("b", 12.93, 77.62, 3000)});
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_EQ(r.refused[0].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.refused[0].field(), "service_radius_m");
  for (const auto& c : index.serving({12.97, 77.64}, 0, 0).candidates) {
    EXPECT_NE(c.store->id, "a");
  }
  // Reported once: the same list again is not a change.
  auto again = index.reconcile({store("a", 12.97, 77.64, 90000), store("b", 12.93, 77.62, 3000)});
  EXPECT_TRUE(again.refused.empty());
  EXPECT_EQ(again.added + again.updated + again.removed, 0u);
}

// A Serving keeps the entries it points into alive while the index changes under it
// (the sanitizer build checks the reads).
TEST(StoreIndexTest, ServingOutlivesRemovalOfItsStores) {
  StoreIndex index;
  ASSERT_TRUE(index.upsert(store("a", 12.97, 77.64, 3000)).is_ok());
  Serving s = index.serving({12.97, 77.64}, 0, 0);
  ASSERT_EQ(s.candidates.size(), 1u);
  EXPECT_TRUE(index.remove("a"));
  ASSERT_TRUE(index.upsert(store("a", 19.07, 72.87, 1000)).is_ok());
  EXPECT_EQ(s.candidates[0].store->id, "a");
  EXPECT_DOUBLE_EQ(s.candidates[0].store->service_radius_m, 3000);
}

}  // namespace
}  // namespace shopeasy::cloud::routing
