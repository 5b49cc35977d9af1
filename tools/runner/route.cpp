#include "tools/runner/route.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace shopeasy::runner {

namespace {

constexpr double kEarthRadiusM = 6371000.0;
constexpr double kPi = 3.14159265358979323846;

double to_rad(double deg) { return deg * kPi / 180.0; }

// East and north offsets in metres from a to b.
void offsets_m(const wire::GeoPoint& a, const wire::GeoPoint& b, double& east, double& north) {
  const double mean_lat = to_rad((a.lat + b.lat) / 2);
  east = to_rad(b.lon - a.lon) * std::cos(mean_lat) * kEarthRadiusM;
  north = to_rad(b.lat - a.lat) * kEarthRadiusM;
}

// Stable across restarts and redeliveries, so the edge's dedupe on event_id treats a
// milestone reported twice as one.
std::string event_id_for(const std::string& runner_id, const std::string& assignment_id,
                         wire::RunnerEventType type, const std::string& order_id) {
  std::uint64_t h = 1469598103934665603ull;
  const auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(runner_id);
  mix(assignment_id);
  mix(wire::to_string(type));
  mix(order_id);
  char buf[32];
  std::snprintf(buf, sizeof buf, "ev-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

double distance_m(const wire::GeoPoint& a, const wire::GeoPoint& b) {
  double east = 0;
  double north = 0;
  offsets_m(a, b, east, north);
  return std::hypot(east, north);
}

double heading_deg(const wire::GeoPoint& a, const wire::GeoPoint& b) {
  double east = 0;
  double north = 0;
  offsets_m(a, b, east, north);
  if (east == 0 && north == 0) return 0;
  double deg = std::atan2(east, north) * 180.0 / kPi;
  if (deg < 0) deg += 360;
  // Rounding can land exactly on 360, which the wire format excludes.
  if (deg >= 360) deg = 0;
  return deg;
}

StatusOr<RouteFollower> RouteFollower::create(RouteOptions options, const Clock& clock) {
  if (options.runner_id.empty() || options.runner_id.size() > 64) {
    return invalid_argument("runner id must be 1 to 64 characters", "runner_id");
  }
  if (!(options.home.lat >= -90 && options.home.lat <= 90)) {
    return invalid_argument("home latitude must be in [-90, 90]", "home.lat");
  }
  if (!(options.home.lon >= -180 && options.home.lon <= 180)) {
    return invalid_argument("home longitude must be in [-180, 180]", "home.lon");
  }
  if (!(options.speed_mps > 0 && options.speed_mps <= 100)) {
    return invalid_argument("speed must be in (0, 100] m/s", "speed_mps");
  }
  if (options.dwell.count() < 0) return invalid_argument("dwell must be >= 0", "dwell");
  return RouteFollower(std::move(options), clock);
}

RouteFollower::RouteFollower(RouteOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(&clock),
      here_(options_.home),
      target_(options_.home),
      moved_at_(clock.mono_now()) {}

Status RouteFollower::assign(const wire::Assignment& assignment) {
  if (state_ != wire::RunnerState::kIdle) {
    return failed_precondition("runner is busy with assignment " + assignment_.assignment_id);
  }
  if (assignment.stops.empty()) return invalid_argument("assignment has no stops", "stops");
  assignment_ = assignment;
  options_.home = assignment.store;
  stop_index_ = 0;
  moved_at_ = clock_->mono_now();
  set_target(assignment.store, wire::RunnerState::kToStore);
  return Status::ok();
}

void RouteFollower::set_target(const wire::GeoPoint& target, wire::RunnerState state) {
  target_ = target;
  state_ = state;
  if (distance_m(here_, target_) > 0) heading_ = heading_deg(here_, target_);
}

std::chrono::nanoseconds RouteFollower::ride(std::chrono::nanoseconds budget) {
  const double remaining_m = distance_m(here_, target_);
  const double reach_m = options_.speed_mps * std::chrono::duration<double>(budget).count();
  if (reach_m < remaining_m) {
    const double f = reach_m / remaining_m;
    here_.lat += (target_.lat - here_.lat) * f;
    here_.lon += (target_.lon - here_.lon) * f;
    return std::chrono::nanoseconds(-1);
  }
  here_ = target_;
  const auto needed = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(remaining_m / options_.speed_mps));
  return std::max(budget - needed, std::chrono::nanoseconds(0));
}

wire::RunnerEvent RouteFollower::make_event(wire::RunnerEventType type, MonoTime at,
                                            const std::string& order_id) {
  wire::RunnerEvent e;
  e.event_id = event_id_for(options_.runner_id, assignment_.assignment_id, type, order_id);
  e.runner_id = options_.runner_id;
  e.type = type;
  if (!order_id.empty()) e.order_id = order_id;
  e.lat = here_.lat;
  e.lon = here_.lon;
  // The wall time the milestone happened, which may be earlier than now when advance()
  // covers a long step.
  const auto ago = clock_->mono_now() - at;
  e.ts_ms = to_unix_ms(clock_->wall_now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(ago));
  ++event_seq_;
  return e;
}

void RouteFollower::on_arrival(MonoTime at, std::vector<wire::RunnerEvent>& out) {
  using wire::RunnerEventType;
  using wire::RunnerState;
  switch (state_) {
    case RunnerState::kToStore:
      for (const auto& stop : assignment_.stops) {
        out.push_back(make_event(RunnerEventType::kPickedUp, at, stop.order_id));
      }
      set_target({assignment_.stops[0].lat, assignment_.stops[0].lon}, RunnerState::kToCustomer);
      break;
    case RunnerState::kToCustomer:
      out.push_back(make_event(RunnerEventType::kArrivedCustomer, at,
                               assignment_.stops[stop_index_].order_id));
      state_ = RunnerState::kAtCustomer;
      dwell_until_ = at + options_.dwell;
      break;
    case RunnerState::kAtCustomer:
      out.push_back(
          make_event(RunnerEventType::kDelivered, at, assignment_.stops[stop_index_].order_id));
      ++stop_index_;
      if (stop_index_ < assignment_.stops.size()) {
        const auto& next = assignment_.stops[stop_index_];
        set_target({next.lat, next.lon}, RunnerState::kToCustomer);
      } else {
        set_target(options_.home, RunnerState::kReturning);
      }
      break;
    case RunnerState::kReturning:
      out.push_back(make_event(RunnerEventType::kReturned, at, ""));
      state_ = RunnerState::kIdle;
      assignment_ = {};
      break;
    default:
      break;
  }
}

std::vector<wire::RunnerEvent> RouteFollower::advance() {
  std::vector<wire::RunnerEvent> out;
  const MonoTime now = clock_->mono_now();
  if (now < moved_at_) return out;
  // Each pass finishes one leg or dwell, so a long step plays the whole route through
  // in order; a route has at most 2 + 2 x kMaxAssignmentStops milestones.
  while (true) {
    if (state_ == wire::RunnerState::kIdle) {
      moved_at_ = now;
      break;
    }
    if (state_ == wire::RunnerState::kAtCustomer) {
      if (now < dwell_until_) {
        moved_at_ = now;
        break;
      }
      moved_at_ = dwell_until_;
      on_arrival(moved_at_, out);
      continue;
    }
    const auto left = ride(now - moved_at_);
    if (left.count() < 0) {
      moved_at_ = now;
      break;
    }
    moved_at_ = now - left;
    on_arrival(moved_at_, out);
  }
  return out;
}

RoutePosition RouteFollower::position() const {
  RoutePosition p;
  p.lat = here_.lat;
  p.lon = here_.lon;
  p.heading_deg = heading_;
  p.state = state_;
  const bool riding = state_ == wire::RunnerState::kToStore ||
                      state_ == wire::RunnerState::kToCustomer ||
                      state_ == wire::RunnerState::kReturning;
  p.speed_mps = riding ? options_.speed_mps : 0;
  return p;
}

}  // namespace shopeasy::runner
