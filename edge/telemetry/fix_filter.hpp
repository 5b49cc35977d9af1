// FixFilter: decides what one runner's position report means for the live map and the
// trail. Phones lie in known ways: fixes teleport kilometres for a second, a phone
// standing still scatters fixes tens of metres around its true place, clocks run
// ahead, and after an outage hours of queued fixes arrive after the live ones. The
// filter keeps the newest plausible fix as the live one, shows a smoothed position
// that does not jump about while the runner stands still yet follows real moves, files
// older fixes to history only, and rejects implausible jumps and far-future times.
//
// One FixFilter per runner. Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <optional>

#include "common/wire/runner.hpp"
#include "edge/telemetry/types.hpp"

namespace shopeasy::edge::telemetry {

struct FilterOptions {
  // A fix implying a speed above this (against the last accepted fix, after allowing
  // for both fixes' accuracy) is a teleport and is rejected.
  double max_speed_mps = 50;
  // A fix stamped further ahead of the edge's clock than this is rejected.
  double max_future_s = 60;
  // Fixes within max(jitter_radius_m, 3 x accuracy) of the shown position are taken as
  // noise: the shown position drifts towards them instead of jumping.
  double jitter_radius_m = 30;
  // A reported speed at or above this means the runner is moving: the shown position
  // follows the fix at once.
  double moving_speed_mps = 2.0;
  // Weight (0, 1] of a fix inside the noise band when smoothing the shown position.
  double smoothing = 0.2;
  // This many consecutive rejected fixes that are plausible among themselves are taken
  // as a real relocation (the previous live fix was the bad one) and accepted.
  int teleport_confirmations = 3;
  // Accuracy assumed for a report without one, and the most any report may claim in
  // the teleport allowance (so a phone saying "accuracy 5 km" cannot disable the check).
  double default_accuracy_m = 10;
  double max_accuracy_m = 50;
};

enum class FixVerdict {
  kLive,      // the new live fix
  kRepeat,    // the live fix again (same device time and place): a frozen GPS sign
  kBacklog,   // older than the live fix: history only
  kTeleport,  // implausible jump: rejected
  kFuture,    // stamped too far ahead of the edge clock: rejected
};

struct FixDecision {
  FixVerdict verdict = FixVerdict::kLive;
  // The shown position changed (kLive only).
  bool moved = false;
  // kRepeat: how many times in a row the live fix has been repeated so far.
  int repeats = 0;
  // What to offer the trail: the shown position for a live fix, the raw one for a
  // backlog fix, nothing otherwise.
  std::optional<TrailPoint> trail;
};

class FixFilter {
 public:
  explicit FixFilter(const FilterOptions& options) : options_(&options) {}

  // Classifies `t` (already validated by the wire codec) at edge wall time `now_ms`
  // and updates the live and shown positions accordingly. `options` given at
  // construction must outlive the filter.
  FixDecision offer(const wire::Telemetry& t, std::int64_t now_ms);

  bool has_live() const { return has_live_; }
  // The shown position (smoothed) with the newest accepted report's metadata. Only
  // meaningful when has_live().
  Fix shown(std::int64_t received_ts_ms) const;
  // Consecutive repeats of the live fix; 0 after any new live fix.
  int repeats() const { return repeats_; }

 private:
  struct Raw {
    double lat = 0;
    double lon = 0;
    double accuracy_m = 0;
    std::int64_t ts_ms = 0;
  };
  bool implausible(const Raw& from, const Raw& to) const;
  bool accept(const Raw& f, const wire::Telemetry& t);
  void snap(const Raw& f);

  const FilterOptions* options_;
  bool has_live_ = false;
  Raw live_{};
  std::optional<double> live_accuracy_, live_speed_, live_heading_;
  double shown_lat_ = 0;
  double shown_lon_ = 0;
  std::optional<Raw> pending_;    // outside the noise band, waiting for a second opinion
  std::optional<Raw> candidate_;  // newest rejected fix, a possible relocation
  int candidate_count_ = 0;
  std::optional<Raw> backlog_ref_;  // last backlog fix filed, to check backlog jumps
  int repeats_ = 0;
};

}  // namespace shopeasy::edge::telemetry
