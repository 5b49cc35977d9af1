// Router: ranks the stores able to serve a delivery point by estimated delivery time.
// Candidates come from StoreIndex (service circle, active, open, online); the caller
// supplies each store's order queue and whether it holds every line of the order, so
// the same ranking serves the live order path and benchmarks. The estimate is
// queue wait + pick time + ride time, where the ride is the straight-line distance
// stretched by a detour factor over a riding speed. Ties break by distance, then store
// id, so the same inputs always give the same order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cloud/routing/store_index.hpp"
#include "common/geohash/geohash.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::routing {

struct RouteOptions {
  double detour_factor = 1.4;  // road distance / straight-line distance, >= 1
  double ride_speed_mps = 5.5;
  std::int64_t base_pick_s = 60;
  std::int64_t pick_s_per_unit = 10;
  std::int64_t per_queued_order_s = 45;
  std::int64_t online_window_ms = 30000;
};

struct RankedStore {
  std::string store_id;
  double distance_m = 0;
  std::int64_t eta_s = 0;  // queue + pick + ride
};

// Whether `options` describe a plausible delivery operation: detour factor in [1, 10],
// ride speed in (0, 100] m/s, per-step times in [0, 1 h], online window in (0, 1 day].
// kInvalidArgument naming the offending field otherwise.
[[nodiscard]] Status validate(const RouteOptions& options);

// Stores that can take an order of `units` units for `point`, best estimated delivery
// time first, ties by distance then id. A store qualifies when it is active, open and
// online at `now_ms`, its service circle holds the point and has_stock(id) says yes.
// queue_length(id) is the number of orders ahead of this one (negative counts as 0).
// An empty queue_length means no queues; an empty has_stock means every store has
// stock. has_stock and queue_length are called only for stores that pass the other
// checks. Nothing qualifies for invalid options (see validate()), negative units or a
// point that is not a valid coordinate.
std::vector<RankedStore> rank(const StoreIndex& index, geohash::LatLon point, std::int64_t now_ms,
                              std::int64_t units,
                              const std::function<std::int64_t(const std::string&)>& queue_length,
                              const std::function<bool(const std::string&)>& has_stock,
                              const RouteOptions& options);

// The estimated delivery time of one store for an order, as rank() computes it:
// queue * per_queued_order_s + base_pick_s + units * pick_s_per_unit + ride time
// (distance * detour / speed, rounded up to whole seconds). Queue and units are clamped
// to [0, 1,000,000] so the sum cannot overflow.
std::int64_t estimate_eta_s(double distance_m, std::int64_t queue, std::int64_t units,
                            const RouteOptions& options);

// Orders ranked stores best first: ETA, then distance, then id.
bool ranks_before(const RankedStore& a, const RankedStore& b);

}  // namespace shopeasy::cloud::routing
