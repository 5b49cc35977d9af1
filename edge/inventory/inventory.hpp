// Inventory: the store's stock, the one place where it is true with the internet up
// or down. Every change is a movement appended to the ledger and applied to on-hand
// (per SKU, bin and lot) in the same transaction, with its stock.changed event in the
// outbox; nothing else writes stock. Lots are picked and reserved earliest expiry
// first (FEFO). Writes go through EdgeStore::write (group commit, durable before the
// caller hears back); reads use the store's read connections.
//
// Errors, by what the caller should do: kInvalidArgument (fix the request; field names
// the part), kNotFound (unknown SKU, code or count), kFailedPrecondition (not enough
// stock, count already closed), kConflict (stale version), kUnavailable (retry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/wire/scan.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::inventory {

// Who made a change and through what, recorded on every ledger row.
struct Actor {
  std::string name;    // user, token or device id
  std::string source;  // "api", "scanner:h1", "camera:c2", "sync"
};

struct ProductInput {
  std::string sku;
  std::string name;
  std::string category;
  std::int64_t price_cents = 0;
  std::string unit = "each";
  std::vector<std::string> barcodes;  // as printed; normalised to GTIN-14 on import
  std::optional<std::string> home_bin;
  std::int64_t reorder_point = 0;
};

struct BinInput {
  std::string code;
  std::int64_t walk_order = 0;
  std::string zone;
};

// One stock edit through the API (PATCH /api/inventory/{sku}).
struct StockEdit {
  std::string sku;
  std::string bin;
  std::optional<std::string> lot;
  std::optional<std::int64_t> set;     // set on-hand in (bin, lot) to this
  std::optional<std::int64_t> adjust;  // or move it by this (non-zero)
  std::string reason;                  // adjust, damage, expire, return, count
  std::optional<std::string> note;
  std::optional<std::int64_t> expected_version;  // If-Match; stale -> kConflict
};

struct OrderLine {
  std::string sku;
  std::int64_t qty = 0;
};

struct StockQuery {
  std::optional<std::string> text;  // SKU prefix, name substring or barcode
  std::optional<std::string> category;
  std::optional<std::string> bin;
  bool low_only = false;                 // available below reorder point
  std::optional<std::string> after_sku;  // cursor
  int limit = 50;
};

struct LedgerQuery {
  std::optional<std::string> sku;
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> until_ms;
  std::optional<std::string> reason;
  std::optional<std::int64_t> before_id;  // cursor: newest first
  int limit = 100;
};

// Validates codes used as SKUs and bin labels: 1..64 of [A-Za-z0-9._-].
Status validate_code(std::string_view value, std::string_view field);

// What a scanned code names: the product and how many units one scan of it is.
struct ScannedProduct {
  std::string sku;
  std::string name;
  std::int64_t units = 1;               // a GS1 case label's count of trade items, else 1
  std::optional<std::string> lot{};     // a GS1 code's batch/lot (AI 10)
  std::optional<std::string> expiry{};  // a GS1 code's expiry (AI 17), "YYYY-MM-DD"
};

// Part of an order's pick: units of one (bin, lot) that left stock.
struct PickedSlice {
  std::string bin;
  std::int64_t lot_id = 0;
  std::int64_t qty = 0;
};

// Typed results. The services return these; the routes (and the MQTT scan reply) turn
// them into the API's JSON with the functions in inventory_json.hpp.

// One movement as applied: the ledger row and the stock after it. Also the body of the
// stock.changed event it emitted (without `seq`).
struct StockMovement {
  std::string store_id;
  std::string sku;
  std::string bin;
  std::optional<std::string> lot;     // lot code; none for stock without a lot
  std::optional<std::string> expiry;  // "YYYY-MM-DD"
  std::int64_t delta = 0;             // on-hand change
  std::int64_t reserved_delta = 0;
  std::string reason;
  std::string actor;
  std::string source;
  std::optional<std::string> ref;
  std::optional<std::string> note;
  std::int64_t ts_ms = 0;
  std::int64_t on_hand_after = 0;  // of this (bin, lot)
  std::int64_t reserved_after = 0;
  std::int64_t sku_on_hand = 0;  // of the whole SKU
  std::int64_t sku_reserved = 0;
  std::int64_t version = 0;  // the SKU's stock version after this movement
  std::int64_t ledger_id = 0;
  std::optional<std::int64_t> seq;  // of its stock.changed event, once emitted
};

// A product with its stock totals (a row of the stock list).
struct StockLevel {
  std::string sku;
  std::string name;
  std::string category;
  std::int64_t price_cents = 0;
  std::string unit;
  std::optional<std::string> home_bin;
  std::int64_t reorder_point = 0;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;  // changes with every movement of the SKU (the ETag)

  std::int64_t available() const { return on_hand - reserved; }
  bool low() const { return reorder_point > 0 && available() < reorder_point; }
};

// A SKU's stock in one bin and lot.
struct BinStock {
  std::string bin;
  std::optional<std::string> lot;
  std::optional<std::string> expiry;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
};

// A ledger row as read back.
struct LedgerEntry {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;
  std::string sku;
  std::string bin;
  std::optional<std::string> lot;
  std::int64_t delta = 0;
  std::int64_t reserved_delta = 0;
  std::string reason;
  std::string actor;
  std::string source;
  std::optional<std::string> ref;
  std::optional<std::string> note;
  std::int64_t on_hand_after = 0;
};

// One SKU in full: totals, barcodes, where its stock is (earliest expiry first) and its
// latest movements (newest first).
struct StockItem {
  StockLevel level;
  std::vector<std::string> barcodes;  // GTIN-14
  std::vector<BinStock> stock;
  std::vector<LedgerEntry> recent_movements;
};

// A page of the stock list, by SKU; next_cursor is the last SKU when more follow.
struct StockPage {
  std::vector<StockLevel> items;
  std::optional<std::string> next_cursor;
};

// A page of the ledger, newest first; next_cursor is the last id when more follow.
struct LedgerPage {
  std::vector<LedgerEntry> items;
  std::optional<std::int64_t> next_cursor;
};

// What a scan did.
struct ScanResult {
  std::string scan_id;
  std::string action;  // a wire::ScanAction name
  std::string sku;
  std::string name;
  std::int64_t qty = 0;  // units, after a case label's multiplier
  std::vector<StockMovement> movements;
  bool duplicate = false;  // a repeat of scan_id: the first result, nothing changed now
  // For action lookup only: the product the code names (nothing else is set).
  std::optional<StockItem> looked_up;
};

// What a stock edit did: the SKU's stock version after it and its movement (none when
// the edit set what was already there).
struct StockEdited {
  std::string sku;
  std::int64_t version = 0;
  std::vector<StockMovement> movements;
};

// What a reservation or release of an order's stock did.
struct Reservation {
  std::string order_id;
  std::vector<StockMovement> movements;
  bool already_reserved = false;  // reserve() of an order that holds stock: nothing changed
};

class Inventory {
 public:
  Inventory(store::EdgeStore& store, std::string store_id, log::Logger logger,
            metrics::Registry& metrics);

  // Applies one handheld or camera scan. Idempotent by scan_id: a repeat returns the
  // first result with `duplicate` set and changes nothing. An unknown code is kNotFound
  // and recorded as a scan.unknown_code event.
  StatusOr<ScanResult> scan(const wire::Scan& scan, const Actor& actor);
  // scan() as the API's JSON (scan_result_json), for callers that still want JSON.
  StatusOr<nlohmann::json> apply_scan(const wire::Scan& scan, const Actor& actor);

  // Creates or updates products (and their barcodes). With `atomic`, any bad row
  // refuses the whole batch; otherwise good rows land and bad ones are reported.
  // Returns {"applied": n, "errors": [{"row": i, "field": ..., "message": ...}]}.
  StatusOr<nlohmann::json> upsert_products(const std::vector<StatusOr<ProductInput>>& rows,
                                           bool atomic, const Actor& actor);
  // Creates or updates bins; returns how many were written.
  StatusOr<std::size_t> upsert_bins(const std::vector<BinInput>& bins, const Actor& actor);

  // Applies a catalog item from the cloud (which owns catalog and prices) inside the
  // sync client's write, so the item and the sync cursor commit together. Keeps the
  // store's own home bin and reorder point. kInvalidArgument naming a bad field.
  Status apply_cloud_catalog_item(store::WriteContext& ctx, const nlohmann::json& body);

  // Sets or adjusts on-hand of one (sku, bin, lot) with a reason.
  StatusOr<StockEdited> edit_stock(const StockEdit& edit, const Actor& actor);

  // Reserves every line FEFO for an order, all or nothing (kFailedPrecondition naming
  // the first short line). Re-reserving the same order is a no-op returning the same.
  StatusOr<Reservation> reserve(const std::string& order_id, const std::vector<OrderLine>& lines,
                                const Actor& actor);
  // Releases what is still reserved for the order.
  StatusOr<Reservation> release(const std::string& order_id, const Actor& actor);

  // The same operations as steps of a larger write (an order changing together with
  // its stock): each runs inside the caller's EdgeStore write and checks before it
  // changes anything, so a refusal leaves neither rows nor events behind.
  //
  // kFailedPrecondition naming the first SKU that cannot be reserved in full (field
  // "lines[i]"; lines of one SKU count together), kNotFound for an unknown SKU.
  Status check_reservable(db::Database& db, const std::vector<OrderLine>& lines) const;
  // Reserves the lines FEFO, adding to what the order already holds; fails as
  // check_reservable.
  StatusOr<Reservation> reserve_in(store::WriteContext& ctx, const std::string& order_id,
                                   const std::vector<OrderLine>& lines, const Actor& actor);
  // Releases what the order holds of `sku`, or of every SKU when nullopt.
  StatusOr<Reservation> release_in(store::WriteContext& ctx, const std::string& order_id,
                                   const std::optional<std::string>& sku, const Actor& actor);
  // Takes `qty` units of `sku` out of stock for the order ("pick" movements, ref = the
  // order id) from its reservation, earliest expiry first. With `bin` (where the picker
  // scanned), reserved units in that bin go first; the rest come from that bin's free
  // stock while as much of the reservation elsewhere is released. kFailedPrecondition
  // when the order holds less than `qty` or the bin has not enough.
  StatusOr<std::vector<PickedSlice>> pick_in(store::WriteContext& ctx, const std::string& order_id,
                                             const std::string& sku, std::int64_t qty,
                                             const std::optional<std::string>& bin,
                                             const Actor& actor);
  // Puts picked units back where they came from ("return" movement, ref = the order).
  Status put_back_in(store::WriteContext& ctx, const std::string& order_id, const std::string& sku,
                     const PickedSlice& slice, const Actor& actor);
  // The product a scanned code names: kInvalidArgument for a malformed code, kNotFound
  // for one that is not in the catalog.
  StatusOr<ScannedProduct> resolve_scan_code(db::Database& db, std::string_view code) const;

  // Cycle counts: open for a bin or a set of SKUs, scan (apply_scan with action count),
  // close (variances become "count" movements).
  StatusOr<nlohmann::json> open_count(const std::optional<std::string>& bin,
                                      const std::vector<std::string>& skus, const Actor& actor);
  StatusOr<nlohmann::json> close_count(const std::string& count_id, const Actor& actor);
  StatusOr<nlohmann::json> get_count(const std::string& count_id);

  // Reads.
  StatusOr<StockPage> stock_page(const StockQuery& query);
  // kInvalidArgument for a malformed SKU, kNotFound for an unknown one.
  StatusOr<StockItem> stock_item(const std::string& sku, int recent_movements = 20);
  StatusOr<LedgerPage> movements(const LedgerQuery& query);
  // The same as the API's JSON, for callers that still want JSON.
  StatusOr<nlohmann::json> list_stock(const StockQuery& query);
  StatusOr<nlohmann::json> get_sku(const std::string& sku, int recent_movements = 20);
  StatusOr<nlohmann::json> ledger(const LedgerQuery& query);
  // Below reorder point, expiring within the category's warning days (default
  // `default_expiry_days`), expired stock still on hand, negative or impossible rows.
  // `today` is "YYYY-MM-DD".
  StatusOr<nlohmann::json> alerts(const std::string& today, int default_expiry_days);
  // The events table from `after_seq` (for SSE resume), oldest first.
  StatusOr<std::vector<events::Event>> events_after(std::int64_t after_seq, int limit);

 private:
  store::EdgeStore& store_;
  std::string store_id_;
  log::Logger logger_;
  metrics::CounterFamily& scans_;
  metrics::Counter& unknown_codes_;
};

}  // namespace shopeasy::edge::inventory
