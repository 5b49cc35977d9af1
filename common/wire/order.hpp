// Order as exchanged between cloud and edge, with its status machine. Money is integer
// cents, quantities integer units, times Unix milliseconds. Codec conventions as in
// runner.hpp: decode/parse validate and never throw, encode omits absent optionals,
// unknown keys are ignored. Thread-safe.
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

enum class OrderStatus {
  kPendingPayment,
  kConfirmed,
  kRouted,
  kAccepted,
  kPicking,
  kPacked,
  kOutForDelivery,
  kDelivered,
  kCancelled,
  kRefunded,
  kFailed,
};
template <>
struct EnumNames<OrderStatus> {
  static constexpr std::array<std::string_view, 11> kNames = {
      "pending_payment",  "confirmed", "routed",    "accepted", "picking", "packed",
      "out_for_delivery", "delivered", "cancelled", "refunded", "failed"};
};

// Whether an order may move from `from` to `to`. routed -> routed (re-routing to another
// store) is the only self-transition; refunded is terminal; an order can be cancelled
// until it leaves the store and refunded once paid (not while out for delivery).
bool is_legal_transition(OrderStatus from, OrderStatus to);

inline constexpr std::size_t kMaxOrderLines = 100;
inline constexpr std::int64_t kMaxLineQty = 1000;

struct OrderLine {
  std::string sku{};
  std::int64_t qty = 0;               // 1..1000
  std::int64_t unit_price_cents = 0;  // >= 0
  friend bool operator==(const OrderLine&, const OrderLine&) = default;
};

struct DeliveryLocation {
  double lat = 0;
  double lon = 0;
  std::optional<std::string> geohash{};  // 1..12 of 0-9 b-h j k m n p-z
  friend bool operator==(const DeliveryLocation&, const DeliveryLocation&) = default;
};

struct Order {
  std::string order_id{};
  std::string customer_id{};
  std::optional<std::string> store_id{};  // token id; absent until routed
  OrderStatus status = OrderStatus::kPendingPayment;
  std::vector<OrderLine> lines{};  // 1..kMaxOrderLines
  DeliveryLocation delivery{};
  std::int64_t promised_at_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t total_cents = 0;  // >= 0; includes fees/discounts, so not checked against lines
  friend bool operator==(const Order&, const Order&) = default;
};

// Validates j and builds a Order; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<Order> decode_order(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const Order& o);
// parse_json(text, max_bytes) then decode_order.
[[nodiscard]] StatusOr<Order> parse_order(std::string_view text,
                                          std::size_t max_bytes = kDefaultMaxJsonBytes);

}  // namespace shopeasy::wire
