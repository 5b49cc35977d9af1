// Field rules and small value types shared by all wire messages, so that an id or a
// coordinate is validated the same way whichever message carries it.
#pragma once

#include <cstdint>

#include "common/wire/json_fields.hpp"

namespace shopeasy::wire {

// Ids that appear in MQTT topics or URL paths (runner, scanner, store): 1..64 of
// [A-Za-z0-9_-].
inline constexpr StringRule kTokenIdRule{
    .max_len = 64, .non_empty = true, .charset = CharSet::kToken};
// Other ids (orders, SKUs, bins, lots, events, scans): 1..64, no control characters.
inline constexpr StringRule kIdRule{
    .max_len = 64, .non_empty = true, .charset = CharSet::kPrintable};
// Free text such as reasons and addresses: 1..256 characters.
inline constexpr StringRule kTextRule{.max_len = 256, .non_empty = true, .charset = CharSet::kAny};
// Timestamps are Unix milliseconds and must be positive.
inline constexpr std::int64_t kMinTimestampMs = 1;
inline constexpr std::int64_t kMaxInt64 = FieldReader::kIntMax;

// A latitude/longitude pair in degrees (WGS 84).
struct GeoPoint {
  double lat = 0;  // [-90, 90]
  double lon = 0;  // [-180, 180]
  friend bool operator==(const GeoPoint&, const GeoPoint&) = default;
};

}  // namespace shopeasy::wire
