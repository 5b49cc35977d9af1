// Edge -> cloud synchronisation (POST /v1/stores/{id}/sync). The edge sends its journal
// of changes numbered by a per-store sequence, in order and without gaps, together with
// the cursor of the last downstream item it has applied; the cloud replies with the
// highest sequence it has durably applied and the next downstream items (catalogue,
// prices, orders, config). Bodies are opaque JSON objects decoded by the kind's own codec.
// Codec conventions as in runner.hpp: decode/parse validate and never throw, unknown keys
// are ignored. Thread-safe.
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

// A full batch is 10,000 changes of a few hundred bytes each, well above the generic
// 1 MiB parse bound.
inline constexpr std::size_t kMaxSyncBytes = std::size_t{16} << 20;
inline constexpr std::size_t kMaxSyncChanges = 10000;
inline constexpr std::size_t kMaxDownstreamItems = 10000;

// A change's kind is the edge event type ("stock.changed", "product.upserted",
// "scan.unknown_code", "order.updated", ...): 1..64 of [a-z0-9._]. It is a string, not
// an enum, so an edge that learns a new kind of event never breaks an older cloud,
// which stores and counts kinds it does not apply.
bool is_valid_kind(std::string_view kind);

// A change whose kind or body is malformed still decodes (kind "" when it is not a
// string, body as sent, null when absent): the cloud quarantines that one change
// instead of refusing its whole batch, which would block the store's sync for good.
struct SyncChange {
  std::int64_t seq = 0;                            // == first_seq + index in the batch
  std::string kind{};                              // see is_valid_kind (not checked here)
  nlohmann::json body = nlohmann::json::object();  // a JSON object (not checked here)
  friend bool operator==(const SyncChange&, const SyncChange&) = default;
};

// An outbox id: 32 lower-case hex digits (128 random bits), made when the store's
// outbox is created.
bool is_valid_outbox_id(std::string_view id);

// The store's load when it sent a batch, for the cloud's surge pricing.
struct StoreLoadReport {
  std::int64_t open_orders = 0;        // 0..1,000,000: accepted and not yet handed over
  std::int64_t available_runners = 0;  // 0..1,000,000: online and free
  std::int64_t pick_queue = 0;         // 0..1,000,000: waiting for a picker
  friend bool operator==(const StoreLoadReport&, const StoreLoadReport&) = default;
};

// A lot that expires soon, with the units the store can still sell from it: what the
// cloud marks down in quotes (see docs/PROTOCOL.md, "Near-expiry lots").
struct NearExpiryLot {
  std::string sku{};
  std::string lot{};            // the lot code as printed (GS1 AI 10)
  std::int64_t expires_ms = 0;  // the end of its expiry date (Unix ms, UTC midnight)
  std::int64_t units = 0;       // 1..1,000,000: on hand and not reserved
  friend bool operator==(const NearExpiryLot&, const NearExpiryLot&) = default;
};
inline constexpr std::size_t kMaxNearExpiryLots = 2'000;

// One SKU's stock against its forecast demand: what the cloud's inventory rule reads to
// discount an overstocked SKU and to hold back promotions on a scarce one (see
// docs/PROTOCOL.md, "Stock cover"). Cover in days is units / daily_demand; a SKU with no
// demand and units on hand has unbounded cover.
struct StockCover {
  std::string sku{};
  std::int64_t units = 0;     // 0..kMaxCoverUnits: sellable on hand (not reserved)
  double daily_demand = 0.0;  // 0..kMaxCoverDailyDemand: forecast mean units per day
  friend bool operator==(const StockCover&, const StockCover&) = default;
};
inline constexpr std::size_t kMaxStockCover = 2'000;
inline constexpr std::int64_t kMaxCoverUnits = 1'000'000;
inline constexpr double kMaxCoverDailyDemand = 1'000'000.0;

struct SyncBatch {
  std::string store_id{};              // token id
  std::int64_t first_seq = 0;          // >= 1
  std::vector<SyncChange> changes{};   // 0..kMaxSyncChanges, seqs first_seq, first_seq+1, ...
  std::int64_t downstream_cursor = 0;  // >= 0; last downstream cursor applied, 0 for none
  std::int64_t sent_at_ms = 0;
  // Optional reconciliation: {"as_of_seq": n, "buckets": b, "checksums": [...]} computed
  // over the store's stock as of change n (see reconcile.hpp). Only sent when the store
  // is caught up, so the cloud compares its replica at the same point.
  std::optional<nlohmann::json> reconcile{};
  // Identity of the history the seqs number (see docs/PROTOCOL.md, "Restores"); absent
  // from edges older than the field.
  std::optional<std::string> outbox_id{};
  // The newest seq the edge's outbox has issued (>= every seq in the batch).
  std::optional<std::int64_t> head_seq{};
  // Set on the batch that starts a resynchronisation: changes before this seq are
  // superseded by the full snapshot starting here (== first_seq).
  std::optional<std::int64_t> resync_from_seq{};
  // downstream_item_hash of the item at downstream_cursor, so a cloud restored from a
  // backup notices it issued that cursor to something else; absent from older edges.
  std::optional<std::string> downstream_hash{};
  // The store's load now; absent from older edges (and stores that do not report it).
  std::optional<StoreLoadReport> load{};
  // Every lot that expires within the store's reporting horizon (soonest first, at most
  // kMaxNearExpiryLots); replaces what the store said before. Absent: nothing new to say
  // (older edges never send it).
  std::optional<std::vector<NearExpiryLot>> near_expiry{};
  // The SKUs whose cover is at or beyond the store's overstock or scarce threshold (most
  // extreme first, each SKU once, at most kMaxStockCover); replaces what the store said
  // before. Absent: nothing new to say (older edges never send it).
  std::optional<std::vector<StockCover>> stock_cover{};
  // When the oldest outbox change this batch does not carry was made (Unix ms): the
  // backlog left after it. Absent when the batch reaches head_seq, and from older edges.
  std::optional<std::int64_t> oldest_unsent_ts_ms{};
  friend bool operator==(const SyncBatch&, const SyncBatch&) = default;
};

// The near_expiry array as sent (also what the edge builds its batch from), and back:
// decode validates each lot as decode_sync_batch does (fields named "near_expiry[i].x").
nlohmann::json encode_near_expiry(const std::vector<NearExpiryLot>& lots);
[[nodiscard]] StatusOr<std::vector<NearExpiryLot>> decode_near_expiry(const nlohmann::json& j);

// The stock_cover array as sent, and back: decode validates each entry as
// decode_sync_batch does (fields named "stock_cover[i].x"; a SKU listed twice is refused).
nlohmann::json encode_stock_cover(const std::vector<StockCover>& cover);
[[nodiscard]] StatusOr<std::vector<StockCover>> decode_stock_cover(const nlohmann::json& j);

// Validates j and builds a SyncBatch; kInvalidArgument names the first bad field,
// "changes[i].seq" when a seq is not first_seq + i.
[[nodiscard]] StatusOr<SyncBatch> decode_sync_batch(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const SyncBatch& b);
// parse_json(text, max_bytes) then decode_sync_batch.
[[nodiscard]] StatusOr<SyncBatch> parse_sync_batch(std::string_view text,
                                                   std::size_t max_bytes = kMaxSyncBytes);

// Downstream kinds: "catalog_item", "price", "order", "store_config", ... (same rule).
struct DownstreamItem {
  std::int64_t cursor = 0;                         // >= 1, increasing
  std::string kind{};                              // see is_valid_kind
  nlohmann::json body = nlohmann::json::object();  // a JSON object
  friend bool operator==(const DownstreamItem&, const DownstreamItem&) = default;
};

// A downstream item's content fingerprint: 16 lower-case hex digits (FNV-1a 64 over its
// kind and its body as JSON). Equal on both sides for the same item.
std::string downstream_item_hash(std::string_view kind, const nlohmann::json& body);
bool is_valid_item_hash(std::string_view hash);

struct SyncReply {
  std::int64_t acked_seq = 0;                  // >= 0; every change up to here is durably applied
  std::optional<std::int64_t> expected_seq{};  // >= 1; set when the cloud saw a gap
  std::vector<DownstreamItem> downstream{};    // 0..kMaxDownstreamItems
  std::int64_t next_cursor = 0;                // >= 0; send as downstream_cursor next time
  std::vector<int> resend_buckets{};           // reconciliation found these buckets differ
  friend bool operator==(const SyncReply&, const SyncReply&) = default;
};

// Validates j and builds a SyncReply; kInvalidArgument names the first bad field.
[[nodiscard]] StatusOr<SyncReply> decode_sync_reply(const nlohmann::json& j);
// Snake_case JSON with absent optionals omitted; does not validate.
nlohmann::json encode(const SyncReply& r);
// parse_json(text, max_bytes) then decode_sync_reply.
[[nodiscard]] StatusOr<SyncReply> parse_sync_reply(std::string_view text,
                                                   std::size_t max_bytes = kMaxSyncBytes);

}  // namespace shopeasy::wire
