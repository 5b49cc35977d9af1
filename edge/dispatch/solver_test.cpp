// The dispatch solver: runner preference, batching only when every promise holds, exact
// drop order against brute force, determinism, the time budget, bad input.
#include "edge/dispatch/solver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::dispatch {
namespace {

using namespace std::chrono_literals;

constexpr wire::GeoPoint kStore{12.9716, 77.5946};
constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kMinute = 60'000;

// The point `metres` from the store on compass bearing `deg`.
wire::GeoPoint toward(double deg, double metres) {
  const double rad = deg * 3.14159265358979323846 / 180.0;
  const double m_per_deg = 111195.0;
  return {kStore.lat + metres * std::cos(rad) / m_per_deg,
          kStore.lon + metres * std::sin(rad) / (m_per_deg * std::cos(kStore.lat * 0.0174533))};
}

SolverRunner idle_runner(std::string id, double speed = 5) {
  return {std::move(id), wire::RunnerState::kIdle, kStore, speed, std::nullopt};
}

SolverRunner returning_runner(std::string id, double metres_away, double speed = 5) {
  return {std::move(id), wire::RunnerState::kReturning, toward(200, metres_away), speed,
          std::nullopt};
}

SolverOrder order_at(std::string id, double deg, double metres, std::int64_t promised) {
  const wire::GeoPoint p = toward(deg, metres);
  return {std::move(id), p.lat, p.lon, promised, 2};
}

SolverOptions options() {
  SolverOptions o;
  o.handover_ms = 30'000;
  return o;
}

// Unless a test passes its own clock, the search's budget runs on one that never moves:
// what a plan looks like must not depend on how fast a loaded or sanitized build runs
// (under ASan a 4 ms budget once ran out before the batching step).
Plan must_solve(const SolveInput& in, const SolverOptions& o = options(),
                const Clock* clock = nullptr) {
  static const FakeClock frozen;
  auto plan = solve(in, o, clock != nullptr ? clock : &frozen);
  EXPECT_TRUE(plan.ok()) << plan.status().to_string();
  return plan.ok() ? *plan : Plan{};
}

const PlannedRoute* route_of(const Plan& plan, std::string_view order_id) {
  for (const auto& r : plan.routes) {
    for (const auto& s : r.stops) {
      if (s.order_id == order_id) return &r;
    }
  }
  return nullptr;
}

std::string describe(const Plan& plan) {
  std::ostringstream out;
  for (const auto& r : plan.routes) {
    out << r.runner_id << " @" << r.depart_ms << ":";
    for (const auto& s : r.stops)
      out << " " << s.order_id << "=" << s.eta_ms << "/" << s.late_by_ms;
    out << "\n";
  }
  for (const auto& u : plan.unassigned) {
    out << "unassigned " << u.order_id << " " << to_string(u.reason) << " (" << u.detail << ")\n";
  }
  out << "lateness " << plan.lateness_ms << " late " << plan.late_stops << " complete "
      << plan.complete;
  return out.str();
}

// The ETA a runner at speed `speed` leaving at depart reaches each stop, recomputed
// independently of the solver.
std::vector<std::int64_t> recompute_etas(const PlannedRoute& r, double speed,
                                         const SolverOptions& o) {
  std::vector<std::int64_t> out;
  std::int64_t t = r.depart_ms;
  geohash::LatLon at{kStore.lat, kStore.lon};
  for (const auto& s : r.stops) {
    const geohash::LatLon next{s.lat, s.lon};
    t += std::llround(geohash::haversine_m(at, next) * o.detour_factor * 1000.0 / speed) +
         o.handover_ms;
    out.push_back(t);
    at = next;
  }
  return out;
}

TEST(SolverTest, IdleRunnersAtTheStoreGoBeforeReturningOnes) {
  SolveInput in{kNow, kStore, {}, {}};
  // A faster runner on its way back, listed first, and an idle one at the store.
  in.runners = {returning_runner("back", 400, 8), idle_runner("idle")};
  in.orders = {order_at("o1", 0, 1000, kNow + 20 * kMinute)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  EXPECT_EQ(plan.routes[0].runner_id, "idle");
  EXPECT_EQ(plan.routes[0].depart_ms, kNow);
  EXPECT_TRUE(plan.unassigned.empty());

  // A second order in the other direction goes to the returning runner, leaving when it
  // is back at the store.
  in.orders.push_back(order_at("o2", 180, 1000, kNow + 20 * kMinute));
  const Plan two = must_solve(in);
  ASSERT_EQ(two.routes.size(), 2u) << describe(two);
  EXPECT_EQ(route_of(two, "o1")->runner_id, "idle") << describe(two);
  const PlannedRoute* back = route_of(two, "o2");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->runner_id, "back");
  const double ride_back_m =
      geohash::haversine_m({kStore.lat, kStore.lon}, {toward(200, 400).lat, toward(200, 400).lon});
  EXPECT_EQ(back->depart_ms, kNow + ride_ms(ride_back_m * 1.4, 8));
}

TEST(SolverTest, ReturningRunnersSoonestFirst) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {returning_runner("far", 1500), returning_runner("near", 300),
                returning_runner("mid", 800)};
  in.orders = {order_at("o1", 90, 700, kNow + 30 * kMinute)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  EXPECT_EQ(plan.routes[0].runner_id, "near");
}

TEST(SolverTest, UrgentOrderGetsTheRunnerThatKeepsItsPromise) {
  // The idle runner is too slow for the promise; the returning motorbike makes it.
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("walker", 1.5), returning_runner("bike", 200, 12)};
  in.orders = {order_at("o1", 45, 2000, kNow + 6 * kMinute)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  EXPECT_EQ(plan.routes[0].runner_id, "bike");
  EXPECT_EQ(plan.late_stops, 0) << describe(plan);
}

TEST(SolverTest, BatchesOrdersInTheSameDirectionWhenEveryPromiseHolds) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1"), idle_runner("r2"), idle_runner("r3")};
  in.orders = {order_at("far", 10, 1200, kNow + 25 * kMinute),
               order_at("near", 0, 600, kNow + 25 * kMinute)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  ASSERT_EQ(plan.routes[0].stops.size(), 2u);
  // Nearer drop first, both on time, ETAs as ridden.
  EXPECT_EQ(plan.routes[0].stops[0].order_id, "near");
  EXPECT_EQ(plan.routes[0].stops[1].order_id, "far");
  EXPECT_EQ(plan.late_stops, 0);
  EXPECT_EQ(
      recompute_etas(plan.routes[0], 5, options()),
      (std::vector<std::int64_t>{plan.routes[0].stops[0].eta_ms, plan.routes[0].stops[1].eta_ms}));
}

TEST(SolverTest, DoesNotBatchWhenAPromiseWouldBreak) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1"), idle_runner("r2")};
  // Alone, "far" arrives at 1200 m x 1.4 / 5 m/s + 30 s = 366 s and "near" at 198 s;
  // each promise leaves 20 s of slack, less than either detour through the other stop.
  in.orders = {order_at("far", 10, 1200, kNow + 386'000), order_at("near", 0, 600, kNow + 218'000)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 2u) << describe(plan);
  EXPECT_EQ(plan.late_stops, 0) << describe(plan);
  for (const auto& r : plan.routes) EXPECT_EQ(r.stops.size(), 1u);
}

TEST(SolverTest, DoesNotBatchAcrossDirections) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1"), idle_runner("r2")};
  in.orders = {order_at("north", 0, 800, kNow + 40 * kMinute),
               order_at("south", 180, 800, kNow + 40 * kMinute)};
  const Plan plan = must_solve(in);
  EXPECT_EQ(plan.routes.size(), 2u) << describe(plan);
}

TEST(SolverTest, MoreOrdersThanRunnersBatchUpToTheLimitAndReportTheRest) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1")};
  for (int i = 0; i < 5; ++i) {
    in.orders.push_back(
        order_at("o" + std::to_string(i), 5.0 * i, 500.0 + 100 * i, kNow + 60 * kMinute));
  }
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  EXPECT_EQ(plan.routes[0].stops.size(), 3u);
  ASSERT_EQ(plan.unassigned.size(), 2u);
  for (const auto& u : plan.unassigned) EXPECT_EQ(u.reason, UnassignedReason::kNoRunner);

  // Units limit the batch too.
  SolverOptions o = options();
  o.max_units = 4;  // two orders of 2 units
  const Plan small = must_solve(in, o);
  ASSERT_EQ(small.routes.size(), 1u);
  EXPECT_EQ(small.routes[0].stops.size(), 2u) << describe(small);
  EXPECT_EQ(small.unassigned.size(), 3u);
}

TEST(SolverTest, AnOrderThatCannotMakeItsPromiseIsAssignedAndMarkedLate) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1")};
  in.orders = {order_at("late", 0, 3000, kNow + 2 * kMinute)};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  const PlannedStop& s = plan.routes[0].stops[0];
  EXPECT_GT(s.late_by_ms, 0);
  EXPECT_EQ(s.late_by_ms, s.eta_ms - s.promised_at_ms);
  EXPECT_EQ(plan.late_stops, 1);
  EXPECT_EQ(plan.lateness_ms, s.late_by_ms);
}

TEST(SolverTest, UnusableRunnersAreSkippedAndOrdersReportNoRunner) {
  SolveInput in{kNow, kStore, {}, {}};
  in.orders = {order_at("o1", 0, 800, kNow + 20 * kMinute)};
  const Plan none = must_solve(in);
  ASSERT_EQ(none.unassigned.size(), 1u);
  EXPECT_EQ(none.unassigned[0].reason, UnassignedReason::kNoRunner);
  EXPECT_EQ(none.unassigned[0].detail, "no runner is available");

  SolverRunner offline = idle_runner("offline");
  offline.state = wire::RunnerState::kOffline;
  SolverRunner busy{"busy", wire::RunnerState::kToCustomer, toward(90, 900), 5, std::nullopt};
  SolverRunner bad_speed = idle_runner("slowpoke", 0);
  SolverRunner nan_pos = idle_runner("lost");
  nan_pos.state = wire::RunnerState::kReturning;
  nan_pos.position.lat = std::nan("");
  in.runners = {offline,           busy, bad_speed, nan_pos, idle_runner(""), idle_runner("dup"),
                idle_runner("dup")};
  const Plan skipped = must_solve(in);
  ASSERT_EQ(skipped.routes.size(), 1u) << describe(skipped);
  EXPECT_EQ(skipped.routes[0].runner_id, "dup");

  // A runner still out is used when the caller says when it is back.
  busy.back_in_ms = 4 * kMinute;
  in.runners = {offline, busy};
  const Plan later = must_solve(in);
  ASSERT_EQ(later.routes.size(), 1u) << describe(later);
  EXPECT_EQ(later.routes[0].runner_id, "busy");
  EXPECT_EQ(later.routes[0].depart_ms, kNow + 4 * kMinute);
}

TEST(SolverTest, BadOrdersAreReportedAndTheRestStillAssigned) {
  SolveInput in{kNow, kStore, {}, {}};
  in.runners = {idle_runner("r1"), idle_runner("r2")};
  SolverOrder good = order_at("good", 0, 800, kNow + 20 * kMinute);
  SolverOrder nan_lat = order_at("nan", 0, 800, kNow + 20 * kMinute);
  nan_lat.lat = std::nan("");
  SolverOrder lat91 = order_at("lat91", 0, 800, kNow + 20 * kMinute);
  lat91.lat = 91;
  SolverOrder no_units = order_at("units", 0, 800, kNow + 20 * kMinute);
  no_units.units = 0;
  SolverOrder no_id = order_at("", 0, 800, kNow + 20 * kMinute);
  SolverOrder no_promise = order_at("promise", 0, 800, 0);
  in.orders = {good, nan_lat, lat91, no_units, no_id, no_promise, good};
  const Plan plan = must_solve(in);
  ASSERT_EQ(plan.routes.size(), 1u) << describe(plan);
  EXPECT_EQ(plan.routes[0].stops.at(0).order_id, "good");
  std::map<std::string, std::string> details;
  for (const auto& u : plan.unassigned) {
    EXPECT_EQ(u.reason, UnassignedReason::kInvalidOrder) << u.order_id;
    details[u.order_id] = u.detail;
  }
  EXPECT_EQ(plan.unassigned.size(), 6u) << describe(plan);
  EXPECT_EQ(details["nan"], "drop location out of range");
  EXPECT_EQ(details["lat91"], "drop location out of range");
  EXPECT_EQ(details["units"], "units must be at least 1");
  EXPECT_EQ(details[""], "empty order id");
  EXPECT_EQ(details["promise"], "promised_at_ms must be positive");
  EXPECT_EQ(details["good"], "duplicate order id");
}

TEST(SolverTest, BadOptionsAreRefusedNamingTheOption) {
  struct Case {
    std::function<void(SolverOptions&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.detour_factor = 0.5; }, "detour_factor"},
      {[](auto& o) { o.detour_factor = std::nan(""); }, "detour_factor"},
      {[](auto& o) { o.handover_ms = -1; }, "handover_ms"},
      {[](auto& o) { o.max_batch = 0; }, "max_batch"},
      {[](auto& o) { o.max_batch = kMaxExactStops + 1; }, "max_batch"},
      {[](auto& o) { o.max_units = 0; }, "max_units"},
      {[](auto& o) { o.same_direction_deg = 0; }, "same_direction_deg"},
      {[](auto& o) { o.near_store_m = -1; }, "near_store_m"},
      {[](auto& o) { o.at_store_radius_m = 1e9; }, "at_store_radius_m"},
      {[](auto& o) { o.time_budget = 0us; }, "time_budget"},
  };
  for (const auto& c : cases) {
    SolverOptions o = options();
    c.change(o);
    auto plan = solve(SolveInput{kNow, kStore, {}, {}}, o);
    ASSERT_FALSE(plan.ok()) << c.field;
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(plan.status().field(), c.field);
  }
}

// --- Exact drop order -------------------------------------------------------------

DropCost brute_force(const DropProblem& p, std::vector<int>* best_order) {
  std::vector<int> order(p.count);
  std::iota(order.begin(), order.end(), 0);
  DropCost best{};
  bool found = false;
  do {
    const DropCost c = drop_cost(p, order);
    if (!found || c < best) {
      best = c;
      *best_order = order;
      found = true;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

TEST(DropOrderTest, MatchesBruteForceOnRandomProblems) {
  std::mt19937_64 rng(20260101);
  std::uniform_int_distribution<int> count(1, kMaxExactStops);
  std::uniform_real_distribution<double> coord(-2000, 2000);
  std::uniform_int_distribution<std::int64_t> slack(-120'000, 900'000);
  for (int trial = 0; trial < 3000; ++trial) {
    DropProblem p;
    p.count = count(rng);
    p.start_ms = kNow;
    p.handover_ms = trial % 3 == 0 ? 0 : 45'000;
    // Points on a plane, so legs obey the triangle inequality like real rides.
    std::vector<std::pair<double, double>> pts(p.count + 1, {0, 0});
    for (int i = 1; i <= p.count; ++i) pts[i] = {coord(rng), coord(rng)};
    for (int a = 0; a <= p.count; ++a) {
      for (int b = 0; b <= p.count; ++b) {
        p.leg_ms[a][b] = std::llround(
            std::hypot(pts[a].first - pts[b].first, pts[a].second - pts[b].second) * 1400 / 5);
      }
    }
    for (int i = 0; i < p.count; ++i) p.promised_ms[i] = kNow + p.leg_ms[0][i + 1] + slack(rng);
    std::vector<int> expected;
    const DropCost want = brute_force(p, &expected);
    const DropOrder got = best_drop_order(p);
    ASSERT_EQ(got.cost, want) << "trial " << trial;
    const std::vector<int> got_order(got.order.begin(), got.order.begin() + p.count);
    ASSERT_EQ(got_order, expected) << "trial " << trial;
    ASSERT_EQ(drop_cost(p, got_order), got.cost);
    ASSERT_EQ(got.eta_ms[p.count - 1], got.cost.finish_ms);
  }
}

TEST(DropOrderTest, LatenessComesBeforeTotalTime) {
  // Visiting the far stop first is longer overall but keeps its tight promise.
  DropProblem p;
  p.count = 2;
  p.start_ms = 0;
  p.handover_ms = 0;
  p.leg_ms = {};
  p.leg_ms[0][1] = p.leg_ms[1][0] = 100;  // store <-> near
  p.leg_ms[0][2] = p.leg_ms[2][0] = 300;  // store <-> far
  p.leg_ms[1][2] = p.leg_ms[2][1] = 250;
  p.promised_ms = {10'000, 300};
  const DropOrder d = best_drop_order(p);
  EXPECT_EQ(d.order[0], 1);
  EXPECT_EQ(d.order[1], 0);
  EXPECT_EQ(d.cost.lateness_ms, 0);
  EXPECT_EQ(d.cost.finish_ms, 550);
}

// --- Scale, determinism, budget ---------------------------------------------------

SolveInput random_instance(std::uint64_t seed, int runners, int orders) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> bearing(0, 360);
  std::uniform_real_distribution<double> dist(150, 3000);
  std::uniform_int_distribution<std::int64_t> promise(5 * kMinute, 20 * kMinute);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int> units(1, 8);
  SolveInput in{kNow, kStore, {}, {}};
  for (int i = 0; i < runners; ++i) {
    SolverRunner r = idle_runner("r" + std::to_string(i), kind(rng) < 7 ? 5 : 8);
    const int k = kind(rng);
    if (k >= 5) {
      r.state = wire::RunnerState::kReturning;
      r.position = toward(bearing(rng), dist(rng));
    } else if (k == 4) {
      r.state = wire::RunnerState::kToCustomer;
      r.position = toward(bearing(rng), dist(rng));
    }
    in.runners.push_back(r);
  }
  for (int i = 0; i < orders; ++i) {
    SolverOrder o = order_at("o" + std::to_string(i), bearing(rng), dist(rng), kNow + promise(rng));
    o.units = units(rng);
    in.orders.push_back(o);
  }
  return in;
}

void expect_valid(const SolveInput& in, const Plan& plan, const SolverOptions& o) {
  std::set<std::string> seen;
  std::map<std::string, double> speed;
  for (const auto& r : in.runners) speed[r.id] = r.speed_mps;
  std::set<std::string> runners;
  for (const auto& r : plan.routes) {
    EXPECT_TRUE(runners.insert(r.runner_id).second) << r.runner_id << " twice";
    EXPECT_GE(r.stops.size(), 1u);
    EXPECT_LE(static_cast<int>(r.stops.size()), o.max_batch);
    EXPECT_GE(r.depart_ms, in.now_ms);
    const auto etas = recompute_etas(r, speed[r.runner_id], o);
    for (std::size_t k = 0; k < r.stops.size(); ++k) {
      EXPECT_TRUE(seen.insert(r.stops[k].order_id).second) << r.stops[k].order_id;
      EXPECT_EQ(r.stops[k].eta_ms, etas[k]) << r.stops[k].order_id;
      // A batch keeps every promise.
      if (r.stops.size() > 1) {
        EXPECT_EQ(r.stops[k].late_by_ms, 0) << r.stops[k].order_id;
      }
    }
  }
  for (const auto& u : plan.unassigned) EXPECT_TRUE(seen.insert(u.order_id).second) << u.order_id;
  EXPECT_EQ(seen.size(), in.orders.size());
}

// This thread's CPU time: what the solver itself spent, whatever else the machine ran.
std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(SolverTest, FiftyRunnersTwentyOrdersAllAssignedWithinBudget) {
  const SolverOptions o = options();
  // The solver's own budget runs on this frozen clock, so a preempted thread on a
  // loaded (or sanitized) run cannot end the search early; the time check is on CPU.
  FakeClock frozen;
  int batched = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const SolveInput in = random_instance(seed, 50, 20);
    const auto started = thread_cpu_time();
    const Plan plan = must_solve(in, o, &frozen);
    const auto took = thread_cpu_time() - started;
    SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + describe(plan));
    expect_valid(in, plan, o);
    EXPECT_TRUE(plan.unassigned.empty());
    // Generous for sanitizer builds; the benchmark measures the real figure.
    EXPECT_LT(took, std::chrono::milliseconds(250));
    for (const auto& r : plan.routes) batched += r.stops.size() > 1 ? 1 : 0;
  }
  EXPECT_GT(batched, 0);
}

TEST(SolverTest, SameInputSamePlanWhateverTheInputOrder) {
  FakeClock frozen;  // the budget never runs out, so the search always completes
  const SolverOptions o = options();
  for (std::uint64_t seed = 100; seed < 120; ++seed) {
    SolveInput in = random_instance(seed, 12, 20);
    const Plan first = must_solve(in, o, &frozen);
    ASSERT_TRUE(first.complete);
    const Plan again = must_solve(in, o, &frozen);
    EXPECT_EQ(describe(first), describe(again));
    std::mt19937_64 rng(seed);
    std::shuffle(in.runners.begin(), in.runners.end(), rng);
    std::shuffle(in.orders.begin(), in.orders.end(), rng);
    const Plan shuffled = must_solve(in, o, &frozen);
    EXPECT_EQ(describe(first), describe(shuffled)) << "seed " << seed;
    expect_valid(in, shuffled, o);
  }
}

// A clock that moves 1 us every time it is read, so the budget runs out after a known
// number of reads, whatever the machine's speed.
class SteppingClock final : public Clock {
 public:
  WallTime wall_now() const override { return WallTime{}; }
  MonoTime mono_now() const override {
    ++reads_;
    return MonoTime{} + std::chrono::microseconds(reads_);
  }
  mutable std::int64_t reads_ = 0;
};

TEST(SolverTest, StopsAtTheBudgetAndReturnsTheBestPlanSoFar) {
  const SolveInput in = random_instance(7, 50, 20);
  SolverOptions o = options();
  // First the read count of a full search, then budgets that cut it at every stage.
  SteppingClock full_clock;
  o.time_budget = std::chrono::microseconds(1'000'000'000);
  const Plan full = must_solve(in, o, &full_clock);
  ASSERT_TRUE(full.complete);
  const std::int64_t full_reads = full_clock.reads_;
  ASSERT_GT(full_reads, 30);
  for (std::int64_t budget : {std::int64_t{1}, std::int64_t{5}, std::int64_t{15}, full_reads / 4,
                              full_reads / 2, full_reads - 2}) {
    SteppingClock clock;
    o.time_budget = std::chrono::microseconds(budget);
    const Plan plan = must_solve(in, o, &clock);
    SCOPED_TRACE("budget " + std::to_string(budget) + "\n" + describe(plan));
    EXPECT_FALSE(plan.complete);
    // One read sets the deadline; the search stops at the first read past it.
    EXPECT_LE(clock.reads_, budget + 1);
    expect_valid(in, plan, o);
    for (const auto& u : plan.unassigned) EXPECT_NE(u.reason, UnassignedReason::kInvalidOrder);
  }
  // A real clock and a tiny budget: an answer, quickly.
  o.time_budget = 20us;
  const auto started = thread_cpu_time();  // CPU time: preemption is not the solver's
  const StatusOr<Plan> tiny = solve(in, o, nullptr);
  EXPECT_LT(thread_cpu_time() - started, 100ms);
  ASSERT_TRUE(tiny.ok()) << tiny.status().to_string();
  expect_valid(in, *tiny, o);
}

}  // namespace
}  // namespace shopeasy::edge::dispatch
