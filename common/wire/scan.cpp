#include "common/wire/scan.hpp"

namespace shopeasy::wire {

using nlohmann::json;

StatusOr<Scan> decode_scan(const json& j) {
  return decode_with<Scan>(j, [](FieldReader& r, Scan& s) {
    r.required_string("scan_id", &s.scan_id, kIdRule);
    r.required_string("scanner_id", &s.scanner_id, kTokenIdRule);
    r.required_string("code", &s.code, {.max_len = 256, .non_empty = true});
    r.required_enum("action", &s.action);
    if (!r.ok()) return;
    if (s.action == ScanAction::kAdjust) {
      r.optional_int("qty", &s.qty, -kMaxScanQty, kMaxScanQty);
      // An adjustment of zero records nothing and usually means a mis-keyed quantity.
      if (r.ok() && s.qty == 0) {
        r.fail("qty", "must be a non-zero integer between -100000 and 100000");
      }
    } else {
      r.optional_int("qty", &s.qty, 1, kMaxScanQty);
    }
    r.optional_string("bin", &s.bin, kIdRule);
    if (s.action == ScanAction::kMove) {
      r.required_string("to_bin", &s.to_bin.emplace(), kIdRule);
    } else {
      r.optional_string("to_bin", &s.to_bin, kIdRule);
    }
    r.optional_string("order_id", &s.order_id, kIdRule);
    if (s.action == ScanAction::kCount) {
      r.required_string("count_id", &s.count_id.emplace(), kIdRule);
    } else {
      r.optional_string("count_id", &s.count_id, kIdRule);
    }
    r.optional_string("lot", &s.lot, kIdRule);
    r.optional_date("expiry", &s.expiry);
    if (s.action == ScanAction::kAdjust) {
      r.required_string("reason", &s.reason.emplace(), kTextRule);
    } else {
      r.optional_string("reason", &s.reason, kTextRule);
    }
    r.optional_int("ts_ms", &s.ts_ms, kMinTimestampMs, kMaxInt64);
  });
}

json encode(const Scan& s) {
  json j = {{"scan_id", s.scan_id},
            {"scanner_id", s.scanner_id},
            {"code", s.code},
            {"action", to_string(s.action)},
            {"qty", s.qty}};
  set_optional(j, "bin", s.bin);
  set_optional(j, "to_bin", s.to_bin);
  set_optional(j, "order_id", s.order_id);
  set_optional(j, "count_id", s.count_id);
  set_optional(j, "lot", s.lot);
  set_optional(j, "expiry", s.expiry);
  set_optional(j, "reason", s.reason);
  set_optional(j, "ts_ms", s.ts_ms);
  return j;
}

StatusOr<Scan> parse_scan(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<Scan>(text, max_bytes, &decode_scan);
}

}  // namespace shopeasy::wire
