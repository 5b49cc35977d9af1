// A handheld scanner reading, posted to the edge (HTTP POST /api/scans or MQTT
// scanners/{id}/scan). scan_id is the idempotency key: a retried scan carries the same
// id and must be applied once. Codec conventions as in runner.hpp: decode/parse validate
// and never throw, encode omits absent optionals, unknown keys are ignored. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"
#include "common/wire/basics.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::wire {

enum class ScanAction { kLookup, kReceive, kPick, kAdjust, kMove, kCount };
template <>
struct EnumNames<ScanAction> {
  static constexpr std::array<std::string_view, 6> kNames = {"lookup", "receive", "pick",
                                                             "adjust", "move",    "count"};
};

inline constexpr std::int64_t kMaxScanQty = 100000;

// Rules checked by decode_scan beyond the per-field ones: qty is -100000..100000 and
// non-zero for adjust, 1..100000 for every other action; move needs to_bin; count needs
// count_id; adjust needs reason.
struct Scan {
  std::string scan_id{};     // 1..64, printable; idempotency key
  std::string scanner_id{};  // token id
  std::string code{};        // raw barcode text, 1..256, may contain GS1 separators
  ScanAction action = ScanAction::kLookup;
  std::int64_t qty = 1;  // defaults to 1 when absent
  std::optional<std::string> bin{};
  std::optional<std::string> to_bin{};
  std::optional<std::string> order_id{};
  std::optional<std::string> count_id{};
  std::optional<std::string> lot{};
  std::optional<std::string> expiry{};  // "YYYY-MM-DD", a real date
  std::optional<std::string> reason{};  // 1..256
  std::optional<std::int64_t> ts_ms{};  // > 0, the scanner's clock
  friend bool operator==(const Scan&, const Scan&) = default;
};

// Validates j and builds a Scan; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<Scan> decode_scan(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const Scan& s);
// parse_json(text, max_bytes) then decode_scan.
[[nodiscard]] StatusOr<Scan> parse_scan(std::string_view text,
                                        std::size_t max_bytes = kDefaultMaxJsonBytes);

}  // namespace shopeasy::wire
