// Router: ranking by estimated delivery time, eligibility filters, deterministic ties and
// bad options or input.
#include "cloud/routing/router.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

namespace shopeasy::cloud::routing {
namespace {

constexpr std::int64_t kNow = 1767268800000;  // 2026-01-01T12:00Z

IndexedStore store(std::string id, double lat, double lon, double radius,
                   std::int64_t seen = kNow - 1000) {
  return IndexedStore{std::move(id), "", {lat, lon}, radius, nlohmann::json::object(), seen, true};
}

std::vector<std::string> ids(const std::vector<RankedStore>& ranked) {
  std::vector<std::string> out;
  for (const auto& r : ranked) out.push_back(r.store_id);
  return out;
}

// Koramangala, Bangalore; stores about 0.3, 1.1 and 2.2 km away.
constexpr geohash::LatLon kCustomer{12.9352, 77.6245};

void load_three_stores(StoreIndex& index) {
  ASSERT_TRUE(
      index
          .rebuild({store("near", 12.9379, 77.6245, 3000), store("mid", 12.9451, 77.6245, 3000),
                    store("far", 12.9550, 77.6245, 3000)})
          .is_ok());
}

TEST(RouterTest, RanksByEstimatedDeliveryTimeWithQueueAndPickAndRide) {
  StoreIndex index;
  load_three_stores(index);
  RouteOptions options;
  auto ranked = rank(index, kCustomer, kNow, 2, nullptr, nullptr, options);
  ASSERT_EQ(ids(ranked), (std::vector<std::string>{"near", "mid", "far"}));
  // near: 300 m * 1.4 / 5.5 m/s = 77 s ride, 60 + 2 * 10 s pick, no queue.
  EXPECT_NEAR(ranked[0].distance_m, 300.2, 0.5);
  EXPECT_EQ(ranked[0].eta_s,
            60 + 20 + static_cast<std::int64_t>(std::ceil(ranked[0].distance_m * 1.4 / 5.5)));

  // A long queue at the nearest store sends the order to the next one.
  std::map<std::string, std::int64_t> queues{{"near", 20}, {"mid", 0}, {"far", 1}};
  ranked = rank(
      index, kCustomer, kNow, 2, [&](const std::string& id) { return queues[id]; }, nullptr,
      options);
  ASSERT_EQ(ids(ranked), (std::vector<std::string>{"mid", "far", "near"}));
  EXPECT_EQ(ranked[2].eta_s, estimate_eta_s(ranked[2].distance_m, 20, 2, options));
  EXPECT_GE(ranked[2].eta_s, 900);
}

TEST(RouterTest, SkipsStoresWithoutStockClosedOfflineOrOutOfRange) {
  StoreIndex index;
  auto closed = store("closed", 12.9360, 77.6245, 3000);
  closed.opening_hours = {{"open", "13:00"}, {"close", "23:00"}};
  auto inactive = store("inactive", 12.9361, 77.6245, 3000);
  inactive.active = false;
  ASSERT_TRUE(index
                  .rebuild({store("ok", 12.9379, 77.6245, 3000), closed, inactive,
                            store("offline", 12.9362, 77.6245, 3000, kNow - 60000),
                            store("never-seen", 12.9363, 77.6245, 3000, 0),
                            store("no-stock", 12.9364, 77.6245, 3000),
                            store("too-far", 12.9700, 77.6245, 2000)})
                  .is_ok());
  int stock_calls = 0;
  auto ranked = rank(
      index, kCustomer, kNow, 1, nullptr,
      [&](const std::string& id) {
        ++stock_calls;
        return id != "no-stock";
      },
      RouteOptions{});
  EXPECT_EQ(ids(ranked), std::vector<std::string>{"ok"});
  EXPECT_EQ(stock_calls, 2);  // stock is asked only of otherwise eligible stores
  // A store heard from just now counts as online without a rebuild.
  index.touch("offline", kNow);
  EXPECT_EQ(ids(rank(index, kCustomer, kNow, 1, nullptr, nullptr, RouteOptions{})),
            (std::vector<std::string>{"offline", "no-stock", "ok"}));
  // Nowhere near any store.
  EXPECT_TRUE(rank(index, {48.85, 2.35}, kNow, 1, nullptr, nullptr, RouteOptions{}).empty());
}

TEST(RouterTest, TiesBreakByDistanceThenIdWhateverTheInputOrder) {
  // Same place, same queue: only the id can decide, and it must decide the same way
  // however the stores were loaded.
  std::vector<IndexedStore> stores{store("b", 12.9379, 77.6245, 3000),
                                   store("a", 12.9379, 77.6245, 3000),
                                   store("c", 12.9379, 77.6245, 3000)};
  for (int round = 0; round < 3; ++round) {
    std::rotate(stores.begin(), stores.begin() + 1, stores.end());
    StoreIndex index;
    ASSERT_TRUE(index.rebuild(stores).is_ok());
    EXPECT_EQ(ids(rank(index, kCustomer, kNow, 1, nullptr, nullptr, RouteOptions{})),
              (std::vector<std::string>{"a", "b", "c"}));
    auto serving = index.serving(kCustomer, kNow, 30000);
    ASSERT_EQ(serving.candidates.size(), 3u);
    EXPECT_EQ(serving.candidates[0].store->id, "a");
  }
  // Equal ETA, different distance: the nearer store first. 1 m more ride rounds to the
  // same whole second here.
  StoreIndex index;
  ASSERT_TRUE(index
                  .rebuild({store("a-farther", 12.93791, 77.6245, 3000),
                            store("z-nearer", 12.9379, 77.6245, 3000)})
                  .is_ok());
  auto ranked = rank(index, kCustomer, kNow, 1, nullptr, nullptr, RouteOptions{});
  ASSERT_EQ(ranked.size(), 2u);
  ASSERT_EQ(ranked[0].eta_s, ranked[1].eta_s);
  EXPECT_EQ(ids(ranked), (std::vector<std::string>{"z-nearer", "a-farther"}));
}

TEST(RouterTest, ValidateNamesTheBadOption) {
  EXPECT_TRUE(validate(RouteOptions{}).is_ok());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    RouteOptions options;
    std::string field;
  };
  std::vector<Case> cases;
  auto with = [](auto edit) {
    RouteOptions o;
    edit(o);
    return o;
  };
  cases.push_back({with([](RouteOptions& o) { o.detour_factor = 0.9; }), "detour_factor"});
  cases.push_back({with([&](RouteOptions& o) { o.detour_factor = nan; }), "detour_factor"});
  cases.push_back({with([](RouteOptions& o) { o.ride_speed_mps = 0; }), "ride_speed_mps"});
  cases.push_back({with([](RouteOptions& o) { o.ride_speed_mps = -3; }), "ride_speed_mps"});
  cases.push_back({with([&](RouteOptions& o) { o.ride_speed_mps = nan; }), "ride_speed_mps"});
  cases.push_back({with([](RouteOptions& o) { o.base_pick_s = -1; }), "base_pick_s"});
  cases.push_back({with([](RouteOptions& o) { o.pick_s_per_unit = 4000; }), "pick_s_per_unit"});
  cases.push_back({with([](RouteOptions& o) { o.per_queued_order_s = -5; }), "per_queued_order_s"});
  cases.push_back({with([](RouteOptions& o) { o.online_window_ms = 0; }), "online_window_ms"});
  for (const auto& c : cases) {
    const Status s = validate(c.options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(s.field(), c.field);
  }
}

TEST(RouterTest, BadInputRanksNothing) {
  StoreIndex index;
  load_three_stores(index);
  RouteOptions bad;
  bad.ride_speed_mps = 0;
  EXPECT_TRUE(rank(index, kCustomer, kNow, 1, nullptr, nullptr, bad).empty());
  EXPECT_TRUE(rank(index, kCustomer, kNow, -1, nullptr, nullptr, RouteOptions{}).empty());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(rank(index, {nan, 77.6}, kNow, 1, nullptr, nullptr, RouteOptions{}).empty());
  EXPECT_TRUE(rank(index, {12.9, 200.0}, kNow, 1, nullptr, nullptr, RouteOptions{}).empty());
  EXPECT_TRUE(rank(index, {95.0, 77.6}, kNow, 1, nullptr, nullptr, RouteOptions{}).empty());
  // Absurd queue and unit counts are clamped, not overflowed.
  auto ranked = rank(
      index, kCustomer, kNow, std::numeric_limits<std::int64_t>::max(),
      [](const std::string&) { return std::numeric_limits<std::int64_t>::max(); }, nullptr,
      RouteOptions{});
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_GT(ranked[0].eta_s, 0);
  EXPECT_EQ(ranked[0].store_id, "near");
  // A negative queue counts as none.
  auto negative = rank(
      index, kCustomer, kNow, 1, [](const std::string&) { return std::int64_t{-7}; }, nullptr,
      RouteOptions{});
  ASSERT_EQ(negative.size(), 3u);
  EXPECT_EQ(negative[0].eta_s, estimate_eta_s(negative[0].distance_m, 0, 1, RouteOptions{}));
}

}  // namespace
}  // namespace shopeasy::cloud::routing
