#include "cloud/storage/store_rules.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <unordered_map>

#include "cloud/storage/order_rules.hpp"
#include "common/geohash/geohash.hpp"
#include "common/wire/basics.hpp"
#include "common/wire/json_fields.hpp"
#include "common/wire/reconcile.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::cloud::storage {

// The store computes the same sums over its stock (common/wire/reconcile.hpp); one
// definition keeps the two sides from ever disagreeing.
int sku_bucket(std::string_view sku, int buckets) { return wire::sku_bucket(sku, buckets); }

std::uint64_t row_checksum(std::string_view sku, std::int64_t on_hand, std::int64_t reserved) {
  return wire::row_checksum(sku, on_hand, reserved);
}

std::string_view to_string(HistoryConflict c) {
  switch (c) {
    case HistoryConflict::kNone:
      return "none";
    case HistoryConflict::kOutboxChanged:
      return "outbox_changed";
    case HistoryConflict::kEdgeBehind:
      return "edge_behind";
    case HistoryConflict::kHistoryDiverged:
      return "history_diverged";
  }
  return "unknown";
}

namespace detail {
namespace {

constexpr std::string_view kStockChanged = "stock.changed";
constexpr std::string_view kStockSnapshot = "stock.snapshot";
constexpr std::string_view kUnknownCode = "scan.unknown_code";
constexpr std::string_view kSnapshotEnd = "stock.snapshot_end";
constexpr std::string_view kPurchaseOrderChanged = "purchase_order.changed";
constexpr std::size_t kMaxQuarantinedBodyBytes = 64 * 1024;

// Bounded so that on_hand - reserved cannot overflow in SQL on either backend.
constexpr std::int64_t kMaxStockMagnitude = 1'000'000'000'000;

bool is_stock_kind(std::string_view kind) {
  return kind == kStockChanged || kind == kStockSnapshot;
}

// Counts code points of valid UTF-8; nullopt for malformed input, which PostgreSQL
// would refuse and SQLite would keep, so both backends refuse it up front.
std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= s.size()) return std::nullopt;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

// NUL is refused everywhere: libpq passes text parameters as C strings.
Status check_text(std::string_view s, std::string_view field, std::size_t min_chars,
                  std::size_t max_chars, bool printable) {
  std::optional<std::size_t> length = utf8_length(s);
  if (!length) return invalid_argument("must be valid UTF-8", std::string(field));
  if (*length < min_chars || *length > max_chars) {
    return invalid_argument("must be " + std::to_string(min_chars) + " to " +
                                std::to_string(max_chars) + " characters long",
                            std::string(field));
  }
  for (unsigned char c : s) {
    if (c == 0 || (printable && (c < 0x20 || c == 0x7F))) {
      return invalid_argument(
          printable ? "must not contain control characters" : "must not contain NUL characters",
          std::string(field));
    }
  }
  return Status::ok();
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string change_path(std::size_t index) { return "changes[" + std::to_string(index) + "]"; }

Status validate_change_body(const Change& change, std::size_t index) {
  if (change.kind == kSnapshotEnd) {
    wire::FieldReader r(change.body, change_path(index) + ".body");
    std::optional<std::int64_t> from_seq;
    std::optional<std::int64_t> buckets;
    r.optional_int("from_seq", &from_seq, std::int64_t{1});
    r.optional_int("buckets", &buckets, std::int64_t{1}, std::int64_t{kMaxBuckets});
    SHOPEASY_RETURN_IF_ERROR(r.status());
    if (const auto list = change.body.find("bucket_list"); list != change.body.end()) {
      const std::string field = change_path(index) + ".body.bucket_list";
      if (!buckets) return invalid_argument("needs buckets beside it", field);
      if (!list->is_array() || list->size() > static_cast<std::size_t>(*buckets)) {
        return invalid_argument("must be an array of at most buckets bucket numbers", field);
      }
      for (const auto& b : *list) {
        if (!b.is_number_integer() || b.get<std::int64_t>() < 0 ||
            b.get<std::int64_t>() >= *buckets) {
          return invalid_argument("must hold integers 0..buckets-1", field);
        }
      }
    }
    return Status::ok();
  }
  if (is_stock_kind(change.kind)) {
    wire::FieldReader r(change.body, change_path(index) + ".body");
    std::string sku;
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
    std::int64_t version = 0;
    r.required_string("sku", &sku, wire::kIdRule);
    r.required_int("sku_on_hand", &on_hand, -kMaxStockMagnitude, kMaxStockMagnitude);
    r.required_int("sku_reserved", &reserved, -kMaxStockMagnitude, kMaxStockMagnitude);
    r.optional_int("version", &version, std::int64_t{0});
    return r.status();
  }
  if (change.kind == kPurchaseOrderChanged) {
    wire::FieldReader r(change.body, change_path(index) + ".body");
    std::string po_id, supplier_id, status;
    std::optional<std::int64_t> updated_at_ms;
    r.required_string("po_id", &po_id, wire::kIdRule);
    r.required_string("supplier_id", &supplier_id, wire::kIdRule);
    r.required_string("status", &status, wire::StringRule{.max_len = 32, .non_empty = true});
    r.optional_int("updated_at_ms", &updated_at_ms, std::int64_t{0});
    return r.status();
  }
  if (change.kind == kUnknownCode) {
    wire::FieldReader r(change.body, change_path(index) + ".body");
    std::string code;
    r.required_string("code", &code, wire::StringRule{.max_len = 256, .non_empty = true});
    SHOPEASY_RETURN_IF_ERROR(r.status());
    if (code.find('\0') != std::string::npos) {
      return invalid_argument("must not contain NUL characters", change_path(index) + ".body.code");
    }
  }
  return Status::ok();
}

}  // namespace

bool is_valid_store_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

Status validate_store_id(std::string_view id, std::string_view field) {
  if (is_valid_store_id(id)) return Status::ok();
  return invalid_argument("must be 1 to 64 of [A-Za-z0-9_-]", std::string(field));
}

StatusOr<std::string> validate_registration(const StoreRegistration& store) {
  SHOPEASY_RETURN_IF_ERROR(validate_store_id(store.id));
  SHOPEASY_RETURN_IF_ERROR(check_text(store.name, "name", 1, 200, true));
  StatusOr<std::string> hash = geohash::encode({store.lat, store.lon}, kGeohashPrecision);
  if (!hash.ok()) return hash.status();
  if (!std::isfinite(store.service_radius_m) || store.service_radius_m <= 0) {
    return invalid_argument("must be a positive number of metres", "service_radius_m");
  }
  if (!store.opening_hours.is_object()) {
    return invalid_argument("must be a JSON object", "opening_hours");
  }
  if (!store.secret_sha256.empty() &&
      (store.secret_sha256.size() != 64 || !is_lower_hex(store.secret_sha256))) {
    return invalid_argument("must be 64 lower-case hex digits", "secret_sha256");
  }
  return hash;
}

Status validate_catalog_item(const CatalogItem& item) {
  SHOPEASY_RETURN_IF_ERROR(check_text(item.sku, "sku", 1, 64, true));
  SHOPEASY_RETURN_IF_ERROR(check_text(item.name, "name", 1, 200, true));
  SHOPEASY_RETURN_IF_ERROR(check_text(item.category, "category", 0, 64, true));
  if (item.price_cents < 0 || item.price_cents > 100'000'000) {
    return invalid_argument("must be between 0 and 100000000", "price_cents");
  }
  SHOPEASY_RETURN_IF_ERROR(check_text(item.unit, "unit", 1, 16, true));
  if (item.barcodes.size() > 32) return invalid_argument("at most 32 barcodes", "barcodes");
  for (std::size_t i = 0; i < item.barcodes.size(); ++i) {
    const std::string& code = item.barcodes[i];
    if (code.size() != 14 ||
        !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return invalid_argument("must be a GTIN-14 (14 digits)",
                              "barcodes[" + std::to_string(i) + "]");
    }
  }
  return Status::ok();
}

Status validate_limit(int limit, std::string_view field) {
  if (limit >= 1 && limit <= kMaxPageLimit) return Status::ok();
  return invalid_argument("must be between 1 and " + std::to_string(kMaxPageLimit),
                          std::string(field));
}

Status validate_sku_sales(const std::map<std::string, std::int64_t>& units) {
  for (const auto& [sku, n] : units) {
    if (sku.empty() || sku.size() > 64) {
      return invalid_argument("must be a SKU of 1..64 bytes", "units[" + sku.substr(0, 64) + "]");
    }
    if (n < 1 || n > 1'000'000'000) {
      return invalid_argument("must be between 1 and 1000000000", "units[" + sku + "]");
    }
  }
  return Status::ok();
}

Status validate_buckets(int buckets) {
  if (buckets >= 1 && buckets <= kMaxBuckets) return Status::ok();
  return invalid_argument("must be between 1 and " + std::to_string(kMaxBuckets), "buckets");
}

Status validate_cursor(std::int64_t cursor, std::string_view field) {
  if (cursor >= 0) return Status::ok();
  return invalid_argument("must not be negative", std::string(field));
}

Status validate_store_load(const StoreLoad& load) {
  constexpr std::int64_t kMaxFigure = 1'000'000;
  const std::pair<std::int64_t, const char*> figures[] = {
      {load.open_orders, "open_orders"},
      {load.available_runners, "available_runners"},
      {load.pick_queue, "pick_queue"}};
  for (const auto& [value, field] : figures) {
    if (value < 0 || value > kMaxFigure) {
      return Status(StatusCode::kInvalidArgument, "must be 0 to 1000000", field);
    }
  }
  if (load.at_ms <= 0) return Status(StatusCode::kInvalidArgument, "must be positive", "at_ms");
  return Status::ok();
}

Status validate_store_lots(const StoreLots& lots) {
  if (lots.lots.size() > wire::kMaxNearExpiryLots) {
    return Status(StatusCode::kInvalidArgument,
                  "at most " + std::to_string(wire::kMaxNearExpiryLots) + " lots", "lots");
  }
  for (std::size_t i = 0; i < lots.lots.size(); ++i) {
    const wire::NearExpiryLot& l = lots.lots[i];
    const std::string at = "lots[" + std::to_string(i) + "]";
    if (l.sku.empty())
      return Status(StatusCode::kInvalidArgument, "must not be empty", at + ".sku");
    if (l.lot.empty())
      return Status(StatusCode::kInvalidArgument, "must not be empty", at + ".lot");
    if (l.units < 1 || l.units > 1'000'000) {
      return Status(StatusCode::kInvalidArgument, "must be 1 to 1000000", at + ".units");
    }
  }
  if (lots.at_ms <= 0) return Status(StatusCode::kInvalidArgument, "must be positive", "at_ms");
  return Status::ok();
}

std::string encode_store_lots(const std::vector<wire::NearExpiryLot>& lots) {
  return wire::encode_near_expiry(lots).dump();
}

StatusOr<std::vector<wire::NearExpiryLot>> decode_store_lots(const std::string& text) {
  StatusOr<std::vector<wire::NearExpiryLot>> lots =
      wire::decode_near_expiry(nlohmann::json::parse(text, nullptr, false));
  if (!lots.ok()) return internal_error("stored lots: " + lots.status().to_string());
  return lots;
}

Status validate_store_cover(const StoreCover& cover) {
  if (cover.cover.size() > wire::kMaxStockCover) {
    return Status(StatusCode::kInvalidArgument,
                  "at most " + std::to_string(wire::kMaxStockCover) + " entries", "cover");
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < cover.cover.size(); ++i) {
    const wire::StockCover& c = cover.cover[i];
    const std::string at = "cover[" + std::to_string(i) + "]";
    if (c.sku.empty())
      return Status(StatusCode::kInvalidArgument, "must not be empty", at + ".sku");
    if (!seen.insert(c.sku).second) {
      return Status(StatusCode::kInvalidArgument, "is listed twice", at + ".sku");
    }
    if (c.units < 0 || c.units > wire::kMaxCoverUnits) {
      return Status(StatusCode::kInvalidArgument, "must be 0 to 1000000", at + ".units");
    }
    // Written as `!(x >= 0)` so that NaN fails too.
    if (!(c.daily_demand >= 0) || c.daily_demand > wire::kMaxCoverDailyDemand) {
      return Status(StatusCode::kInvalidArgument, "must be a number from 0 to 1000000",
                    at + ".daily_demand");
    }
  }
  if (cover.at_ms <= 0) return Status(StatusCode::kInvalidArgument, "must be positive", "at_ms");
  return Status::ok();
}

std::string encode_store_cover(const std::vector<wire::StockCover>& cover) {
  return wire::encode_stock_cover(cover).dump();
}

StatusOr<std::vector<wire::StockCover>> decode_store_cover(const std::string& text) {
  StatusOr<std::vector<wire::StockCover>> cover =
      wire::decode_stock_cover(nlohmann::json::parse(text, nullptr, false));
  if (!cover.ok()) return internal_error("stored cover: " + cover.status().to_string());
  return cover;
}

Status validate_downstream(std::string_view kind, const nlohmann::json& body) {
  if (!wire::is_valid_kind(kind)) return invalid_argument("must be 1 to 64 of [a-z0-9._]", "kind");
  if (!body.is_object()) return invalid_argument("must be a JSON object", "body");
  return Status::ok();
}

StatusOr<std::string> validate_setting(std::string_view key, const nlohmann::json& value) {
  if (!wire::is_valid_kind(key)) return invalid_argument("must be 1 to 64 of [a-z0-9._]", "key");
  std::string text = dump_json(value);
  if (text.size() > (1u << 20)) return invalid_argument("must be at most 1 MiB", "value");
  return text;
}

Status validate_batch(const std::vector<Change>& changes) {
  if (changes.empty()) return Status::ok();
  if (changes.front().seq < 1) return invalid_argument("must be at least 1", "changes[0].seq");
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Change& change = changes[i];
    if (i > 0 && (changes[i - 1].seq == std::numeric_limits<std::int64_t>::max() ||
                  change.seq != changes[i - 1].seq + 1)) {
      return invalid_argument("seqs must be consecutive: expected " +
                                  (changes[i - 1].seq == std::numeric_limits<std::int64_t>::max()
                                       ? std::string("none after the maximum")
                                       : std::to_string(changes[i - 1].seq + 1)) +
                                  ", got " + std::to_string(change.seq),
                              change_path(i) + ".seq");
    }
  }
  return Status::ok();
}

Status validate_change(const Change& change, std::size_t index) {
  if (!wire::is_valid_kind(change.kind)) {
    return invalid_argument("must be 1 to 64 of [a-z0-9._]", change_path(index) + ".kind");
  }
  // Kinds that are only counted keep whatever body they have; the applied ones check
  // theirs (a non-object body fails there).
  return validate_change_body(change, index);
}

BatchPlan plan_batch(const std::vector<Change>& changes, std::int64_t last_applied,
                     std::int64_t now_ms) {
  BatchPlan plan;
  plan.new_last_applied = last_applied;
  if (changes.empty()) return plan;
  const std::int64_t first = changes.front().seq;
  if (first > last_applied + 1) {
    plan.expected_seq = last_applied + 1;
    return plan;
  }
  // Seqs are consecutive, so everything before index (last_applied - first + 1) is a replay.
  const auto skip = static_cast<std::size_t>(
      std::min<std::int64_t>(last_applied - first + 1, static_cast<std::int64_t>(changes.size())));
  plan.duplicates = static_cast<std::int64_t>(skip);
  plan.applied = static_cast<std::int64_t>(changes.size() - skip);
  if (plan.applied == 0) return plan;
  plan.new_last_applied = changes.back().seq;

  std::unordered_map<std::string_view, std::size_t> stock_index;
  std::unordered_map<std::string_view, std::size_t> code_index;
  std::unordered_map<std::string_view, std::size_t> kind_index;
  std::unordered_map<std::string, std::size_t> po_index;
  plan.last_hash = change_hash(changes.back());
  for (std::size_t i = skip; i < changes.size(); ++i) {
    const Change& change = changes[i];
    if (Status valid = validate_change(change, i); !valid.is_ok()) {
      plan.quarantined.push_back(QuarantinedChange{.seq = change.seq,
                                                   .kind = quarantine_kind(change.kind),
                                                   .body = change.body,
                                                   .field = valid.field(),
                                                   .reason = valid.message(),
                                                   .at_ms = now_ms});
      continue;
    }
    if (change.kind == kSnapshotEnd) {
      Prune prune{.from_seq = change.body.value("from_seq", change.seq),
                  .buckets = change.body.value("buckets", 0),
                  .bucket_list = {}};
      if (auto list = change.body.find("bucket_list"); list != change.body.end()) {
        for (const auto& b : *list) prune.bucket_list.push_back(b.get<int>());
        // An explicit empty list names no bucket: nothing to remove.
        if (prune.bucket_list.empty()) continue;
      } else {
        prune.buckets = 0;
      }
      plan.prunes.push_back(std::move(prune));
      continue;
    }
    if (is_stock_kind(change.kind)) {
      const auto& sku = change.body["sku"].get_ref<const std::string&>();
      StockUpdate update{.sku = sku,
                         .on_hand = change.body["sku_on_hand"].get<std::int64_t>(),
                         .reserved = change.body["sku_reserved"].get<std::int64_t>(),
                         .version = 0,
                         .seq = change.seq};
      if (auto v = change.body.find("version"); v != change.body.end() && !v->is_null()) {
        update.version = v->get<std::int64_t>();
      }
      auto [it, inserted] = stock_index.try_emplace(sku, plan.stock.size());
      if (inserted) {
        plan.stock.push_back(std::move(update));
      } else {
        plan.stock[it->second] = std::move(update);
      }
    } else if (change.kind == kUnknownCode) {
      const auto& code = change.body["code"].get_ref<const std::string&>();
      auto [it, inserted] = code_index.try_emplace(code, plan.unknown_codes.size());
      if (inserted) {
        plan.unknown_codes.emplace_back(code, 1);
      } else {
        ++plan.unknown_codes[it->second].second;
      }
    } else {
      if (is_order_kind(change.kind)) plan.order_changes.push_back(i);
      if (change.kind == kPurchaseOrderChanged) {
        StorePurchaseOrder po{.po_id = change.body["po_id"].get<std::string>(),
                              .supplier_id = change.body["supplier_id"].get<std::string>(),
                              .status = change.body["status"].get<std::string>(),
                              .updated_at_ms = change.body.value("updated_at_ms", std::int64_t{0}),
                              .updated_seq = change.seq,
                              .body = change.body};
        auto [it, inserted] = po_index.try_emplace(po.po_id, plan.purchase_orders.size());
        if (inserted) {
          plan.purchase_orders.push_back(std::move(po));
        } else {
          plan.purchase_orders[it->second] = std::move(po);
        }
      }
      auto [it, inserted] = kind_index.try_emplace(change.kind, plan.kind_counts.size());
      if (inserted) {
        plan.kind_counts.emplace_back(change.kind, 1);
      } else {
        ++plan.kind_counts[it->second].second;
      }
    }
  }
  // A fixed order keeps concurrent writers' row locks in the same order.
  std::sort(plan.stock.begin(), plan.stock.end(),
            [](const StockUpdate& a, const StockUpdate& b) { return a.sku < b.sku; });
  std::sort(plan.unknown_codes.begin(), plan.unknown_codes.end());
  std::sort(
      plan.purchase_orders.begin(), plan.purchase_orders.end(),
      [](const StorePurchaseOrder& a, const StorePurchaseOrder& b) { return a.po_id < b.po_id; });
  std::sort(plan.kind_counts.begin(), plan.kind_counts.end());
  return plan;
}

bool prune_covers(const Prune& prune, std::string_view sku, std::int64_t updated_seq) {
  if (updated_seq >= prune.from_seq) return false;
  if (prune.bucket_list.empty()) return true;
  const int bucket = sku_bucket(sku, prune.buckets);
  return std::find(prune.bucket_list.begin(), prune.bucket_list.end(), bucket) !=
         prune.bucket_list.end();
}

std::string change_hash(const Change& change) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&](std::string_view data) {
    for (unsigned char c : data) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  mix(std::to_string(change.seq));
  mix("|");
  mix(change.kind);
  mix("|");
  mix(dump_json(change.body));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

BatchDecision decide_batch(const BatchMeta& meta, const std::vector<Change>& changes,
                           std::int64_t last_applied, const std::string& stored_outbox_id,
                           const std::string& stored_hash) {
  BatchDecision d;
  d.last_applied = last_applied;
  d.outbox_id = stored_outbox_id;
  const bool has_changes = !changes.empty();
  // A resynchronisation starts beyond everything applied; replayed, it is an ordinary
  // replay and checked like one.
  if (meta.resync_from_seq && has_changes && *meta.resync_from_seq == changes.front().seq &&
      changes.front().seq > last_applied) {
    d.resync = true;
    d.last_applied = changes.front().seq - 1;
    if (!meta.outbox_id.empty()) d.outbox_id = meta.outbox_id;
    return d;
  }
  if (!meta.outbox_id.empty()) {
    if (!stored_outbox_id.empty() && stored_outbox_id != meta.outbox_id) {
      d.conflict = HistoryConflict::kOutboxChanged;
      return d;
    }
    d.outbox_id = meta.outbox_id;
  }
  if (meta.head_seq && *meta.head_seq < last_applied) {
    d.conflict = HistoryConflict::kEdgeBehind;
    return d;
  }
  // Edges older than the outbox id cannot resynchronise: they keep the old behaviour.
  if (has_changes && !meta.outbox_id.empty() && !stored_hash.empty() &&
      changes.front().seq <= last_applied && changes.back().seq >= last_applied) {
    const Change& at_last = changes[static_cast<std::size_t>(last_applied - changes.front().seq)];
    if (change_hash(at_last) != stored_hash) d.conflict = HistoryConflict::kHistoryDiverged;
  }
  return d;
}

std::int64_t acked_for(const BatchMeta& meta, const std::vector<Change>& changes,
                       const BatchPlan& plan) {
  if (meta.head_seq && plan.applied == 0 && !changes.empty() &&
      changes.back().seq < plan.new_last_applied) {
    return changes.back().seq;
  }
  return plan.new_last_applied;
}

std::int64_t oldest_unsynced_after(const BatchMeta& meta, const BatchPlan& plan) {
  if (plan.expected_seq) return kKeepOldestUnsynced;
  return meta.oldest_unsent_ms.value_or(0);
}

std::string quarantine_kind(const std::string& kind) {
  std::string out;
  for (char c : kind.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  return out;
}

std::string quarantine_body(const nlohmann::json& body) {
  std::string text = dump_json(body);
  if (text.size() <= kMaxQuarantinedBodyBytes) return text;
  text.resize(kMaxQuarantinedBodyBytes);
  return dump_json(nlohmann::json(text));
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<nlohmann::json> parse_stored_json(std::string_view text, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return internal_error("stored " + std::string(what) + " is not JSON");
  return j;
}

nlohmann::json catalog_item_json(const CatalogItem& item) {
  return {{"sku", item.sku},           {"name", item.name},
          {"category", item.category}, {"price_cents", item.price_cents},
          {"unit", item.unit},         {"barcodes", item.barcodes},
          {"active", item.active},     {"version", item.version}};
}

StatusOr<std::vector<std::string>> parse_barcodes(std::string_view text) {
  StatusOr<nlohmann::json> j = parse_stored_json(text, "barcodes");
  if (!j.ok()) return j.status();
  if (!j->is_array()) return internal_error("stored barcodes are not an array");
  std::vector<std::string> out;
  out.reserve(j->size());
  for (const nlohmann::json& code : *j) {
    if (!code.is_string()) return internal_error("stored barcode is not a string");
    out.push_back(code.get<std::string>());
  }
  return out;
}

ChecksumAccumulator::ChecksumAccumulator(int buckets) : buckets_(buckets) {
  out_.resize(static_cast<std::size_t>(std::max(buckets, 0)));
  for (int i = 0; i < buckets; ++i) out_[static_cast<std::size_t>(i)].bucket = i;
}

void ChecksumAccumulator::add(std::string_view sku, std::int64_t on_hand, std::int64_t reserved) {
  if (buckets_ < 1) return;
  RangeChecksum& range = out_[static_cast<std::size_t>(sku_bucket(sku, buckets_))];
  ++range.rows;
  // Unsigned addition wraps, which keeps the sum independent of row order.
  range.checksum += row_checksum(sku, on_hand, reserved);
}

}  // namespace detail
}  // namespace shopeasy::cloud::storage
