// Messages between delivery runners' phones and the store edge over MQTT: position
// telemetry (runners/{id}/telemetry, high rate, QoS0), retained presence
// (runners/{id}/status), delivery events (runners/{id}/events, QoS1, deduplicated by
// event_id) and the route the edge assigns (runners/{id}/assignment).
//
// Every type has decode_<type>(json) / parse_<type>(text) which validate and never throw
// (kInvalidArgument naming the field path, kPayloadTooLarge for oversized text), and
// encode(value) producing snake_case JSON with absent optionals omitted. encode does not
// validate: decode(encode(v)) fails exactly when v itself is invalid. Unknown JSON keys
// are ignored. All functions are thread-safe. Every struct member has a default, so
// designated initializers may leave any of them out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"
#include "common/wire/basics.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::wire {

enum class RunnerState {
  kIdle,
  kToStore,
  kAtStore,
  kToCustomer,
  kAtCustomer,
  kReturning,
  kOffline
};
template <>
struct EnumNames<RunnerState> {
  static constexpr std::array<std::string_view, 7> kNames = {
      "idle", "to_store", "at_store", "to_customer", "at_customer", "returning", "offline"};
};

// One position report from a runner's phone.
struct Telemetry {
  std::string runner_id{};              // 1..64 of [A-Za-z0-9_-]
  double lat = 0;                       // [-90, 90]
  double lon = 0;                       // [-180, 180]
  std::optional<double> accuracy_m{};   // >= 0
  std::optional<double> speed_mps{};    // [0, 100]
  std::optional<double> heading_deg{};  // [0, 360)
  std::optional<int> battery_pct{};     // 0..100
  RunnerState state = RunnerState::kIdle;
  std::int64_t device_ts_ms = 0;       // > 0, the phone's clock
  std::optional<std::uint64_t> seq{};  // per-runner counter, lets the edge spot loss/reorder
  friend bool operator==(const Telemetry&, const Telemetry&) = default;
};

// Validates j and builds a Telemetry; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<Telemetry> decode_telemetry(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const Telemetry& t);
// The hot path (tens of thousands of messages per second): parses straight from the
// payload bytes without copying them; errors as parse_json and decode_telemetry. Measured
// at about 2.5 us of CPU for a typical 185-byte message (x86-64, -O2), almost all of it
// JSON lexing; decoding the DOM is about 0.2 us.
[[nodiscard]] StatusOr<Telemetry> parse_telemetry(std::string_view payload,
                                                  std::size_t max_bytes = kDefaultMaxJsonBytes);

enum class RunnerPresence { kOnline, kOffline };
template <>
struct EnumNames<RunnerPresence> {
  static constexpr std::array<std::string_view, 2> kNames = {"online", "offline"};
};

// Retained presence message; the broker's last-will publishes the offline form.
struct RunnerStatus {
  std::string runner_id{};  // token id
  RunnerPresence status = RunnerPresence::kOffline;
  std::int64_t ts_ms = 0;                    // > 0
  std::optional<int> battery_pct{};          // 0..100
  std::optional<std::string> app_version{};  // 1..32, printable
  friend bool operator==(const RunnerStatus&, const RunnerStatus&) = default;
};

// Validates j and builds a RunnerStatus; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<RunnerStatus> decode_runner_status(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const RunnerStatus& s);
// parse_json(text, max_bytes) then decode_runner_status.
[[nodiscard]] StatusOr<RunnerStatus> parse_runner_status(
    std::string_view text, std::size_t max_bytes = kDefaultMaxJsonBytes);

enum class RunnerEventType { kPickedUp, kArrivedCustomer, kDelivered, kFailed, kReturned, kSos };
template <>
struct EnumNames<RunnerEventType> {
  static constexpr std::array<std::string_view, 6> kNames = {
      "picked_up", "arrived_customer", "delivered", "failed", "returned", "sos"};
};

// True for the event types that must name an order (picked_up, delivered, failed).
bool event_requires_order(RunnerEventType type);

// A delivery milestone reported by a runner. Delivered at least once; dedupe on event_id.
struct RunnerEvent {
  std::string event_id{};  // 1..64, printable
  std::string runner_id{};
  RunnerEventType type = RunnerEventType::kPickedUp;
  std::optional<std::string> order_id{};  // required when event_requires_order(type)
  std::optional<std::string> reason{};    // 1..256
  std::optional<double> lat{};            // lat and lon come together or not at all
  std::optional<double> lon{};
  std::int64_t ts_ms = 0;
  friend bool operator==(const RunnerEvent&, const RunnerEvent&) = default;
};

// Validates j and builds a RunnerEvent; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<RunnerEvent> decode_runner_event(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const RunnerEvent& e);
// parse_json(text, max_bytes) then decode_runner_event.
[[nodiscard]] StatusOr<RunnerEvent> parse_runner_event(
    std::string_view text, std::size_t max_bytes = kDefaultMaxJsonBytes);

// One drop-off on an assigned route.
struct AssignmentStop {
  std::string order_id{};
  double lat = 0;
  double lon = 0;
  std::optional<std::string> address{};  // 1..256, free text
  std::int64_t promised_at_ms = 0;
  friend bool operator==(const AssignmentStop&, const AssignmentStop&) = default;
};

inline constexpr std::size_t kMaxAssignmentStops = 10;

// A route the edge gives a runner: collect at the store, then visit stops in order.
struct Assignment {
  std::string assignment_id{};
  std::string runner_id{};
  GeoPoint store{};
  std::vector<AssignmentStop> stops{};  // 1..kMaxAssignmentStops
  std::int64_t issued_at_ms = 0;
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// Validates j and builds a Assignment; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<Assignment> decode_assignment(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const Assignment& a);
// parse_json(text, max_bytes) then decode_assignment.
[[nodiscard]] StatusOr<Assignment> parse_assignment(std::string_view text,
                                                    std::size_t max_bytes = kDefaultMaxJsonBytes);

}  // namespace shopeasy::wire
