#include "common/wire/stock_change.hpp"

namespace shopeasy::wire {

using nlohmann::json;

StatusOr<StockChange> decode_stock_change(const json& j) {
  return decode_with<StockChange>(j, [](FieldReader& r, StockChange& c) {
    r.required_int("seq", &c.seq, 1, kMaxInt64);
    r.required_string("store_id", &c.store_id, kTokenIdRule);
    r.required_string("sku", &c.sku, kIdRule);
    r.optional_string("bin", &c.bin, kIdRule);
    r.optional_string("lot", &c.lot, kIdRule);
    if (r.required_int("delta", &c.delta) && c.delta == 0) {
      r.fail("delta", "must be a non-zero integer");
    }
    r.required_enum("reason", &c.reason);
    r.optional_string("ref", &c.ref,
                      {.max_len = 128, .non_empty = true, .charset = CharSet::kPrintable});
    r.required_string("actor", &c.actor, kIdRule);
    r.required_string("source", &c.source, kIdRule);
    r.required_int("ts_ms", &c.ts_ms, kMinTimestampMs, kMaxInt64);
    r.required_int("on_hand_after", &c.on_hand_after);
  });
}

json encode(const StockChange& c) {
  json j = {{"seq", c.seq},
            {"store_id", c.store_id},
            {"sku", c.sku},
            {"delta", c.delta},
            {"reason", to_string(c.reason)},
            {"actor", c.actor},
            {"source", c.source},
            {"ts_ms", c.ts_ms},
            {"on_hand_after", c.on_hand_after}};
  set_optional(j, "bin", c.bin);
  set_optional(j, "lot", c.lot);
  set_optional(j, "ref", c.ref);
  return j;
}

StatusOr<StockChange> parse_stock_change(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<StockChange>(text, max_bytes, &decode_stock_change);
}

}  // namespace shopeasy::wire
