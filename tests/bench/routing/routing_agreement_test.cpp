// The geohash index against a search over every store: the same stores, distances,
// flags and ranking for points chosen where cell-based lookups break (cell edges,
// circle boundaries, poles, antimeridian).
#include <gtest/gtest.h>

#include "tests/bench/routing/routing_scenario.hpp"

namespace shopeasy::bench::routing {
namespace {

std::vector<IndexedStore> scenario_stores() {
  auto stores = city_stores(2000, 11);
  auto edge = edge_case_stores(12);
  stores.insert(stores.end(), edge.begin(), edge.end());
  return stores;
}

TEST(RoutingAgreementTest, IndexAgreesWithBruteForceOnManyPoints) {
  const auto stores = scenario_stores();
  cloud::routing::StoreIndex index;
  ASSERT_TRUE(index.rebuild(stores).is_ok());
  const Agreement a = check_agreement(index, stores, 100'000, 2024);
  for (const auto& e : a.examples) ADD_FAILURE() << e;
  EXPECT_EQ(a.serving_disagreements, 0u);
  EXPECT_EQ(a.rank_disagreements, 0u);
  // The sample must actually exercise every kind of point and find stores often.
  for (std::size_t k = 0; k < a.points_by_kind.size(); ++k) {
    EXPECT_GT(a.points_by_kind[k], 1000u) << kind_name(static_cast<PointKind>(k));
  }
  EXPECT_GT(a.points_served, a.points / 2);
}

TEST(RoutingAgreementTest, StoreServesAcrossTheAntimeridian) {
  cloud::routing::StoreIndex index;
  IndexedStore east;
  east.id = "east";
  east.location = {-16.83, 179.99};
  east.service_radius_m = 3000;
  east.last_seen_ms = kScenarioNowMs;
  IndexedStore west = east;
  west.id = "west";
  west.location = {-16.83, -179.99};
  ASSERT_TRUE(index.rebuild({east, west}).is_ok());
  // 0.02 degrees of longitude apart, about 2.1 km: each serves the other's doorstep.
  for (geohash::LatLon p : {geohash::LatLon{-16.83, -179.99}, geohash::LatLon{-16.83, 179.99},
                            geohash::LatLon{-16.83, 180.0}, geohash::LatLon{-16.83, -180.0}}) {
    auto s = index.serving(p, kScenarioNowMs, kOnlineWindowMs);
    ASSERT_EQ(s.candidates.size(), 2u) << p.lon;
  }
  auto r = cloud::routing::rank(index, {-16.83, -179.991}, kScenarioNowMs, 1, nullptr, nullptr,
                                cloud::routing::RouteOptions{});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].store_id, "west");
  EXPECT_EQ(r[1].store_id, "east");
}

TEST(RoutingAgreementTest, StoresNearThePoleAreIndexedAndServeAcrossIt) {
  IndexedStore s;
  s.id = "north";
  s.location = {89.99, 10.0};
  s.service_radius_m = 3000;
  s.last_seen_ms = kScenarioNowMs;
  IndexedStore pole = s;
  pole.id = "pole";
  pole.location = {90.0, 0.0};
  pole.service_radius_m = 1000;
  cloud::routing::StoreIndex index;
  ASSERT_TRUE(index.rebuild({s, pole}).is_ok());
  // Across the pole: 0.01 + 0.005 degrees of arc, about 1.7 km from "north".
  auto far_side = index.serving({89.995, -170.0}, kScenarioNowMs, kOnlineWindowMs);
  ASSERT_EQ(far_side.candidates.size(), 2u);
  EXPECT_EQ(far_side.candidates[0].store->id, "pole");
  EXPECT_EQ(index.serving({90.0, 123.0}, kScenarioNowMs, kOnlineWindowMs).candidates.size(), 2u);
  EXPECT_TRUE(index.serving({89.9, 10.0}, kScenarioNowMs, kOnlineWindowMs).candidates.empty());
}

}  // namespace
}  // namespace shopeasy::bench::routing
