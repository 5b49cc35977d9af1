#include "edge/telemetry/fix_filter.hpp"

#include <algorithm>
#include <cmath>

#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::telemetry {

namespace {

double distance_m(double lat1, double lon1, double lat2, double lon2) {
  return geohash::haversine_m({lat1, lon1}, {lat2, lon2});
}

// Longitude difference folded into [-180, 180], so smoothing across the antimeridian
// moves the short way round.
double lon_delta(double from, double to) {
  double d = to - from;
  if (d > 180) d -= 360;
  if (d < -180) d += 360;
  return d;
}

double wrap_lon(double lon) {
  if (lon > 180) return lon - 360;
  if (lon < -180) return lon + 360;
  return lon;
}

}  // namespace

bool FixFilter::implausible(const Raw& from, const Raw& to) const {
  // Fixes closer in time than a second are judged as a second apart: phones batch
  // fixes and a 100 ms gap would make ordinary noise look like a rocket.
  const double dt_s = std::max(static_cast<double>(to.ts_ms - from.ts_ms) / 1000.0, 1.0);
  const double allowance = std::min(from.accuracy_m, options_->max_accuracy_m) +
                           std::min(to.accuracy_m, options_->max_accuracy_m);
  const double d = distance_m(from.lat, from.lon, to.lat, to.lon);
  return (d - allowance) / dt_s > options_->max_speed_mps;
}

void FixFilter::snap(const Raw& f) {
  shown_lat_ = f.lat;
  shown_lon_ = f.lon;
  pending_.reset();
}

// Makes `f` the live fix and moves the shown position; returns whether it moved.
bool FixFilter::accept(const Raw& f, const wire::Telemetry& t) {
  const double before_lat = shown_lat_;
  const double before_lon = shown_lon_;
  const bool first = !has_live_;
  has_live_ = true;
  live_ = f;
  live_accuracy_ = t.accuracy_m;
  live_speed_ = t.speed_mps;
  live_heading_ = t.heading_deg;
  repeats_ = 0;
  candidate_.reset();
  candidate_count_ = 0;

  const double band = std::max(options_->jitter_radius_m, 3 * f.accuracy_m);
  const bool moving = t.speed_mps.value_or(0) >= options_->moving_speed_mps;
  if (first || moving) {
    snap(f);
  } else if (distance_m(shown_lat_, shown_lon_, f.lat, f.lon) <= band) {
    // Noise around a standing runner, or a slow walk: drift, never jump.
    shown_lat_ += options_->smoothing * (f.lat - shown_lat_);
    shown_lon_ = wrap_lon(shown_lon_ + options_->smoothing * lon_delta(shown_lon_, f.lon));
    pending_.reset();
  } else if (pending_ && distance_m(pending_->lat, pending_->lon, f.lat, f.lon) <= band) {
    // Two fixes in a row agree the runner is elsewhere: a real move, follow it.
    snap(f);
  } else {
    // One fix outside the band proves nothing (noise has tails); wait for a second.
    pending_ = f;
  }
  return shown_lat_ != before_lat || shown_lon_ != before_lon;
}

FixDecision FixFilter::offer(const wire::Telemetry& t, std::int64_t now_ms) {
  FixDecision out;
  const auto max_future_ms = static_cast<std::int64_t>(options_->max_future_s * 1000.0);
  if (t.device_ts_ms > now_ms + max_future_ms) {
    out.verdict = FixVerdict::kFuture;
    return out;
  }
  const Raw f{t.lat, t.lon, t.accuracy_m.value_or(options_->default_accuracy_m), t.device_ts_ms};
  const TrailPoint raw_point{f.ts_ms, f.lat, f.lon, t.accuracy_m, t.speed_mps, t.heading_deg};

  if (has_live_) {
    const bool same_place = f.lat == live_.lat && f.lon == live_.lon;
    if (f.ts_ms == live_.ts_ms && same_place) {
      out.verdict = FixVerdict::kRepeat;
      out.repeats = ++repeats_;
      return out;
    }
    if (f.ts_ms <= live_.ts_ms) {
      // Replayed backlog: history only. Check it against the previous backlog fix so a
      // teleport in the backlog does not land in the trail either.
      if (backlog_ref_ && f.ts_ms > backlog_ref_->ts_ms && implausible(*backlog_ref_, f)) {
        out.verdict = FixVerdict::kTeleport;
        return out;
      }
      backlog_ref_ = f;
      out.verdict = FixVerdict::kBacklog;
      out.trail = raw_point;
      return out;
    }
    if (implausible(live_, f)) {
      if (candidate_ && f.ts_ms > candidate_->ts_ms && !implausible(*candidate_, f)) {
        ++candidate_count_;
      } else {
        candidate_count_ = 1;
      }
      candidate_ = f;
      if (candidate_count_ < options_->teleport_confirmations) {
        out.verdict = FixVerdict::kTeleport;
        return out;
      }
      // Several consistent fixes away from the live one: the live one was wrong.
      has_live_ = false;
    }
  }
  out.verdict = FixVerdict::kLive;
  out.moved = accept(f, t);
  out.trail = TrailPoint{f.ts_ms, shown_lat_, shown_lon_, t.accuracy_m, t.speed_mps, t.heading_deg};
  return out;
}

Fix FixFilter::shown(std::int64_t received_ts_ms) const {
  Fix fix;
  fix.lat = shown_lat_;
  fix.lon = shown_lon_;
  fix.accuracy_m = live_accuracy_;
  fix.speed_mps = live_speed_;
  fix.heading_deg = live_heading_;
  fix.device_ts_ms = live_.ts_ms;
  fix.received_ts_ms = received_ts_ms;
  return fix;
}

}  // namespace shopeasy::edge::telemetry
