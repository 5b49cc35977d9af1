#include "edge/telemetry/types.hpp"

#include <algorithm>

namespace shopeasy::edge::telemetry {

std::string_view to_string(Presence p) {
  switch (p) {
    case Presence::kUnknown:
      return "unknown";
    case Presence::kOnline:
      return "online";
    case Presence::kStale:
      return "stale";
    case Presence::kGpsFrozen:
      return "gps_frozen";
    case Presence::kOffline:
      return "offline";
  }
  return "unknown";
}

namespace {

template <typename T>
void set_optional(nlohmann::json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

}  // namespace

nlohmann::json to_json(const RunnerView& v, std::int64_t now_ms) {
  nlohmann::json j = {{"id", v.id},
                      {"name", v.name},
                      {"state", wire::to_string(v.state)},
                      {"presence", to_string(v.presence)}};
  set_optional(j, "battery_pct", v.battery_pct);
  set_optional(j, "app_version", v.app_version);
  set_optional(j, "last_seen_ms", v.last_seen_ms);
  if (v.fix) {
    const Fix& f = *v.fix;
    nlohmann::json fix = {{"lat", f.lat},
                          {"lon", f.lon},
                          {"device_ts_ms", f.device_ts_ms},
                          {"received_ts_ms", f.received_ts_ms},
                          {"age_ms", std::max<std::int64_t>(0, now_ms - f.received_ts_ms)}};
    set_optional(fix, "accuracy_m", f.accuracy_m);
    set_optional(fix, "speed_mps", f.speed_mps);
    set_optional(fix, "heading_deg", f.heading_deg);
    j["fix"] = std::move(fix);
  }
  return j;
}

nlohmann::json to_event_json(const RunnerView& v) {
  nlohmann::json j = {
      {"id", v.id}, {"state", wire::to_string(v.state)}, {"presence", to_string(v.presence)}};
  if (!v.name.empty()) j["name"] = v.name;
  set_optional(j, "battery_pct", v.battery_pct);
  if (v.fix) {
    const Fix& f = *v.fix;
    j["lat"] = f.lat;
    j["lon"] = f.lon;
    set_optional(j, "accuracy_m", f.accuracy_m);
    set_optional(j, "speed_mps", f.speed_mps);
    set_optional(j, "heading_deg", f.heading_deg);
    j["device_ts_ms"] = f.device_ts_ms;
    j["received_ts_ms"] = f.received_ts_ms;
  }
  return j;
}

nlohmann::json to_json(const TrailPoint& p) {
  nlohmann::json j = {{"ts_ms", p.ts_ms}, {"lat", p.lat}, {"lon", p.lon}};
  set_optional(j, "accuracy_m", p.accuracy_m);
  set_optional(j, "speed_mps", p.speed_mps);
  set_optional(j, "heading_deg", p.heading_deg);
  return j;
}

}  // namespace shopeasy::edge::telemetry
