#include "common/wire/sync.hpp"

#include <cstdio>
#include <string>
#include <unordered_set>

namespace shopeasy::wire {

using nlohmann::json;

bool is_valid_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64) return false;
  for (char c : kind) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_')) return false;
  }
  return true;
}

bool is_valid_outbox_id(std::string_view id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string downstream_item_hash(std::string_view kind, const nlohmann::json& body) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&hash](std::string_view data) {
    for (unsigned char c : data) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  mix(kind);
  mix("|");
  mix(body.dump(-1, ' ', false, json::error_handler_t::replace));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

bool is_valid_item_hash(std::string_view hash) {
  return hash.size() == 16 && hash.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

namespace {
void read_kind(FieldReader& item, std::string* out) {
  if (item.required_string("kind", out, {.max_len = 64, .non_empty = true}) &&
      !is_valid_kind(*out)) {
    item.fail("kind", "must be 1 to 64 of a-z, 0-9, '.' and '_'");
  }
}
}  // namespace

namespace {
void read_near_expiry_lot(FieldReader& l, std::vector<NearExpiryLot>& out) {
  NearExpiryLot lot;
  l.required_string("sku", &lot.sku, kIdRule);
  l.required_string("lot", &lot.lot, {.max_len = 64, .non_empty = true});
  l.required_int("expires_ms", &lot.expires_ms, kMinTimestampMs, kMaxInt64);
  l.required_int("units", &lot.units, 1, 1'000'000);
  out.push_back(std::move(lot));
}

// `seen` catches a SKU listed twice: the list says one thing per SKU, and a second entry
// would leave the cloud to guess which one the store meant.
void read_stock_cover(FieldReader& c, std::vector<StockCover>& out,
                      std::unordered_set<std::string>& seen) {
  StockCover cover;
  if (c.required_string("sku", &cover.sku, kIdRule) && !seen.insert(cover.sku).second) {
    c.fail("sku", "is listed twice");
  }
  c.required_int("units", &cover.units, 0, kMaxCoverUnits);
  c.required_double("daily_demand", &cover.daily_demand, 0.0, kMaxCoverDailyDemand);
  out.push_back(std::move(cover));
}
}  // namespace

StatusOr<std::vector<StockCover>> decode_stock_cover(const json& j) {
  json wrapped = {{"stock_cover", j}};
  return decode_with<std::vector<StockCover>>(wrapped, [](FieldReader& r, auto& cover) {
    std::unordered_set<std::string> seen;
    r.required_array("stock_cover", 0, kMaxStockCover,
                     [&](FieldReader& c, std::size_t) { read_stock_cover(c, cover, seen); });
  });
}

StatusOr<std::vector<NearExpiryLot>> decode_near_expiry(const json& j) {
  json wrapped = {{"near_expiry", j}};
  return decode_with<std::vector<NearExpiryLot>>(wrapped, [](FieldReader& r, auto& lots) {
    r.required_array("near_expiry", 0, kMaxNearExpiryLots,
                     [&lots](FieldReader& l, std::size_t) { read_near_expiry_lot(l, lots); });
  });
}

StatusOr<SyncBatch> decode_sync_batch(const json& j) {
  return decode_with<SyncBatch>(j, [](FieldReader& r, SyncBatch& b) {
    r.required_string("store_id", &b.store_id, kTokenIdRule);
    r.required_int("first_seq", &b.first_seq, 1, kMaxInt64);
    r.required_array("changes", 0, kMaxSyncChanges, [&](FieldReader& item, std::size_t index) {
      SyncChange& change = b.changes.emplace_back();
      // The array is bounded, so first_seq + index cannot overflow unless first_seq is
      // within kMaxSyncChanges of INT64_MAX; such seqs are reported as not consecutive.
      const bool room = b.first_seq <= kMaxInt64 - static_cast<std::int64_t>(index);
      const std::int64_t expected = room ? b.first_seq + static_cast<std::int64_t>(index) : 0;
      if (item.required_int("seq", &change.seq, 1, kMaxInt64) && change.seq != expected) {
        item.fail("seq",
                  "must be " + std::to_string(expected) + " (seqs are consecutive from first_seq)");
      }
      // Kind and body are judged per change by the cloud (quarantine), not here.
      const json* kind = item.find("kind");
      change.kind = kind != nullptr && kind->is_string() ? kind->get<std::string>() : "";
      const json* body = item.find("body");
      change.body = body != nullptr ? *body : json();
    });
    r.required_int("downstream_cursor", &b.downstream_cursor, 0, kMaxInt64);
    if (r.optional_string("outbox_id", &b.outbox_id, {.max_len = 32, .non_empty = true}) &&
        b.outbox_id && !is_valid_outbox_id(*b.outbox_id)) {
      r.fail("outbox_id", "must be 32 lower-case hex digits");
    }
    r.optional_int("head_seq", &b.head_seq, 0, kMaxInt64);
    r.optional_int("oldest_unsent_ts_ms", &b.oldest_unsent_ts_ms, 0, kMaxInt64);
    if (r.optional_string("downstream_hash", &b.downstream_hash,
                          {.max_len = 16, .non_empty = true}) &&
        b.downstream_hash && !is_valid_item_hash(*b.downstream_hash)) {
      r.fail("downstream_hash", "must be 16 lower-case hex digits");
    }
    r.optional_object("load", [&b](FieldReader& l) {
      StoreLoadReport load;
      l.required_int("open_orders", &load.open_orders, 0, 1'000'000);
      l.required_int("available_runners", &load.available_runners, 0, 1'000'000);
      l.required_int("pick_queue", &load.pick_queue, 0, 1'000'000);
      b.load = load;
    });
    std::vector<NearExpiryLot> lots;
    if (r.optional_array("near_expiry", 0, kMaxNearExpiryLots,
                         [&lots](FieldReader& l, std::size_t) { read_near_expiry_lot(l, lots); })) {
      b.near_expiry = std::move(lots);
    }
    std::vector<StockCover> cover;
    std::unordered_set<std::string> seen;
    if (r.optional_array("stock_cover", 0, kMaxStockCover,
                         [&](FieldReader& c, std::size_t) { read_stock_cover(c, cover, seen); })) {
      b.stock_cover = std::move(cover);
    }
    r.optional_int("resync_from_seq", &b.resync_from_seq, 1, kMaxInt64);
    if (b.resync_from_seq && *b.resync_from_seq != b.first_seq) {
      r.fail("resync_from_seq", "must equal first_seq");
    }
    r.required_int("sent_at_ms", &b.sent_at_ms, kMinTimestampMs, kMaxInt64);
    if (const json* rec = r.find("reconcile"); rec != nullptr && !rec->is_null()) {
      if (!rec->is_object()) {
        r.fail("reconcile", "must be a JSON object");
      } else {
        b.reconcile = *rec;
      }
    }
  });
}

json encode_near_expiry(const std::vector<NearExpiryLot>& lots) {
  json out = json::array();
  for (const NearExpiryLot& l : lots) {
    out.push_back(
        {{"sku", l.sku}, {"lot", l.lot}, {"expires_ms", l.expires_ms}, {"units", l.units}});
  }
  return out;
}

json encode_stock_cover(const std::vector<StockCover>& cover) {
  json out = json::array();
  for (const StockCover& c : cover) {
    out.push_back({{"sku", c.sku}, {"units", c.units}, {"daily_demand", c.daily_demand}});
  }
  return out;
}

json encode(const SyncBatch& b) {
  json changes = json::array();
  for (const SyncChange& c : b.changes) {
    changes.push_back({{"seq", c.seq}, {"kind", c.kind}, {"body", c.body}});
  }
  json j{{"store_id", b.store_id},
         {"first_seq", b.first_seq},
         {"changes", std::move(changes)},
         {"downstream_cursor", b.downstream_cursor},
         {"sent_at_ms", b.sent_at_ms}};
  if (b.reconcile) j["reconcile"] = *b.reconcile;
  set_optional(j, "outbox_id", b.outbox_id);
  set_optional(j, "head_seq", b.head_seq);
  set_optional(j, "resync_from_seq", b.resync_from_seq);
  set_optional(j, "downstream_hash", b.downstream_hash);
  set_optional(j, "oldest_unsent_ts_ms", b.oldest_unsent_ts_ms);
  if (b.load) {
    j["load"] = {{"open_orders", b.load->open_orders},
                 {"available_runners", b.load->available_runners},
                 {"pick_queue", b.load->pick_queue}};
  }
  if (b.near_expiry) j["near_expiry"] = encode_near_expiry(*b.near_expiry);
  if (b.stock_cover) j["stock_cover"] = encode_stock_cover(*b.stock_cover);
  return j;
}

StatusOr<SyncBatch> parse_sync_batch(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<SyncBatch>(text, max_bytes, &decode_sync_batch);
}

StatusOr<SyncReply> decode_sync_reply(const json& j) {
  return decode_with<SyncReply>(j, [](FieldReader& r, SyncReply& reply) {
    r.required_int("acked_seq", &reply.acked_seq, 0, kMaxInt64);
    r.optional_int("expected_seq", &reply.expected_seq, 1, kMaxInt64);
    r.required_array("downstream", 0, kMaxDownstreamItems, [&](FieldReader& item, std::size_t) {
      DownstreamItem& d = reply.downstream.emplace_back();
      item.required_int("cursor", &d.cursor, 1, kMaxInt64);
      read_kind(item, &d.kind);
      item.required_json_object("body", &d.body);
    });
    r.required_int("next_cursor", &reply.next_cursor, 0, kMaxInt64);
    if (const json* buckets = r.find("resend_buckets"); buckets != nullptr && !buckets->is_null()) {
      if (!buckets->is_array() || buckets->size() > 65536) {
        r.fail("resend_buckets", "must be an array of bucket numbers");
      } else {
        for (const auto& v : *buckets) {
          if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
              v.get<std::int64_t>() > 65535) {
            r.fail("resend_buckets", "must hold integers 0..65535");
            break;
          }
          reply.resend_buckets.push_back(v.get<int>());
        }
      }
    }
  });
}

json encode(const SyncReply& r) {
  json downstream = json::array();
  for (const DownstreamItem& d : r.downstream) {
    downstream.push_back({{"cursor", d.cursor}, {"kind", d.kind}, {"body", d.body}});
  }
  json j = {{"acked_seq", r.acked_seq},
            {"downstream", std::move(downstream)},
            {"next_cursor", r.next_cursor}};
  set_optional(j, "expected_seq", r.expected_seq);
  if (!r.resend_buckets.empty()) j["resend_buckets"] = r.resend_buckets;
  return j;
}

StatusOr<SyncReply> parse_sync_reply(std::string_view text, std::size_t max_bytes) {
  return parse_and_decode<SyncReply>(text, max_bytes, &decode_sync_reply);
}

}  // namespace shopeasy::wire
