// StockChange: one movement in a store's stock ledger, and the unit the edge syncs to the
// cloud. seq numbers a store's movements 1, 2, 3, ... without gaps, so the cloud can
// apply them in order and detect loss. Codec conventions as in runner.hpp: decode/parse
// validate and never throw, encode omits absent optionals, unknown keys are ignored.
// Thread-safe.
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

enum class StockReason {
  kReceive,
  kPick,
  kAdjust,
  kCount,
  kDamage,
  kExpire,
  kReturn,
  kReserve,
  kRelease,
  kMove,
};
template <>
struct EnumNames<StockReason> {
  static constexpr std::array<std::string_view, 10> kNames = {
      "receive", "pick",   "adjust",  "count",   "damage",
      "expire",  "return", "reserve", "release", "move"};
};

struct StockChange {
  std::int64_t seq = 0;    // >= 1, per store
  std::string store_id{};  // token id
  std::string sku{};
  std::optional<std::string> bin{};
  std::optional<std::string> lot{};
  std::int64_t delta = 0;  // non-zero; negative takes stock out
  StockReason reason = StockReason::kAdjust;
  std::optional<std::string> ref{};  // what caused it: order id, scan id, count id; 1..128
  std::string actor{};               // who: user or device id
  std::string source{};              // through what: "scanner:h1", "api", "camera:c2"
  std::int64_t ts_ms = 0;
  std::int64_t on_hand_after = 0;  // the bin/sku on-hand after applying delta
  friend bool operator==(const StockChange&, const StockChange&) = default;
};

// Validates j and builds a StockChange; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<StockChange> decode_stock_change(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const StockChange& c);
// parse_json(text, max_bytes) then decode_stock_change.
[[nodiscard]] StatusOr<StockChange> parse_stock_change(
    std::string_view text, std::size_t max_bytes = kDefaultMaxJsonBytes);

}  // namespace shopeasy::wire
