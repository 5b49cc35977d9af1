#include "common/wire/runner.hpp"

namespace shopeasy::wire {
namespace {

using nlohmann::json;

void read_geo(FieldReader& r, double* lat, double* lon) {
  r.required_double("lat", lat, -90, 90);
  r.required_double("lon", lon, -180, 180);
}

json encode_geo(double lat, double lon) { return json{{"lat", lat}, {"lon", lon}}; }

}  // namespace

bool event_requires_order(RunnerEventType type) {
  return type == RunnerEventType::kPickedUp || type == RunnerEventType::kDelivered ||
         type == RunnerEventType::kFailed;
}

StatusOr<Telemetry> decode_telemetry(const json& j) {
  return decode_with<Telemetry>(j, [](FieldReader& r, Telemetry& t) {
    r.required_string("runner_id", &t.runner_id, kTokenIdRule);
    r.required_double("lat", &t.lat, -90, 90);
    r.required_double("lon", &t.lon, -180, 180);
    r.optional_double("accuracy_m", &t.accuracy_m, 0);
    r.optional_double("speed_mps", &t.speed_mps, 0, 100);
    r.optional_double("heading_deg", &t.heading_deg, 0, 360, Upper::kExclusive);
    r.optional_int("battery_pct", &t.battery_pct, 0, 100);
    r.required_enum("state", &t.state);
    r.required_int("device_ts_ms", &t.device_ts_ms, kMinTimestampMs, kMaxInt64);
    r.optional_uint("seq", &t.seq);
  });
}

json encode(const Telemetry& t) {
  json j = {{"runner_id", t.runner_id},
            {"lat", t.lat},
            {"lon", t.lon},
            {"state", to_string(t.state)},
            {"device_ts_ms", t.device_ts_ms}};
  set_optional(j, "accuracy_m", t.accuracy_m);
  set_optional(j, "speed_mps", t.speed_mps);
  set_optional(j, "heading_deg", t.heading_deg);
  set_optional(j, "battery_pct", t.battery_pct);
  set_optional(j, "seq", t.seq);
  return j;
}

StatusOr<Telemetry> parse_telemetry(std::string_view payload, std::size_t max_bytes) {
  return parse_and_decode<Telemetry>(payload, max_bytes, &decode_telemetry);
}

StatusOr<RunnerStatus> decode_runner_status(const json& j) {
  return decode_with<RunnerStatus>(j, [](FieldReader& r, RunnerStatus& s) {
    r.required_string("runner_id", &s.runner_id, kTokenIdRule);
    r.required_enum("status", &s.status);
    r.required_int("ts_ms", &s.ts_ms, kMinTimestampMs, kMaxInt64);
    r.optional_int("battery_pct", &s.battery_pct, 0, 100);
    r.optional_string("app_version", &s.app_version,
                      {.max_len = 32, .non_empty = true, .charset = CharSet::kPrintable});
  });
}

json encode(const RunnerStatus& s) {
  json j = {{"runner_id", s.runner_id}, {"status", to_string(s.status)}, {"ts_ms", s.ts_ms}};
  set_optional(j, "battery_pct", s.battery_pct);
  set_optional(j, "app_version", s.app_version);
  return j;
}

StatusOr<RunnerStatus> parse_runner_status(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<RunnerStatus>(text, max_bytes, &decode_runner_status);
}

StatusOr<RunnerEvent> decode_runner_event(const json& j) {
  return decode_with<RunnerEvent>(j, [](FieldReader& r, RunnerEvent& e) {
    r.required_string("event_id", &e.event_id, kIdRule);
    r.required_string("runner_id", &e.runner_id, kTokenIdRule);
    r.required_enum("type", &e.type);
    if (r.ok() && event_requires_order(e.type)) {
      r.required_string("order_id", &e.order_id.emplace(), kIdRule);
    } else {
      r.optional_string("order_id", &e.order_id, kIdRule);
    }
    r.optional_string("reason", &e.reason, kTextRule);
    r.optional_double("lat", &e.lat, -90, 90);
    r.optional_double("lon", &e.lon, -180, 180);
    if (r.ok() && e.lat.has_value() != e.lon.has_value()) {
      r.fail(e.lat ? "lon" : "lat", "is required when the other coordinate is given");
    }
    r.required_int("ts_ms", &e.ts_ms, kMinTimestampMs, kMaxInt64);
  });
}

json encode(const RunnerEvent& e) {
  json j = {{"event_id", e.event_id},
            {"runner_id", e.runner_id},
            {"type", to_string(e.type)},
            {"ts_ms", e.ts_ms}};
  set_optional(j, "order_id", e.order_id);
  set_optional(j, "reason", e.reason);
  set_optional(j, "lat", e.lat);
  set_optional(j, "lon", e.lon);
  return j;
}

StatusOr<RunnerEvent> parse_runner_event(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<RunnerEvent>(text, max_bytes, &decode_runner_event);
}

StatusOr<Assignment> decode_assignment(const json& j) {
  return decode_with<Assignment>(j, [](FieldReader& r, Assignment& a) {
    r.required_string("assignment_id", &a.assignment_id, kIdRule);
    r.required_string("runner_id", &a.runner_id, kTokenIdRule);
    r.required_object("store",
                      [&](FieldReader& store) { read_geo(store, &a.store.lat, &a.store.lon); });
    r.required_array("stops", 1, kMaxAssignmentStops, [&](FieldReader& item, std::size_t) {
      AssignmentStop& stop = a.stops.emplace_back();
      item.required_string("order_id", &stop.order_id, kIdRule);
      read_geo(item, &stop.lat, &stop.lon);
      item.optional_string("address", &stop.address, kTextRule);
      item.required_int("promised_at_ms", &stop.promised_at_ms, kMinTimestampMs, kMaxInt64);
    });
    r.required_int("issued_at_ms", &a.issued_at_ms, kMinTimestampMs, kMaxInt64);
  });
}

json encode(const Assignment& a) {
  json stops = json::array();
  for (const AssignmentStop& s : a.stops) {
    json stop = {{"order_id", s.order_id},
                 {"lat", s.lat},
                 {"lon", s.lon},
                 {"promised_at_ms", s.promised_at_ms}};
    set_optional(stop, "address", s.address);
    stops.push_back(std::move(stop));
  }
  return json{{"assignment_id", a.assignment_id},
              {"runner_id", a.runner_id},
              {"store", encode_geo(a.store.lat, a.store.lon)},
              {"stops", std::move(stops)},
              {"issued_at_ms", a.issued_at_ms}};
}

StatusOr<Assignment> parse_assignment(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<Assignment>(text, max_bytes, &decode_assignment);
}

}  // namespace shopeasy::wire
