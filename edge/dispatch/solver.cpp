#include "edge/dispatch/solver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <unordered_set>

#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::dispatch {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRad = kPi / 180.0;

bool valid_point(double lat, double lon) {
  return std::isfinite(lat) && std::isfinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 &&
         lon <= 180;
}

double distance_m(wire::GeoPoint a, wire::GeoPoint b) {
  return geohash::haversine_m({a.lat, a.lon}, {b.lat, b.lon});
}

// Initial compass bearing from a to b, [0, 360).
double bearing_deg(wire::GeoPoint a, wire::GeoPoint b) {
  const double phi1 = a.lat * kRad;
  const double phi2 = b.lat * kRad;
  const double dl = (b.lon - a.lon) * kRad;
  const double y = std::sin(dl) * std::cos(phi2);
  const double x = std::cos(phi1) * std::sin(phi2) - std::sin(phi1) * std::cos(phi2) * std::cos(dl);
  double deg = std::atan2(y, x) / kRad;
  if (deg < 0) deg += 360;
  return deg;
}

double angle_between(double a, double b) {
  const double d = std::fmod(std::fabs(a - b), 360.0);
  return std::min(d, 360.0 - d);
}

class Deadline {
 public:
  Deadline(const Clock* clock, std::chrono::microseconds budget)
      : clock_(clock), end_(now() + budget) {}
  bool passed() {
    if (!expired_) expired_ = now() >= end_;
    return expired_;
  }

 private:
  MonoTime now() const {
    return clock_ != nullptr ? clock_->mono_now() : std::chrono::steady_clock::now();
  }
  const Clock* clock_;
  MonoTime end_;
  bool expired_ = false;
};

// Lexicographic: fewer orders without a runner, less lateness, fewer runners out,
// fewer runners taken that are not idle at the store, earlier deliveries.
struct Objective {
  int unassigned = 0;
  std::int64_t lateness_ms = 0;
  int routes = 0;
  int not_ready = 0;
  std::int64_t eta_sum_ms = 0;
  friend auto operator<=>(const Objective&, const Objective&) = default;
};

struct Route {
  int runner = 0;
  std::vector<int> orders;  // order indices, in drop order once evaluated
  int units = 0;
  DropOrder result;
};

struct Runner {
  const SolverRunner* in = nullptr;
  int tier = 0;  // 0: ready at the store; 1: coming back
  std::int64_t ready_ms = 0;
  int speed_slot = 0;
};

class Search {
 public:
  Search(const SolveInput& in, const SolverOptions& o, const Clock* clock)
      : in_(in), o_(o), deadline_(clock, o.time_budget) {}

  Plan run() {
    prepare();
    if (deadline_.passed()) {
      for (int i : urgency_) out_.unassigned.push_back(time_budget(i));
      out_.complete = false;
      return finish();
    }
    greedy();
    if (!out_.complete) return finish();
    improve();
    return finish();
  }

 private:
  // --- Input ----------------------------------------------------------------------

  void prepare() {
    std::unordered_set<std::string_view> seen;
    for (const SolverOrder& order : in_.orders) {
      std::string why;
      if (order.id.empty()) {
        why = "empty order id";
      } else if (!seen.insert(order.id).second) {
        why = "duplicate order id";
      } else if (!valid_point(order.lat, order.lon)) {
        why = "drop location out of range";
      } else if (order.units < 1) {
        why = "units must be at least 1";
      } else if (order.promised_at_ms <= 0) {
        why = "promised_at_ms must be positive";
      }
      if (!why.empty()) {
        out_.unassigned.push_back({order.id, UnassignedReason::kInvalidOrder, why});
        continue;
      }
      orders_.push_back(&order);
    }
    const int n = static_cast<int>(orders_.size());
    urgency_.resize(n);
    std::iota(urgency_.begin(), urgency_.end(), 0);
    std::sort(urgency_.begin(), urgency_.end(), [&](int a, int b) {
      return std::tie(orders_[a]->promised_at_ms, orders_[a]->id) <
             std::tie(orders_[b]->promised_at_ms, orders_[b]->id);
    });

    // Node 0 is the store, node i + 1 the order i.
    nodes_ = n + 1;
    dist_.assign(static_cast<std::size_t>(nodes_ * nodes_), 0.0);
    std::vector<double> bearing(n, 0.0);
    std::vector<char> near(n, 0);
    for (int i = 0; i < n; ++i) {
      const wire::GeoPoint p{orders_[i]->lat, orders_[i]->lon};
      const double d = distance_m(in_.store, p);
      dist_[i + 1] = dist_[(i + 1) * nodes_] = d * o_.detour_factor;
      bearing[i] = bearing_deg(in_.store, p);
      near[i] = d <= o_.near_store_m;
      for (int j = 0; j < i; ++j) {
        const double dij = distance_m(p, {orders_[j]->lat, orders_[j]->lon}) * o_.detour_factor;
        dist_[(i + 1) * nodes_ + j + 1] = dist_[(j + 1) * nodes_ + i + 1] = dij;
      }
    }
    compat_.assign(static_cast<std::size_t>(n * n), 0);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        compat_[i * n + j] =
            near[i] || near[j] || angle_between(bearing[i], bearing[j]) <= o_.same_direction_deg;
      }
    }

    std::unordered_set<std::string_view> runner_ids;
    for (const SolverRunner& r : in_.runners) {
      if (r.id.empty() || !runner_ids.insert(r.id).second) continue;
      if (!std::isfinite(r.speed_mps) || r.speed_mps <= 0 || r.speed_mps > 100) continue;
      if (r.state == wire::RunnerState::kOffline) continue;
      std::int64_t back = 0;
      if (r.back_in_ms) {
        back = std::max<std::int64_t>(0, *r.back_in_ms);
      } else {
        if (r.state == wire::RunnerState::kToCustomer ||
            r.state == wire::RunnerState::kAtCustomer) {
          continue;
        }
        if (!valid_point(r.position.lat, r.position.lon)) continue;
        const double d = distance_m(r.position, in_.store);
        if (d > o_.at_store_radius_m) back = ride_ms(d * o_.detour_factor, r.speed_mps);
      }
      Runner x;
      x.in = &r;
      x.ready_ms = in_.now_ms + back;
      x.tier = (back == 0 &&
                (r.state == wire::RunnerState::kIdle || r.state == wire::RunnerState::kAtStore))
                   ? 0
                   : 1;
      auto slot = std::find(speeds_.begin(), speeds_.end(), r.speed_mps);
      x.speed_slot = static_cast<int>(slot - speeds_.begin());
      if (slot == speeds_.end()) speeds_.push_back(r.speed_mps);
      runners_.push_back(x);
    }
    std::sort(runners_.begin(), runners_.end(), [](const Runner& a, const Runner& b) {
      return std::tie(a.tier, a.ready_ms, a.in->id) < std::tie(b.tier, b.ready_ms, b.in->id);
    });
    used_.assign(runners_.size(), 0);
    legs_.resize(speeds_.size());
    for (std::size_t s = 0; s < speeds_.size(); ++s) {
      legs_[s].resize(dist_.size());
      for (std::size_t k = 0; k < dist_.size(); ++k) legs_[s][k] = ride_ms(dist_[k], speeds_[s]);
    }
  }

  Unassigned time_budget(int i) const {
    return {orders_[i]->id, UnassignedReason::kTimeBudget,
            "the time budget ran out before this order was considered"};
  }

  // --- Evaluation -----------------------------------------------------------------

  DropOrder evaluate(int runner, std::span<const int> orders) const {
    const Runner& r = runners_[runner];
    const std::vector<std::int64_t>& leg = legs_[r.speed_slot];
    DropProblem p;
    p.count = static_cast<int>(orders.size());
    p.start_ms = r.ready_ms;
    p.handover_ms = o_.handover_ms;
    for (int a = 0; a <= p.count; ++a) {
      const int na = a == 0 ? 0 : orders[a - 1] + 1;
      for (int b = 0; b <= p.count; ++b) {
        const int nb = b == 0 ? 0 : orders[b - 1] + 1;
        p.leg_ms[a][b] = leg[na * nodes_ + nb];
      }
    }
    for (int a = 0; a < p.count; ++a) p.promised_ms[a] = orders_[orders[a]]->promised_at_ms;
    return best_drop_order(p);
  }

  // Puts the route's orders in the evaluated drop order.
  Route make_route(int runner, std::vector<int> orders) const {
    Route route;
    route.runner = runner;
    route.result = evaluate(runner, orders);
    route.orders.resize(orders.size());
    for (std::size_t k = 0; k < orders.size(); ++k) route.orders[k] = orders[route.result.order[k]];
    for (int i : orders) route.units += orders_[i]->units;
    return route;
  }

  bool compatible(std::span<const int> a, std::span<const int> b) const {
    const int n = static_cast<int>(orders_.size());
    for (int i : a) {
      for (int j : b) {
        if (!compat_[i * n + j]) return false;
      }
    }
    return true;
  }

  Objective objective() const {
    Objective ob;
    ob.unassigned = static_cast<int>(waiting_.size());
    ob.routes = static_cast<int>(routes_.size());
    for (const Route& r : routes_) {
      ob.not_ready += runners_[r.runner].tier;
      ob.lateness_ms += r.result.cost.lateness_ms;
      ob.eta_sum_ms += r.result.cost.eta_sum_ms;
    }
    return ob;
  }

  // The free runner for order i: the most preferred one that keeps the promise, fastest
  // within its tier; when none can, the one delivering soonest. -1 when none is free.
  int pick_runner(int i) const {
    int best = -1;
    std::tuple<bool, std::int64_t, std::int64_t> best_key{};
    const std::int64_t promised = orders_[i]->promised_at_ms;
    for (std::size_t r = 0; r < runners_.size(); ++r) {
      if (used_[r]) continue;
      const Runner& x = runners_[r];
      const std::int64_t eta = x.ready_ms + legs_[x.speed_slot][i + 1] + o_.handover_ms;
      const bool late = eta > promised;
      const std::tuple<bool, std::int64_t, std::int64_t> key{late, late ? 0 : x.tier, eta};
      if (best < 0 || key < best_key) {
        best = static_cast<int>(r);
        best_key = key;
      }
    }
    return best;
  }

  // --- Search ---------------------------------------------------------------------

  void greedy() {
    for (std::size_t k = 0; k < urgency_.size(); ++k) {
      if (deadline_.passed()) {
        for (std::size_t rest = k; rest < urgency_.size(); ++rest) {
          out_.unassigned.push_back(time_budget(urgency_[rest]));
        }
        out_.complete = false;
        return;
      }
      const int i = urgency_[k];
      const int r = pick_runner(i);
      if (r < 0) {
        waiting_.push_back(i);
        continue;
      }
      used_[r] = 1;
      routes_.push_back(make_route(r, {i}));
    }
  }

  // Free runners take waiting orders, most urgent first.
  void fill() {
    while (!waiting_.empty()) {
      const int r = pick_runner(waiting_.front());
      if (r < 0) return;
      used_[r] = 1;
      routes_.push_back(make_route(r, {waiting_.front()}));
      waiting_.erase(waiting_.begin());
    }
  }

  enum class MoveKind { kNone, kInsert, kMerge, kRunner, kSwap };
  struct Move {
    MoveKind kind = MoveKind::kNone;
    int a = -1;  // route (or waiting position for kInsert's order)
    int b = -1;
    int runner = -1;
    Objective after;
  };

  void improve() {
    while (true) {
      const Objective now = objective();
      Move best;
      best.after = now;
      if (!find_inserts(now, best) || !find_merges(now, best) || !find_runner_moves(now, best)) {
        out_.complete = false;
        return;
      }
      if (best.kind == MoveKind::kNone) return;
      apply(best);
      ++out_.improvements;
    }
  }

  // Each finder returns false when the deadline passed.
  bool find_inserts(const Objective& now, Move& best) {
    std::vector<int> merged;
    for (std::size_t w = 0; w < waiting_.size(); ++w) {
      const int u = waiting_[w];
      for (std::size_t a = 0; a < routes_.size(); ++a) {
        if (deadline_.passed()) return false;
        const Route& route = routes_[a];
        if (static_cast<int>(route.orders.size()) >= o_.max_batch) continue;
        if (route.units + orders_[u]->units > o_.max_units) continue;
        if (!compatible(route.orders, std::span<const int>(&u, 1))) continue;
        merged = route.orders;
        merged.push_back(u);
        const DropOrder d = evaluate(route.runner, merged);
        if (d.cost.lateness_ms > 0) continue;
        Objective after = now;
        after.unassigned -= 1;
        after.lateness_ms -= route.result.cost.lateness_ms;
        after.eta_sum_ms += d.cost.eta_sum_ms - route.result.cost.eta_sum_ms;
        consider(best, {MoveKind::kInsert, static_cast<int>(w), static_cast<int>(a), route.runner,
                        after});
      }
    }
    return true;
  }

  bool find_merges(const Objective& now, Move& best) {
    std::vector<int> merged;
    for (std::size_t a = 0; a < routes_.size(); ++a) {
      for (std::size_t b = 0; b < routes_.size(); ++b) {
        if (a == b) continue;
        if (deadline_.passed()) return false;
        const Route& ra = routes_[a];
        const Route& rb = routes_[b];
        if (static_cast<int>(ra.orders.size() + rb.orders.size()) > o_.max_batch) continue;
        if (ra.units + rb.units > o_.max_units) continue;
        if (!compatible(ra.orders, rb.orders)) continue;
        merged = ra.orders;
        merged.insert(merged.end(), rb.orders.begin(), rb.orders.end());
        const DropOrder d = evaluate(ra.runner, merged);
        if (d.cost.lateness_ms > 0) continue;
        Objective after = now;
        after.routes -= 1;
        after.not_ready -= runners_[rb.runner].tier;
        after.lateness_ms -= ra.result.cost.lateness_ms + rb.result.cost.lateness_ms;
        after.eta_sum_ms +=
            d.cost.eta_sum_ms - ra.result.cost.eta_sum_ms - rb.result.cost.eta_sum_ms;
        consider(best,
                 {MoveKind::kMerge, static_cast<int>(a), static_cast<int>(b), ra.runner, after});
      }
    }
    return true;
  }

  bool find_runner_moves(const Objective& now, Move& best) {
    // Among free runners of one speed the earliest-ready one is never worse, so one
    // candidate per speed suffices; runners_ is sorted by readiness within a tier, so
    // compare ready times explicitly.
    std::vector<int> candidate(speeds_.size(), -1);
    for (std::size_t r = 0; r < runners_.size(); ++r) {
      if (used_[r]) continue;
      int& c = candidate[runners_[r].speed_slot];
      if (c < 0 || runners_[r].ready_ms < runners_[c].ready_ms) c = static_cast<int>(r);
    }
    for (std::size_t a = 0; a < routes_.size(); ++a) {
      const Route& ra = routes_[a];
      for (int f : candidate) {
        if (f < 0) continue;
        if (deadline_.passed()) return false;
        const DropOrder d = evaluate(f, ra.orders);
        if (ra.orders.size() > 1 && d.cost.lateness_ms > 0) continue;  // batches stay on time
        Objective after = now;
        after.not_ready += runners_[f].tier - runners_[ra.runner].tier;
        after.lateness_ms += d.cost.lateness_ms - ra.result.cost.lateness_ms;
        after.eta_sum_ms += d.cost.eta_sum_ms - ra.result.cost.eta_sum_ms;
        consider(best, {MoveKind::kRunner, static_cast<int>(a), -1, f, after});
      }
      for (std::size_t b = a + 1; b < routes_.size(); ++b) {
        if (deadline_.passed()) return false;
        const Route& rb = routes_[b];
        const DropOrder da = evaluate(rb.runner, ra.orders);
        const DropOrder db = evaluate(ra.runner, rb.orders);
        if ((ra.orders.size() > 1 && da.cost.lateness_ms > 0) ||
            (rb.orders.size() > 1 && db.cost.lateness_ms > 0)) {
          continue;
        }
        Objective after = now;
        after.lateness_ms += da.cost.lateness_ms + db.cost.lateness_ms -
                             ra.result.cost.lateness_ms - rb.result.cost.lateness_ms;
        after.eta_sum_ms += da.cost.eta_sum_ms + db.cost.eta_sum_ms - ra.result.cost.eta_sum_ms -
                            rb.result.cost.eta_sum_ms;
        consider(best, {MoveKind::kSwap, static_cast<int>(a), static_cast<int>(b), -1, after});
      }
    }
    return true;
  }

  static void consider(Move& best, const Move& candidate) {
    if (candidate.after < best.after) best = candidate;
  }

  void apply(const Move& m) {
    switch (m.kind) {
      case MoveKind::kInsert: {
        Route& route = routes_[m.b];
        std::vector<int> merged = route.orders;
        merged.push_back(waiting_[m.a]);
        waiting_.erase(waiting_.begin() + m.a);
        route = make_route(route.runner, std::move(merged));
        break;
      }
      case MoveKind::kMerge: {
        std::vector<int> merged = routes_[m.a].orders;
        merged.insert(merged.end(), routes_[m.b].orders.begin(), routes_[m.b].orders.end());
        routes_[m.a] = make_route(routes_[m.a].runner, std::move(merged));
        used_[routes_[m.b].runner] = 0;
        routes_.erase(routes_.begin() + m.b);
        fill();
        break;
      }
      case MoveKind::kRunner: {
        Route& route = routes_[m.a];
        used_[route.runner] = 0;
        used_[m.runner] = 1;
        route = make_route(m.runner, route.orders);
        break;
      }
      case MoveKind::kSwap: {
        const int ra = routes_[m.a].runner;
        const int rb = routes_[m.b].runner;
        routes_[m.a] = make_route(rb, routes_[m.a].orders);
        routes_[m.b] = make_route(ra, routes_[m.b].orders);
        break;
      }
      case MoveKind::kNone:
        break;
    }
  }

  // --- Output ---------------------------------------------------------------------

  Plan finish() {
    for (int i : waiting_) {
      out_.unassigned.push_back(
          {orders_[i]->id, UnassignedReason::kNoRunner,
           runners_.empty() ? "no runner is available" : "every available runner is taken"});
    }
    std::sort(routes_.begin(), routes_.end(),
              [](const Route& a, const Route& b) { return a.runner < b.runner; });
    for (const Route& route : routes_) {
      PlannedRoute pr;
      pr.runner_id = runners_[route.runner].in->id;
      pr.depart_ms = runners_[route.runner].ready_ms;
      for (std::size_t k = 0; k < route.orders.size(); ++k) {
        const SolverOrder& order = *orders_[route.orders[k]];
        PlannedStop stop;
        stop.order_id = order.id;
        stop.lat = order.lat;
        stop.lon = order.lon;
        stop.promised_at_ms = order.promised_at_ms;
        stop.eta_ms = route.result.eta_ms[k];
        stop.late_by_ms = std::max<std::int64_t>(0, stop.eta_ms - order.promised_at_ms);
        out_.lateness_ms += stop.late_by_ms;
        out_.late_stops += stop.late_by_ms > 0 ? 1 : 0;
        pr.stops.push_back(std::move(stop));
      }
      out_.routes.push_back(std::move(pr));
    }
    return std::move(out_);
  }

  const SolveInput& in_;
  const SolverOptions& o_;
  Deadline deadline_;
  std::vector<const SolverOrder*> orders_;
  std::vector<int> urgency_;
  int nodes_ = 1;
  std::vector<double> dist_;  // nodes_ x nodes_, metres with the detour
  std::vector<char> compat_;  // orders x orders: same direction
  std::vector<Runner> runners_;
  std::vector<double> speeds_;
  std::vector<std::vector<std::int64_t>> legs_;  // per speed: nodes_ x nodes_ ride ms
  std::vector<char> used_;
  std::vector<Route> routes_;
  std::vector<int> waiting_;  // orders without a runner, most urgent first
  Plan out_;
};

}  // namespace

Status validate(const SolverOptions& o) {
  if (!(o.detour_factor >= 1 && o.detour_factor <= 5)) {
    return invalid_argument("must be between 1 and 5", "detour_factor");
  }
  if (o.handover_ms < 0 || o.handover_ms > 3'600'000) {
    return invalid_argument("must be between 0 and 3600000", "handover_ms");
  }
  if (o.max_batch < 1 || o.max_batch > kMaxExactStops) {
    return invalid_argument("must be between 1 and " + std::to_string(kMaxExactStops), "max_batch");
  }
  if (o.max_units < 1) return invalid_argument("must be at least 1", "max_units");
  if (!(o.same_direction_deg > 0 && o.same_direction_deg <= 180)) {
    return invalid_argument("must be in (0, 180]", "same_direction_deg");
  }
  if (!(o.near_store_m >= 0 && o.near_store_m <= 10'000)) {
    return invalid_argument("must be between 0 and 10000", "near_store_m");
  }
  if (!(o.at_store_radius_m >= 0 && o.at_store_radius_m <= 10'000)) {
    return invalid_argument("must be between 0 and 10000", "at_store_radius_m");
  }
  if (o.time_budget.count() <= 0) return invalid_argument("must be positive", "time_budget");
  return Status::ok();
}

std::string_view to_string(UnassignedReason reason) {
  switch (reason) {
    case UnassignedReason::kNoRunner:
      return "no_runner";
    case UnassignedReason::kInvalidOrder:
      return "invalid_order";
    case UnassignedReason::kTimeBudget:
      return "time_budget";
  }
  return "unknown";
}

std::int64_t ride_ms(double metres, double speed_mps) {
  return std::llround(metres * 1000.0 / speed_mps);
}

DropCost drop_cost(const DropProblem& p, std::span<const int> order) {
  DropCost c;
  std::int64_t t = p.start_ms;
  int at = 0;
  for (int s : order) {
    t += p.leg_ms[at][s + 1] + p.handover_ms;
    at = s + 1;
    c.lateness_ms += std::max<std::int64_t>(0, t - p.promised_ms[s]);
    c.eta_sum_ms += t;
  }
  c.finish_ms = t;
  return c;
}

namespace {

// Depth-first over all orders in lexicographic order. Lateness and time only grow
// along a route, so a prefix already worse than the best complete route is cut.
struct DropSearch {
  const DropProblem& p;
  DropOrder best;
  bool found = false;
  std::array<int, kMaxExactStops> path{};
  std::array<std::int64_t, kMaxExactStops> eta{};

  void go(int depth, int at, std::int64_t t, std::int64_t late, std::int64_t sum, unsigned used) {
    if (depth == p.count) {
      const DropCost c{late, t, sum};
      if (!found || c < best.cost) {
        found = true;
        best.cost = c;
        best.order = path;
        best.eta_ms = eta;
      }
      return;
    }
    for (int s = 0; s < p.count; ++s) {
      if (used & (1u << s)) continue;
      const std::int64_t ts = t + p.leg_ms[at][s + 1] + p.handover_ms;
      const std::int64_t ls = late + std::max<std::int64_t>(0, ts - p.promised_ms[s]);
      if (found && (ls > best.cost.lateness_ms ||
                    (ls == best.cost.lateness_ms && ts > best.cost.finish_ms))) {
        continue;
      }
      path[depth] = s;
      eta[depth] = ts;
      go(depth + 1, s + 1, ts, ls, sum + ts, used | (1u << s));
    }
  }
};

}  // namespace

DropOrder best_drop_order(const DropProblem& p) {
  DropSearch search{p, {}, false, {}, {}};
  if (p.count <= 0) return {};
  search.go(0, 0, p.start_ms, 0, 0, 0);
  return search.best;
}

StatusOr<Plan> solve(const SolveInput& input, const SolverOptions& options,
                     const Clock* budget_clock) {
  SHOPEASY_RETURN_IF_ERROR(validate(options));
  Search search(input, options, budget_clock);
  return search.run();
}

}  // namespace shopeasy::edge::dispatch
