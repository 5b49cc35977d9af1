// The dispatch solver: which runner takes which packed orders, in which drop order, and
// when each customer can expect their bag. Pure and deterministic: no I/O, no threads,
// no randomness; time comes from the input (now_ms) and the search budget from a Clock,
// so tests drive it with a FakeClock.
//
// Rules, in order of importance:
//   1. Every valid order gets a runner while runners last; an order that cannot make its
//      promised time with any runner is still assigned (holding it back never makes it
//      earlier) and its stop says by how much it will be late. Orders left without a
//      runner come back in `unassigned` with a reason.
//   2. Idle runners at the store go first, then runners coming back to the store,
//      soonest first. Runners on their way to customers are used only when the caller
//      says when they will be back (SolverRunner::back_in_ms).
//   3. Two to max_batch orders ride together only when they lie in the same direction
//      from the store and every one of them still makes its promised time; such a batch
//      is preferred over single deliveries because it leaves runners free.
//   4. The drop order of a route is found by exact search (all orders of up to
//      kMaxExactStops stops): least total lateness, then earliest last drop, then least
//      sum of ETAs.
// ETA of a stop = wait for the runner to be at the store + ride (great-circle distance x
// detour factor / the runner's speed) along the route + handover time for it and each
// stop before it.
//
// The search never runs past its time budget: a greedy plan comes first (singles, most
// urgent order first), then improving moves (insert a waiting order into a route, merge
// two routes, give a route a better runner) while the budget lasts. The deadline is
// checked inside every loop, and the best plan found so far is returned.
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/status/status.hpp"
#include "common/wire/runner.hpp"

namespace shopeasy::edge::dispatch {

// Routes with up to this many stops get their drop order by exhaustive search.
inline constexpr int kMaxExactStops = 5;

struct SolverOptions {
  // Ride distance = great-circle distance x this (streets are not straight). [1, 5]
  double detour_factor = 1.4;
  // Time at each customer, counted into that stop's ETA. [0, 1 h]
  std::int64_t handover_ms = 60'000;
  // Most orders one runner carries at once. 1..kMaxExactStops
  int max_batch = 3;
  // Most units (items) one runner carries at once. >= 1
  int max_units = 40;
  // Orders batch together only if their bearings from the store differ by at most
  // this. (0, 180]
  double same_direction_deg = 45;
  // Orders this close to the store fit any direction (their bearing means little).
  // [0, 10 km]
  double near_store_m = 150;
  // A runner within this distance of the store counts as at the store. [0, 10 km]
  double at_store_radius_m = 50;
  // The whole decision, greedy plan included, stays within this. > 0
  std::chrono::microseconds time_budget{4000};
};

// kInvalidArgument naming the option for a value out of range.
Status validate(const SolverOptions& options);

struct SolverRunner {
  std::string id;
  wire::RunnerState state = wire::RunnerState::kIdle;
  wire::GeoPoint position{};
  double speed_mps = 5;  // (0, 100]
  // Milliseconds until the runner can collect at the store. Absent: ridden from
  // `position` (0 within at_store_radius_m); runners heading to or at a customer
  // without it are not considered, since only the caller knows their remaining route.
  std::optional<std::int64_t> back_in_ms;
};

struct SolverOrder {
  std::string id;
  double lat = 0;
  double lon = 0;
  std::int64_t promised_at_ms = 0;
  int units = 1;  // >= 1
};

struct SolveInput {
  std::int64_t now_ms = 0;
  wire::GeoPoint store{};
  std::vector<SolverRunner> runners;
  std::vector<SolverOrder> orders;
};

struct PlannedStop {
  std::string order_id;
  double lat = 0;
  double lon = 0;
  std::int64_t promised_at_ms = 0;
  std::int64_t eta_ms = 0;      // handover done at this customer
  std::int64_t late_by_ms = 0;  // max(0, eta - promised)
};

struct PlannedRoute {
  std::string runner_id;
  std::int64_t depart_ms = 0;  // when the runner leaves the store with the bags
  std::vector<PlannedStop> stops;
};

enum class UnassignedReason {
  kNoRunner,      // every usable runner is taken (or none is online and near)
  kInvalidOrder,  // bad coordinates, units or id; detail says which
  kTimeBudget,    // the budget ran out before the greedy pass reached the order
};
// "no_runner", "invalid_order", "time_budget"
std::string_view to_string(UnassignedReason reason);

struct Unassigned {
  std::string order_id;
  UnassignedReason reason = UnassignedReason::kNoRunner;
  std::string detail;
};

struct Plan {
  std::vector<PlannedRoute> routes;  // in runner preference order
  std::vector<Unassigned> unassigned;
  std::int64_t lateness_ms = 0;  // summed over every stop
  int late_stops = 0;
  // False when the budget ran out before the search could find no further improvement;
  // the plan is then the best one found, and may differ between runs.
  bool complete = true;
  int improvements = 0;  // improving moves applied after the greedy pass
};

// Decides. kInvalidArgument only for bad options; bad orders are reported in the plan
// and unusable runners (offline, bad speed, busy with no return time) are skipped.
// `budget_clock` measures the time budget (a FakeClock that is not advanced never runs
// out); null means the steady clock.
[[nodiscard]] StatusOr<Plan> solve(const SolveInput& input, const SolverOptions& options,
                                   const Clock* budget_clock = nullptr);

// --- The drop-order problem, exposed for tests and the benchmark ----------------------

struct DropCost {
  std::int64_t lateness_ms = 0;
  std::int64_t finish_ms = 0;  // ETA of the last stop
  std::int64_t eta_sum_ms = 0;
  friend auto operator<=>(const DropCost&, const DropCost&) = default;
};

struct DropProblem {
  int count = 0;  // stops, 1..kMaxExactStops
  std::int64_t start_ms = 0;
  std::int64_t handover_ms = 0;
  // Ride time between nodes; node 0 is the store, node i the stop i-1.
  std::array<std::array<std::int64_t, kMaxExactStops + 1>, kMaxExactStops + 1> leg_ms{};
  std::array<std::int64_t, kMaxExactStops> promised_ms{};
};

struct DropOrder {
  std::array<int, kMaxExactStops> order{};            // stop indices, first `count` used
  std::array<std::int64_t, kMaxExactStops> eta_ms{};  // per position in `order`
  DropCost cost;
};

// The cost of visiting the stops in `order` (a permutation of 0..count-1).
DropCost drop_cost(const DropProblem& problem, std::span<const int> order);
// The best order by DropCost; among equal costs, the lexicographically first order.
DropOrder best_drop_order(const DropProblem& problem);

// Ride milliseconds for `metres` (already including the detour) at `speed_mps`.
std::int64_t ride_ms(double metres, double speed_mps);

}  // namespace shopeasy::edge::dispatch
