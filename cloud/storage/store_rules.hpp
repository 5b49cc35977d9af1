// The backend-independent half of CloudStore: input validation, the plan of what one
// sync batch applies, and the text forms stored for JSON-valued columns. Both
// implementations (SQLite and PostgreSQL) go through these so they cannot disagree on
// what is accepted or applied. Internal to the storage module. All functions are pure
// and thread-safe; none throws.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::storage::detail {

inline constexpr int kGeohashPrecision = 7;
// Bounds of `limit` for paged reads and of `buckets` for checksums.
inline constexpr int kMaxPageLimit = 10000;
inline constexpr int kMaxBuckets = 65536;
inline constexpr const char* kCatalogItemKind = "catalog_item";

// 1..64 of [A-Za-z0-9_-].
bool is_valid_store_id(std::string_view id);
// kInvalidArgument naming `field` unless is_valid_store_id.
Status validate_store_id(std::string_view id, std::string_view field = "id");

// Checks a registration and derives its geohash (precision 7). kInvalidArgument naming
// the field: id, name (1..200), lat/lon (range), service_radius_m (finite, > 0),
// opening_hours (an object), secret_sha256 (empty or 64 hex digits).
StatusOr<std::string> validate_registration(const StoreRegistration& store);

// sku (1..64, no control characters), name (1..200), category (0..64), price_cents
// (0..100000000), unit (1..16), barcodes (at most 32, each 14 digits). kInvalidArgument
// naming the field.
Status validate_catalog_item(const CatalogItem& item);

// kInvalidArgument naming `field` unless 1 <= limit <= kMaxPageLimit.
Status validate_limit(int limit, std::string_view field = "limit");
// kInvalidArgument unless 1 <= buckets <= kMaxBuckets.
Status validate_buckets(int buckets);
// kInvalidArgument naming "units[<sku>]" for an empty or over-long SKU or a count
// outside 1..1e9 (CloudStore::add_sku_sales).
Status validate_sku_sales(const std::map<std::string, std::int64_t>& units);
// kInvalidArgument naming `field` for a negative cursor.
Status validate_cursor(std::int64_t cursor, std::string_view field);
// Downstream kinds follow the sync kind rule (1..64 of [a-z0-9._]); bodies are objects.
Status validate_downstream(std::string_view kind, const nlohmann::json& body);
// A store load: every figure 0..1,000,000, at_ms positive.
Status validate_store_load(const StoreLoad& load);
Status validate_store_lots(const StoreLots& lots);
// The lots column: the wire's near_expiry array as JSON text, and back.
std::string encode_store_lots(const std::vector<wire::NearExpiryLot>& lots);
StatusOr<std::vector<wire::NearExpiryLot>> decode_store_lots(const std::string& text);
Status validate_store_cover(const StoreCover& cover);
// The cover column: the wire's stock_cover array as JSON text, and back.
std::string encode_store_cover(const std::vector<wire::StockCover>& cover);
StatusOr<std::vector<wire::StockCover>> decode_store_cover(const std::string& text);

// Settings: the key 1..64 of [a-z0-9._] (field "key"), the value at most 1 MiB once
// serialised (field "value"). Returns the serialised value.
StatusOr<std::string> validate_setting(std::string_view key, const nlohmann::json& value);

// The replica row a stock change leaves behind.
struct StockUpdate {
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;
  std::int64_t seq = 0;  // the change that set it
};

// A "stock.snapshot_end": replica rows set before from_seq in the listed buckets (of
// `buckets`; every row when the list is empty) are ones the store no longer has.
struct Prune {
  std::int64_t from_seq = 0;
  int buckets = 0;
  std::vector<int> bucket_list;
};
// Whether a replica row (sku, last set by updated_seq) goes under this prune.
bool prune_covers(const Prune& prune, std::string_view sku, std::int64_t updated_seq);

// What applying a batch on top of `last_applied` does. Work is folded per key so a
// backend writes each replica row, unknown code and kind counter once per batch.
struct BatchPlan {
  std::int64_t duplicates = 0;  // changes at or below last_applied
  std::int64_t applied = 0;     // changes beyond it (0 when there is a gap)
  std::int64_t new_last_applied = 0;
  std::optional<std::int64_t> expected_seq;  // set when the first new change is past a gap
  std::vector<StockUpdate> stock;            // last change per SKU wins; SKU order
  std::vector<std::pair<std::string, std::int64_t>> unknown_codes;  // code -> occurrences
  std::vector<std::pair<std::string, std::int64_t>> kind_counts;    // counted-only kinds
  std::vector<std::size_t> order_changes;           // indices of order events, applied in order
  std::vector<StorePurchaseOrder> purchase_orders;  // last change per po_id wins; po_id order
  std::vector<QuarantinedChange> quarantined;       // malformed new changes, seq order
  std::vector<Prune> prunes;                        // applied after the stock rows
  std::string last_hash;  // change_hash of the last new change ("" when none)
};

// How a batch relates to the history the cloud applied, from the store's stored
// position, outbox id and the hash of its change at last_applied.
struct BatchDecision {
  HistoryConflict conflict = HistoryConflict::kNone;
  bool resync = false;            // starts a resynchronisation
  std::int64_t last_applied = 0;  // to plan on (jumped forward by a resync)
  std::string outbox_id;          // to store after the batch
};
BatchDecision decide_batch(const BatchMeta& meta, const std::vector<Change>& changes,
                           std::int64_t last_applied, const std::string& stored_outbox_id,
                           const std::string& stored_hash);
// The acknowledgement to give for a planned batch (see CloudStore::apply_batch).
std::int64_t acked_for(const BatchMeta& meta, const std::vector<Change>& changes,
                       const BatchPlan& plan);
// What to keep as the store's oldest unsynced change after a planned batch: the time the
// store reported for what the batch left behind, 0 when it left nothing, and
// kKeepOldestUnsynced for a batch that was not applied (a gap), which says nothing new.
inline constexpr std::int64_t kKeepOldestUnsynced = -1;
std::int64_t oldest_unsynced_after(const BatchMeta& meta, const BatchPlan& plan);
// 16 hex digits of FNV-1a 64 over "seq|kind|body" (the body's compact JSON): what the
// cloud compares when a store replays the change at last_applied.
std::string change_hash(const Change& change);
// The kind and body of a quarantined change as stored (kind printable, at most 64 bytes;
// body compact JSON, or a JSON string of its first 64 KiB).
std::string quarantine_kind(const std::string& kind);
std::string quarantine_body(const nlohmann::json& body);

// Checks a batch's seqs before any database work: >= 1 and consecutive.
// kInvalidArgument naming "changes[i].seq".
Status validate_batch(const std::vector<Change>& changes);
// Checks one change (the index names it): kind valid, and the bodies (objects) of the
// kinds that are applied ("stock.changed"/"stock.snapshot": sku, sku_on_hand and
// sku_reserved within +-10^12, optional version >= 0; "scan.unknown_code": code of
// 1..256 characters; "stock.snapshot_end": optional from_seq >= 1, buckets 1..65536 with
// bucket_list, each in 0..buckets-1). kInvalidArgument naming "changes[i]...".
Status validate_change(const Change& change, std::size_t index);
// The plan for a batch that passed validate_batch; a change failing validate_change is
// quarantined (stamped with now_ms) instead of applied.
BatchPlan plan_batch(const std::vector<Change>& changes, std::int64_t last_applied,
                     std::int64_t now_ms = 0);

// Compact JSON text; invalid UTF-8 is replaced rather than thrown about.
std::string dump_json(const nlohmann::json& j);
// Parses stored JSON text; kInternal (a corrupt row) if it does not parse.
StatusOr<nlohmann::json> parse_stored_json(std::string_view text, std::string_view what);
// The downstream body of a catalog item (every field, version included).
nlohmann::json catalog_item_json(const CatalogItem& item);
// Barcodes are stored as a JSON array of strings.
StatusOr<std::vector<std::string>> parse_barcodes(std::string_view text);

// Sums per-row checksums into `buckets` buckets (every bucket reported, empty ones too).
class ChecksumAccumulator {
 public:
  explicit ChecksumAccumulator(int buckets);
  void add(std::string_view sku, std::int64_t on_hand, std::int64_t reserved);
  std::vector<RangeChecksum> take() { return std::move(out_); }

 private:
  int buckets_;
  std::vector<RangeChecksum> out_;
};

// Runs fn, turning an escaping exception (allocation failure, a library surprise) into
// kInternal so nothing throws through the CloudStore API.
template <typename Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return internal_error(std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return internal_error("unexpected exception");
  }
}

}  // namespace shopeasy::cloud::storage::detail
