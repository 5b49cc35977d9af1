// Unit tests of RouteFollower, driven by a FakeClock.
#include "tools/runner/route.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace shopeasy::runner {
namespace {

using namespace std::chrono_literals;
using wire::RunnerEventType;
using wire::RunnerState;

constexpr wire::GeoPoint kStore{12.9700, 77.5900};

wire::Assignment two_stop_assignment() {
  wire::Assignment a;
  a.assignment_id = "asg-1";
  a.runner_id = "r1";
  a.store = kStore;
  // About 222 m north, then about 217 m east of that.
  a.stops.push_back({.order_id = "o-1", .lat = 12.9720, .lon = 77.5900, .promised_at_ms = 1});
  a.stops.push_back({.order_id = "o-2", .lat = 12.9720, .lon = 77.5920, .promised_at_ms = 1});
  a.issued_at_ms = 1;
  return a;
}

RouteFollower make_follower(const Clock& clock, std::chrono::milliseconds dwell = 0ms) {
  auto f = RouteFollower::create(
      {.runner_id = "r1", .home = kStore, .speed_mps = 10, .dwell = dwell}, clock);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return std::move(*f);
}

std::vector<RunnerEventType> types_of(const std::vector<wire::RunnerEvent>& events) {
  std::vector<RunnerEventType> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

TEST(RouteGeometry, DistanceAndHeading) {
  const wire::GeoPoint north{12.9720, 77.5900};
  const wire::GeoPoint east{12.9700, 77.5920};
  EXPECT_NEAR(distance_m(kStore, north), 222.4, 0.5);
  EXPECT_NEAR(distance_m(kStore, east), 216.7, 0.5);
  EXPECT_NEAR(heading_deg(kStore, north), 0, 1e-9);
  EXPECT_NEAR(heading_deg(kStore, east), 90, 0.01);
  EXPECT_NEAR(heading_deg(north, kStore), 180, 0.01);
  EXPECT_NEAR(heading_deg(east, kStore), 270, 0.01);
  EXPECT_EQ(heading_deg(kStore, kStore), 0);
}

TEST(RouteFollower, RejectsBadOptions) {
  FakeClock clock;
  EXPECT_EQ(RouteFollower::create({.runner_id = "", .home = kStore}, clock).status().field(),
            "runner_id");
  EXPECT_EQ(RouteFollower::create({.runner_id = "r", .home = {91, 0}}, clock).status().field(),
            "home.lat");
  EXPECT_EQ(RouteFollower::create({.runner_id = "r", .home = {0, 181}}, clock).status().field(),
            "home.lon");
  EXPECT_EQ(RouteFollower::create({.runner_id = "r", .home = kStore, .speed_mps = 0}, clock)
                .status()
                .field(),
            "speed_mps");
  EXPECT_EQ(RouteFollower::create({.runner_id = "r", .home = kStore, .speed_mps = 1, .dwell = -1ms},
                                  clock)
                .status()
                .field(),
            "dwell");
}

TEST(RouteFollower, IdleRunnerStaysPutAndReportsNothing) {
  FakeClock clock;
  auto f = make_follower(clock);
  clock.advance(60s);
  EXPECT_TRUE(f.advance().empty());
  const auto p = f.position();
  EXPECT_EQ(p.state, RunnerState::kIdle);
  EXPECT_DOUBLE_EQ(p.lat, kStore.lat);
  EXPECT_DOUBLE_EQ(p.lon, kStore.lon);
  EXPECT_EQ(p.speed_mps, 0);
  EXPECT_TRUE(f.idle());
}

TEST(RouteFollower, RidesTheRouteStepByStep) {
  FakeClock clock;
  auto f = make_follower(clock, 5s);
  ASSERT_TRUE(f.assign(two_stop_assignment()).is_ok());
  EXPECT_FALSE(f.idle());
  EXPECT_EQ(f.assignment_id(), "asg-1");
  // Busy runners refuse a second route.
  EXPECT_EQ(f.assign(two_stop_assignment()).code(), StatusCode::kFailedPrecondition);

  // Already at the store: leaving it picks up both orders.
  auto events = f.advance();
  ASSERT_EQ(types_of(events),
            (std::vector<RunnerEventType>{RunnerEventType::kPickedUp, RunnerEventType::kPickedUp}));
  EXPECT_EQ(events[0].order_id, "o-1");
  EXPECT_EQ(events[1].order_id, "o-2");
  EXPECT_EQ(events[0].runner_id, "r1");
  EXPECT_NE(events[0].event_id, events[1].event_id);
  EXPECT_EQ(f.position().state, RunnerState::kToCustomer);

  // 10 s at 10 m/s: 100 m of the 222 m north, heading north.
  clock.advance(10s);
  EXPECT_TRUE(f.advance().empty());
  auto p = f.position();
  EXPECT_EQ(p.state, RunnerState::kToCustomer);
  EXPECT_NEAR(distance_m(kStore, {p.lat, p.lon}), 100, 0.5);
  EXPECT_NEAR(p.heading_deg, 0, 0.01);
  EXPECT_DOUBLE_EQ(p.speed_mps, 10);

  // Past the first stop: arrived, then waiting out the dwell.
  clock.advance(13s);
  events = f.advance();
  ASSERT_EQ(types_of(events), (std::vector<RunnerEventType>{RunnerEventType::kArrivedCustomer}));
  EXPECT_EQ(events[0].order_id, "o-1");
  EXPECT_NEAR(*events[0].lat, 12.9720, 1e-9);
  p = f.position();
  EXPECT_EQ(p.state, RunnerState::kAtCustomer);
  EXPECT_EQ(p.speed_mps, 0);

  clock.advance(5s);
  events = f.advance();
  ASSERT_EQ(types_of(events), (std::vector<RunnerEventType>{RunnerEventType::kDelivered}));
  EXPECT_EQ(events[0].order_id, "o-1");
  p = f.position();
  EXPECT_EQ(p.state, RunnerState::kToCustomer);
  EXPECT_NEAR(p.heading_deg, 90, 0.01);
  const double before = distance_m({p.lat, p.lon}, {12.9720, 77.5920});

  clock.advance(5s);
  EXPECT_TRUE(f.advance().empty());
  p = f.position();
  EXPECT_LT(distance_m({p.lat, p.lon}, {12.9720, 77.5920}), before - 49);

  // Second stop: arrive, deliver after the dwell, then head home.
  clock.advance(25s);
  events = f.advance();
  ASSERT_EQ(types_of(events), (std::vector<RunnerEventType>{RunnerEventType::kArrivedCustomer,
                                                            RunnerEventType::kDelivered}));
  EXPECT_EQ(events[1].order_id, "o-2");
  p = f.position();
  EXPECT_EQ(p.state, RunnerState::kReturning);
  EXPECT_GT(p.heading_deg, 180);
  EXPECT_LT(p.heading_deg, 270);

  clock.advance(60s);
  events = f.advance();
  ASSERT_EQ(types_of(events), (std::vector<RunnerEventType>{RunnerEventType::kReturned}));
  EXPECT_FALSE(events[0].order_id.has_value());
  p = f.position();
  EXPECT_EQ(p.state, RunnerState::kIdle);
  EXPECT_DOUBLE_EQ(p.lat, kStore.lat);
  EXPECT_DOUBLE_EQ(p.lon, kStore.lon);
  EXPECT_TRUE(f.idle());
  EXPECT_TRUE(f.assignment_id().empty());
}

TEST(RouteFollower, OneLongStepPlaysTheWholeRouteInOrderWithValidEvents) {
  FakeClock clock;
  auto f = make_follower(clock);
  ASSERT_TRUE(f.assign(two_stop_assignment()).is_ok());
  const std::int64_t start_ms = to_unix_ms(clock.wall_now());
  clock.advance(1h);
  const auto events = f.advance();
  EXPECT_EQ(types_of(events), (std::vector<RunnerEventType>{
                                  RunnerEventType::kPickedUp, RunnerEventType::kPickedUp,
                                  RunnerEventType::kArrivedCustomer, RunnerEventType::kDelivered,
                                  RunnerEventType::kArrivedCustomer, RunnerEventType::kDelivered,
                                  RunnerEventType::kReturned}));
  std::int64_t previous = 0;
  for (const auto& e : events) {
    // Each carries the time it happened, not the time advance() ran.
    EXPECT_GE(e.ts_ms, previous);
    EXPECT_LT(e.ts_ms, start_ms + 3600 * 1000);
    previous = e.ts_ms;
    auto round_trip = wire::decode_runner_event(wire::encode(e));
    EXPECT_TRUE(round_trip.ok()) << round_trip.status().to_string();
  }
  // Delivered at the second stop: 222 m + 217 m at 10 m/s from the start.
  EXPECT_NEAR(static_cast<double>(events[5].ts_ms - start_ms), 43900, 200);
  EXPECT_TRUE(f.idle());
}

TEST(RouteFollower, RidesToAStoreElsewhereFirstAndIsDeterministic) {
  const auto run = [] {
    FakeClock clock(from_unix_ms(1'700'000'000'000));
    auto f = make_follower(clock);
    wire::Assignment a = two_stop_assignment();
    a.store = {12.9700, 77.5880};  // about 217 m west of where the runner waits
    EXPECT_TRUE(f.assign(a).is_ok());
    EXPECT_TRUE(f.advance().empty());
    EXPECT_EQ(f.position().state, RunnerState::kToStore);
    EXPECT_NEAR(f.position().heading_deg, 270, 0.01);
    std::vector<wire::RunnerEvent> all;
    for (int i = 0; i < 400; ++i) {
      clock.advance(500ms);
      for (auto& e : f.advance()) all.push_back(std::move(e));
    }
    // Home is now the assignment's store.
    EXPECT_NEAR(f.position().lon, 77.5880, 1e-9);
    return all;
  };
  const auto first = run();
  ASSERT_EQ(first.size(), 7u);
  EXPECT_EQ(first[0].type, RunnerEventType::kPickedUp);
  EXPECT_NEAR(*first[0].lon, 77.5880, 1e-9);
  EXPECT_EQ(first, run());
}

TEST(RouteFollower, RejectsAnEmptyRoute) {
  FakeClock clock;
  auto f = make_follower(clock);
  wire::Assignment a = two_stop_assignment();
  a.stops.clear();
  EXPECT_EQ(f.assign(a).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(f.idle());
}

}  // namespace
}  // namespace shopeasy::runner
