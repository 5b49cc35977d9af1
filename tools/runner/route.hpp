// RouteFollower: a simulated runner riding an assigned route. Idle at the store, it
// takes an assignment, rides to the assignment's store if it is elsewhere, reports
// "picked_up" for every order as it leaves, rides each stop in order along straight lines
// at a constant speed, reports "arrived_customer" and (after an optional dwell)
// "delivered" at each, then rides back to the store, reports "returned" and is idle again.
//
// Pure and deterministic: time comes only from the Clock given, there is no I/O and no
// randomness. Distances use an equirectangular approximation, accurate to well under a
// percent over a city. Not thread-safe; one owner drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/status/status.hpp"
#include "common/wire/runner.hpp"

namespace shopeasy::runner {

struct RouteOptions {
  std::string runner_id;               // stamped on every event; a token id
  wire::GeoPoint home{};               // where the runner waits while idle
  double speed_mps = 5;                // riding speed, (0, 100]
  std::chrono::milliseconds dwell{0};  // time at each customer before "delivered"; >= 0
};

// Where the runner is and what it is doing, as telemetry reports it.
struct RoutePosition {
  double lat = 0;
  double lon = 0;
  double speed_mps = 0;    // 0 unless riding
  double heading_deg = 0;  // [0, 360); the last direction ridden
  wire::RunnerState state = wire::RunnerState::kIdle;
};

// Metres between two points (equirectangular approximation).
double distance_m(const wire::GeoPoint& a, const wire::GeoPoint& b);
// Initial compass bearing from a to b in [0, 360); 0 when the points coincide.
double heading_deg(const wire::GeoPoint& a, const wire::GeoPoint& b);

class RouteFollower {
 public:
  // kInvalidArgument naming the field for a bad id, home point, speed or dwell.
  [[nodiscard]] static StatusOr<RouteFollower> create(RouteOptions options, const Clock& clock);

  // Starts riding `assignment` (already validated by the wire decoder). The runner's
  // home becomes the assignment's store. kFailedPrecondition unless idle.
  [[nodiscard]] Status assign(const wire::Assignment& assignment);

  // Moves the runner to the clock's current time and returns the events that happened
  // since the previous call, oldest first, each with a deterministic event_id, position
  // and the wall time it happened at.
  std::vector<wire::RunnerEvent> advance();

  RoutePosition position() const;
  bool idle() const { return state_ == wire::RunnerState::kIdle; }
  // The assignment being ridden; empty while idle.
  const std::string& assignment_id() const { return assignment_.assignment_id; }

 private:
  RouteFollower(RouteOptions options, const Clock& clock);

  // Moves toward target_ for at most `budget`; returns the time left over on arrival.
  std::chrono::nanoseconds ride(std::chrono::nanoseconds budget);
  // Acts on reaching target_ (or the end of a dwell) and sets up the next leg.
  void on_arrival(MonoTime at, std::vector<wire::RunnerEvent>& out);
  void set_target(const wire::GeoPoint& target, wire::RunnerState state);
  wire::RunnerEvent make_event(wire::RunnerEventType type, MonoTime at,
                               const std::string& order_id);

  RouteOptions options_;
  const Clock* clock_;
  wire::GeoPoint here_{};
  wire::GeoPoint target_{};
  double heading_ = 0;
  wire::RunnerState state_ = wire::RunnerState::kIdle;
  wire::Assignment assignment_{};
  std::size_t stop_index_ = 0;
  MonoTime moved_at_{};     // the time here_ is valid for
  MonoTime dwell_until_{};  // while at_customer
  std::uint64_t event_seq_ = 0;
};

}  // namespace shopeasy::runner
