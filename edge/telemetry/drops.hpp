// Why a runner message was thrown away, counted per reason in
// edge_telemetry_dropped_total{reason=...} and logged at a bounded rate (a storm of bad
// payloads must not flood the journal). Every drop in the module goes through here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"

namespace shopeasy::edge::telemetry {

enum class DropReason {
  kBadTopic,        // not runners/{token-id}/{telemetry|status|events}
  kTooLarge,        // payload above max_payload_bytes
  kUnknownRunner,   // runner not on the roster
  kRateLimited,     // telemetry above the runner's token bucket
  kQueueFull,       // the ingest queue was full
  kMalformedJson,   // refused by the JSON parser: not JSON, invalid UTF-8, nested too deep
  kInvalid,         // JSON, but a field is missing, mistyped or out of range
  kBadPosition,     // lat/lon missing, mistyped or out of range
  kRunnerMismatch,  // payload runner_id differs from the topic's
  kFutureTs,        // fix stamped too far ahead of the edge clock
  kTeleport,        // fix implies an impossible speed
};
inline constexpr std::size_t kDropReasonCount = 11;

// "bad_topic", "too_large", "unknown_runner", "rate_limited", "queue_full",
// "malformed_json", "invalid", "bad_position", "runner_mismatch", "future_ts", "teleport".
std::string_view to_string(DropReason r);

// The drop reason for a payload wire::parse_json refused (kTooLarge or kMalformedJson).
// Which step refused a payload decides between "not JSON" and "bad field", never the
// error's text.
DropReason classify_parse_error(const Status& s);
// The drop reason for parsed JSON a wire decoder refused (kBadPosition when the field is
// lat or lon, else kInvalid).
DropReason classify_decode_error(const Status& s);

class DropCounter {
 public:
  // Registers every reason's counter at zero, so dashboards see them from the start.
  DropCounter(const Clock& clock, log::Logger logger, metrics::Registry& metrics);
  DropCounter(const DropCounter&) = delete;
  DropCounter& operator=(const DropCounter&) = delete;

  // Counts one drop and logs it unless this reason has logged too much lately. `who`
  // is the runner id or topic, `detail` why. Thread-safe; lock-free unless it logs.
  void drop(DropReason reason, std::string_view who, std::string_view detail = {});
  std::uint64_t count(DropReason reason) const;
  std::uint64_t total() const;

 private:
  const Clock& clock_;
  log::Logger logger_;
  std::array<metrics::Counter*, kDropReasonCount> counters_{};
  std::array<std::unique_ptr<log::RateLimiter>, kDropReasonCount> limiters_;
};

}  // namespace shopeasy::edge::telemetry
