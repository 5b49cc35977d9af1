#include "common/wire/order.hpp"

namespace shopeasy::wire {
namespace {

using nlohmann::json;

bool is_geohash_char(char c) {
  // The geohash base-32 alphabet leaves out a, i, l and o.
  return (c >= '0' && c <= '9') || (c >= 'b' && c <= 'z' && c != 'i' && c != 'l' && c != 'o');
}

bool is_valid_geohash(std::string_view s) {
  if (s.empty() || s.size() > 12) return false;
  for (char c : s) {
    if (!is_geohash_char(c)) return false;
  }
  return true;
}

}  // namespace

bool is_legal_transition(OrderStatus from, OrderStatus to) {
  using S = OrderStatus;
  switch (from) {
    case S::kPendingPayment:
      return to == S::kConfirmed || to == S::kCancelled || to == S::kFailed;
    case S::kConfirmed:
      return to == S::kRouted || to == S::kCancelled || to == S::kRefunded || to == S::kFailed;
    case S::kRouted:
      return to == S::kAccepted || to == S::kRouted || to == S::kCancelled || to == S::kRefunded ||
             to == S::kFailed;
    case S::kAccepted:
      return to == S::kPicking || to == S::kCancelled || to == S::kRefunded || to == S::kFailed;
    case S::kPicking:
      return to == S::kPacked || to == S::kCancelled || to == S::kRefunded || to == S::kFailed;
    case S::kPacked:
      return to == S::kOutForDelivery || to == S::kCancelled || to == S::kRefunded ||
             to == S::kFailed;
    case S::kOutForDelivery:
      return to == S::kDelivered || to == S::kFailed;
    case S::kDelivered:
    case S::kFailed:
    case S::kCancelled:
      return to == S::kRefunded;
    case S::kRefunded:
      return false;
  }
  return false;
}

StatusOr<Order> decode_order(const json& j) {
  return decode_with<Order>(j, [](FieldReader& r, Order& o) {
    r.required_string("order_id", &o.order_id, kIdRule);
    r.required_string("customer_id", &o.customer_id, kIdRule);
    r.optional_string("store_id", &o.store_id, kTokenIdRule);
    r.required_enum("status", &o.status);
    r.required_array("lines", 1, kMaxOrderLines, [&](FieldReader& item, std::size_t) {
      OrderLine& line = o.lines.emplace_back();
      item.required_string("sku", &line.sku, kIdRule);
      item.required_int("qty", &line.qty, 1, kMaxLineQty);
      item.required_int("unit_price_cents", &line.unit_price_cents, 0, kMaxInt64);
    });
    r.required_object("delivery", [&](FieldReader& d) {
      d.required_double("lat", &o.delivery.lat, -90, 90);
      d.required_double("lon", &o.delivery.lon, -180, 180);
      if (d.optional_string("geohash", &o.delivery.geohash) &&
          !is_valid_geohash(*o.delivery.geohash)) {
        d.fail("geohash", "must be 1 to 12 geohash characters (0-9 and b-z except i, l, o)");
      }
    });
    r.required_int("promised_at_ms", &o.promised_at_ms, kMinTimestampMs, kMaxInt64);
    r.required_int("created_at_ms", &o.created_at_ms, kMinTimestampMs, kMaxInt64);
    r.required_int("updated_at_ms", &o.updated_at_ms, kMinTimestampMs, kMaxInt64);
    r.required_int("total_cents", &o.total_cents, 0, kMaxInt64);
  });
}

json encode(const Order& o) {
  json lines = json::array();
  for (const OrderLine& l : o.lines) {
    lines.push_back({{"sku", l.sku}, {"qty", l.qty}, {"unit_price_cents", l.unit_price_cents}});
  }
  json delivery = {{"lat", o.delivery.lat}, {"lon", o.delivery.lon}};
  set_optional(delivery, "geohash", o.delivery.geohash);
  json j = {{"order_id", o.order_id},           {"customer_id", o.customer_id},
            {"status", to_string(o.status)},    {"lines", std::move(lines)},
            {"delivery", std::move(delivery)},  {"promised_at_ms", o.promised_at_ms},
            {"created_at_ms", o.created_at_ms}, {"updated_at_ms", o.updated_at_ms},
            {"total_cents", o.total_cents}};
  set_optional(j, "store_id", o.store_id);
  return j;
}

StatusOr<Order> parse_order(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<Order>(text, max_bytes, &decode_order);
}

}  // namespace shopeasy::wire
