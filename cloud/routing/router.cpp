#include "cloud/routing/router.hpp"

#include <algorithm>
#include <cmath>

namespace shopeasy::cloud::routing {

namespace {
constexpr std::int64_t kMaxStepS = 3600;
constexpr std::int64_t kMaxOnlineWindowMs = 24LL * 3600 * 1000;
constexpr std::int64_t kMaxCount = 1'000'000;

Status check_step(std::int64_t v, const char* field) {
  if (v < 0 || v > kMaxStepS) {
    return invalid_argument(std::string(field) + " must be between 0 and 3600 seconds", field);
  }
  return Status::ok();
}
}  // namespace

Status validate(const RouteOptions& options) {
  // The negated comparisons also reject NaN.
  if (!(options.detour_factor >= 1.0 && options.detour_factor <= 10.0)) {
    return invalid_argument("detour_factor must be between 1 and 10", "detour_factor");
  }
  if (!(options.ride_speed_mps > 0.0 && options.ride_speed_mps <= 100.0)) {
    return invalid_argument("ride_speed_mps must be above 0 and at most 100", "ride_speed_mps");
  }
  SHOPEASY_RETURN_IF_ERROR(check_step(options.base_pick_s, "base_pick_s"));
  SHOPEASY_RETURN_IF_ERROR(check_step(options.pick_s_per_unit, "pick_s_per_unit"));
  SHOPEASY_RETURN_IF_ERROR(check_step(options.per_queued_order_s, "per_queued_order_s"));
  if (options.online_window_ms <= 0 || options.online_window_ms > kMaxOnlineWindowMs) {
    return invalid_argument("online_window_ms must be above 0 and at most one day",
                            "online_window_ms");
  }
  return Status::ok();
}

std::int64_t estimate_eta_s(double distance_m, std::int64_t queue, std::int64_t units,
                            const RouteOptions& options) {
  queue = std::clamp<std::int64_t>(queue, 0, kMaxCount);
  units = std::clamp<std::int64_t>(units, 0, kMaxCount);
  // Service circles are at most 50 km, so the ride fits easily; the cast is guarded
  // anyway against a caller passing an absurd distance.
  const double ride =
      std::ceil(std::max(distance_m, 0.0) * options.detour_factor / options.ride_speed_mps);
  const auto ride_s = static_cast<std::int64_t>(std::min(ride, 1e12));
  return queue * options.per_queued_order_s + options.base_pick_s +
         units * options.pick_s_per_unit + ride_s;
}

bool ranks_before(const RankedStore& a, const RankedStore& b) {
  if (a.eta_s != b.eta_s) return a.eta_s < b.eta_s;
  if (a.distance_m != b.distance_m) return a.distance_m < b.distance_m;
  return a.store_id < b.store_id;
}

std::vector<RankedStore> rank(const StoreIndex& index, geohash::LatLon point, std::int64_t now_ms,
                              std::int64_t units,
                              const std::function<std::int64_t(const std::string&)>& queue_length,
                              const std::function<bool(const std::string&)>& has_stock,
                              const RouteOptions& options) {
  std::vector<RankedStore> out;
  if (units < 0 || !validate(options).is_ok()) return out;
  const Serving serving = index.serving(point, now_ms, options.online_window_ms);
  out.reserve(serving.candidates.size());
  for (const Candidate& c : serving.candidates) {
    if (!c.open || !c.online) continue;
    const std::string& id = c.store->id;
    if (has_stock && !has_stock(id)) continue;
    const std::int64_t queue = queue_length ? queue_length(id) : 0;
    out.push_back(
        RankedStore{id, c.distance_m, estimate_eta_s(c.distance_m, queue, units, options)});
  }
  std::sort(out.begin(), out.end(), ranks_before);
  return out;
}

}  // namespace shopeasy::cloud::routing
