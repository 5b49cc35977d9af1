#include "edge/telemetry/drops.hpp"

#include <string>

namespace shopeasy::edge::telemetry {

std::string_view to_string(DropReason r) {
  static constexpr std::array<std::string_view, kDropReasonCount> kNames = {
      "bad_topic",       "too_large",      "unknown_runner", "rate_limited",
      "queue_full",      "malformed_json", "invalid",        "bad_position",
      "runner_mismatch", "future_ts",      "teleport"};
  const auto i = static_cast<std::size_t>(r);
  return i < kNames.size() ? kNames[i] : "unknown";
}

DropReason classify_parse_error(const Status& s) {
  return s.code() == StatusCode::kPayloadTooLarge ? DropReason::kTooLarge
                                                  : DropReason::kMalformedJson;
}

DropReason classify_decode_error(const Status& s) {
  if (s.field() == "lat" || s.field() == "lon") return DropReason::kBadPosition;
  return DropReason::kInvalid;
}

DropCounter::DropCounter(const Clock& clock, log::Logger logger, metrics::Registry& metrics)
    : clock_(clock), logger_(std::move(logger)) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    counters_[i] = &metrics.counter(
        "edge_telemetry_dropped_total", "Runner messages or fixes thrown away, by reason",
        {{"reason", std::string(to_string(static_cast<DropReason>(i)))}});
    // Five lines a minute per reason: enough to see which runner misbehaves.
    limiters_[i] = std::make_unique<log::RateLimiter>(5, std::chrono::minutes(1));
  }
}

void DropCounter::drop(DropReason reason, std::string_view who, std::string_view detail) {
  const auto i = static_cast<std::size_t>(reason);
  counters_[i]->inc();
  std::uint64_t suppressed = 0;
  if (!limiters_[i]->allow(clock_.mono_now(), &suppressed)) return;
  logger_.warn("message_dropped", {{"reason", to_string(reason)},
                                   {"from", who.substr(0, 128)},
                                   {"detail", detail.substr(0, 200)},
                                   {"suppressed", suppressed}});
}

std::uint64_t DropCounter::count(DropReason reason) const {
  return counters_[static_cast<std::size_t>(reason)]->value();
}

std::uint64_t DropCounter::total() const {
  std::uint64_t sum = 0;
  for (const auto* c : counters_) sum += c->value();
  return sum;
}

}  // namespace shopeasy::edge::telemetry
