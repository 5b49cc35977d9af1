// The vocabulary of the telemetry module: a runner's presence, its latest position as
// the map shows it, a point of its stored trail, and the snapshot of one runner that
// the API, the event bus and the dispatch module read. Plain values, no behaviour
// beyond their JSON form.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/wire/runner.hpp"

namespace shopeasy::edge::telemetry {

// Whether a runner can be counted on. kUnknown: not heard from since the edge started;
// kOnline: telemetry (or an "online" status) arriving; kStale: silent for longer than
// the stale limit; kGpsFrozen: messages keep arriving but repeat the same fix;
// kOffline: the runner (or the broker's last will on its behalf) said "offline".
enum class Presence { kUnknown, kOnline, kStale, kGpsFrozen, kOffline };

// "unknown", "online", "stale", "gps_frozen", "offline".
std::string_view to_string(Presence p);

// The live position of a runner. lat/lon are what the map shows (jitter-smoothed);
// the other fields come from the newest accepted report.
struct Fix {
  double lat = 0;
  double lon = 0;
  std::optional<double> accuracy_m;
  std::optional<double> speed_mps;
  std::optional<double> heading_deg;
  std::int64_t device_ts_ms = 0;    // the phone's timestamp of the report
  std::int64_t received_ts_ms = 0;  // edge wall time when it was applied
};

// One stored point of a runner's trail.
struct TrailPoint {
  std::int64_t ts_ms = 0;  // device time of the fix
  double lat = 0;
  double lon = 0;
  std::optional<double> accuracy_m;
  std::optional<double> speed_mps;
  std::optional<double> heading_deg;
  friend bool operator==(const TrailPoint&, const TrailPoint&) = default;
};

// A copy of what the edge knows about one runner at one moment.
struct RunnerView {
  std::string id;
  std::string name;  // display name from the roster, may be empty
  wire::RunnerState state = wire::RunnerState::kIdle;
  Presence presence = Presence::kUnknown;
  std::optional<int> battery_pct;
  std::optional<std::string> app_version;
  std::optional<Fix> fix;
  std::optional<std::int64_t> last_seen_ms;  // edge wall time of the last message
};

// The API form: {"id","name","state","presence","battery_pct","app_version",
// "last_seen_ms","fix":{"lat","lon","accuracy_m","speed_mps","heading_deg",
// "device_ts_ms","received_ts_ms","age_ms"}}; absent optionals omitted. The fix's age is
// computed at `now_ms`.
nlohmann::json to_json(const RunnerView& v, std::int64_t now_ms);
// The body of a runner.updated event: flat and small, because at 2,000 runners the
// event bus ring is always full of them. {"id","state","presence",["name",
// "battery_pct","lat","lon","accuracy_m","speed_mps","heading_deg","device_ts_ms",
// "received_ts_ms"]}; the fix fields only when there is a fix, name only when set.
nlohmann::json to_event_json(const RunnerView& v);
// {"ts_ms","lat","lon",["accuracy_m","speed_mps","heading_deg"]}
nlohmann::json to_json(const TrailPoint& p);

}  // namespace shopeasy::edge::telemetry
