// CloudStore: everything the aggregator keeps, behind one interface with two real
// implementations: SqliteCloudStore (embedded, the default, zero set-up) and
// PostgresCloudStore (libpq; several stateless cloud instances share one server).
// One conformance suite runs against both.
//
// Ownership settles conflicts, never clocks: a store owns its stock (its changes are
// applied strictly in its own sequence order), the cloud owns catalog and prices.
// Timestamps passed in (now_ms) are only recorded, never compared across sources.
//
// Every method is thread-safe. Errors: kUnavailable when the database cannot be
// reached or is busy (retry), kInvalidArgument for bad input, kNotFound for an
// unknown store, kInternal for corruption or a bug.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/wire/order.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::cloud::storage {

struct StoreRegistration {
  std::string id;  // 1..64 of [A-Za-z0-9_-]
  std::string name;
  double lat = 0;
  double lon = 0;
  double service_radius_m = 3000;
  // Opening hours as {"open": "HH:MM", "close": "HH:MM", "tz_offset_min": 330}; a
  // close before open spans midnight. Stored as given (validated by the caller).
  nlohmann::json opening_hours = nlohmann::json::object();
  std::string secret_sha256;  // hex SHA-256 of the store's sync credential
  bool active = true;
};

struct StoreRecord {
  StoreRegistration registration;
  std::string geohash;                   // precision 7, derived from lat/lon
  std::int64_t last_applied_seq = 0;     // highest change applied from this store
  std::int64_t last_seen_ms = 0;         // last sync or heartbeat (0: never)
  std::int64_t applied_changes = 0;      // total applied
  std::int64_t duplicate_changes = 0;    // total ignored as replays
  std::string outbox_id;                 // the store's outbox identity, "" until it sends one
  std::int64_t quarantined_changes = 0;  // total malformed changes set aside
  std::int64_t resyncs = 0;              // full snapshots that replaced the replica
  // When the oldest change the store had not sent with its last applied batch was made
  // (Unix ms; 0: that batch reached the store's head, or the store does not say).
  std::int64_t oldest_unsynced_ms = 0;
};

// One change from a store's outbox (wire::SyncChange).
struct Change {
  std::int64_t seq = 0;
  std::string kind;  // "stock.changed", "stock.snapshot", "product.upserted", ...
  nlohmann::json body;
};

// What a batch says about the history its seqs number (docs/PROTOCOL.md, "Restores").
// Every field is optional: batches of older edges carry none of them.
struct BatchMeta {
  std::string outbox_id{};                        // "" when not sent
  std::optional<std::int64_t> head_seq{};         // newest seq the store's outbox has issued
  std::optional<std::int64_t> resync_from_seq{};  // == the first change's seq on a resync
  // The time of the store's oldest change after this batch; absent: none left behind.
  std::optional<std::int64_t> oldest_unsent_ms{};
};

// A change that could not be applied (malformed kind or body), kept for people to read.
struct QuarantinedChange {
  std::int64_t seq = 0;
  std::string kind;     // as sent, made printable and cut to 64 bytes
  nlohmann::json body;  // as sent (a string holding its start when it was over 64 KiB)
  std::string field;    // what is wrong: "changes[3].body.sku_on_hand"
  std::string reason;   // "must be an integer"
  std::int64_t at_ms = 0;
};

// Why a batch cannot be trusted to continue the history the cloud has applied.
enum class HistoryConflict {
  kNone,
  kOutboxChanged,    // another outbox id: the store's database was replaced
  kEdgeBehind,       // head_seq below last_applied: restored from an older backup
  kHistoryDiverged,  // the change at last_applied differs from the one applied
};
std::string_view to_string(HistoryConflict c);

struct ApplyResult {
  std::int64_t acked_seq = 0;                  // every change up to here is applied
  std::optional<std::int64_t> expected_seq;    // set when the batch started after a gap
  std::int64_t applied = 0;                    // new changes applied by this call
  std::int64_t duplicates = 0;                 // changes at or below last_applied, ignored
  std::vector<QuarantinedChange> quarantined;  // new changes set aside (counted in applied)
  // Not kNone: nothing was applied; the store must resynchronise (full snapshot sent
  // with resync_from_seq beyond acked_seq).
  HistoryConflict conflict = HistoryConflict::kNone;
  bool resynced = false;    // this batch started a resynchronisation
  std::int64_t pruned = 0;  // replica rows removed because the store no longer has them
};

// A store's replica of one SKU's stock, as last reported by the store.
struct Availability {
  std::string store_id;
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;  // reserved at the store (its own orders)
  std::int64_t held = 0;      // held by the cloud for orders the store has not accepted yet
  std::int64_t version = 0;   // the store's per-SKU version
  std::int64_t updated_seq = 0;
};

// Cloud-owned catalog entry.
struct CatalogItem {
  std::string sku;
  std::string name;
  std::string category;
  std::int64_t price_cents = 0;
  std::string unit = "each";
  std::vector<std::string> barcodes;  // GTIN-14
  bool active = true;
  std::int64_t version = 0;  // set by the store on upsert
};

// One row of a store's customer-facing catalog: item, price and availability.
struct StoreCatalogRow {
  CatalogItem item;
  std::int64_t available = 0;  // on_hand - reserved - held, never negative
};

// Something for a store to apply (catalog, prices, orders, config).
struct DownstreamItem {
  std::int64_t cursor = 0;  // per-store, increasing
  std::string kind;         // "catalog_item", "order", ...
  nlohmann::json body;
};

// How the downstream cursor a store reports stood against the queue (align_downstream).
enum class DownstreamGap {
  kNone,         // in step
  kStoreBehind,  // items after its cursor were trimmed: the store lost what it applied
  kStoreAhead,   // past every cursor issued here: this database lost what it issued
};
struct DownstreamAlignment {
  DownstreamGap gap = DownstreamGap::kNone;
  std::int64_t requeued = 0;  // items queued again (behind) or renumbered (ahead)
};

// Checksum of a store's replica over SKUs whose hash falls in one of `buckets` buckets.
struct RangeChecksum {
  int bucket = 0;
  std::int64_t rows = 0;
  // Order-independent: the wrapping sum of row_checksum() over the bucket's rows.
  std::uint64_t checksum = 0;
};

// The bucket of a SKU for reconciliation: FNV-1a 64 of the SKU modulo `buckets`
// (0 when buckets < 1).
int sku_bucket(std::string_view sku, int buckets);
// Per-row checksum term used by RangeChecksum (FNV-1a 64 of "sku|on_hand|reserved").
std::uint64_t row_checksum(std::string_view sku, std::int64_t on_hand, std::int64_t reserved);

// ---- Orders ----
//
// An order's life is kept by the cloud; the store owns its stock. Until a store accepts
// an order, the cloud keeps a hold on the replica of (store, sku) (Availability::held),
// taken with a conditional update inside the placing transaction so that concurrent
// placements, from any number of cloud instances, can never hold more than
// on_hand - reserved - held. Accepting moves the reservation to the store (it shows in
// `reserved`) and the cloud's hold is released; a refusal, a missed accept deadline, a
// cancellation, an expired payment or a failure release it too.

// A quantity held per SKU at one store.
struct HeldLine {
  std::string sku;
  std::int64_t qty = 0;
};

struct OrderRecord {
  wire::Order order;                    // status, store_id (the store holding or routed to)
  std::string reason;                   // why it was last re-routed, cancelled or failed
  std::string payment_intent_id;        // empty until the payment intent exists
  bool paid = false;                    // payment succeeded
  bool refund_due = false;              // paid, then cancelled or failed: a refund is owed
  std::int64_t payment_due_ms = 0;      // pending_payment past this is cancelled
  std::int64_t accept_by_ms = 0;        // routed: the store must accept by then
  std::int64_t accept_window_ms = 0;    // given to each store the order is routed to
  std::vector<std::string> candidates;  // stores in ranked order, for re-routing
  std::vector<std::string> tried;       // stores that refused or missed their deadline
  std::vector<HeldLine> holds;          // cloud holds at order.store_id (empty: none)
  std::string runner_id;
  std::int64_t eta_ms = 0;     // expected delivery (Unix ms), 0 unknown
  std::int64_t event_seq = 0;  // last order event appended
};

// One entry of an order's event stream (1, 2, ... per order).
struct OrderEvent {
  std::int64_t seq = 0;
  std::string kind;  // "status" or "position"
  nlohmann::json body;
  std::int64_t at_ms = 0;
};

// When a store was last heard from.
struct StoreSeen {
  std::string id;
  std::int64_t last_seen_ms = 0;
};

// An order's latest event, for watchers that wake the order's streams.
struct OrderEventHead {
  std::string order_id;
  std::int64_t seq = 0;
};

// What a customer's POST with an Idempotency-Key produced the first time.
struct IdempotentReply {
  std::string customer_id;
  std::string key;                 // 1..128 printable
  std::string request_hash;        // of the request body, to tell a different request apart
  std::string order_id;            // the order placed, if any
  int status_code = 0;             // 0 while the first request is still being answered
  nlohmann::json body;             // the first answer
  std::int64_t created_at_ms = 0;  // when the key was first used; purged a window later
};

// What forgetting a customer did (CloudStore::forget_customer).
struct ForgetResult {
  // Orders still open (not delivered, refunded, failed, or cancelled with nothing owed):
  // when non-zero nothing was changed, since a store is still serving one of them.
  std::int64_t open_orders = 0;
  std::int64_t orders_forgotten = 0;  // orders now carrying the tombstone id
  std::int64_t stores_told = 0;       // stores sent a customer.forget item
};

struct NewOrder {
  // status pending_payment, order_id/customer_id/lines/delivery/times/total set, store_id
  // unset: placement picks the first candidate that can hold every line.
  wire::Order order;
  std::vector<std::string> candidates;  // store ids, best first (at most 64)
  // The promise if candidates[i] holds the order; empty: order.promised_at_ms for any.
  std::vector<std::int64_t> promised_at_ms;
  std::int64_t payment_due_ms = 0;
  std::string idempotency_key;  // recorded (status 0) with the order; empty: none
  std::string request_hash;
  // Refuse (PlaceResult::too_many_unpaid) when the customer already has this many orders
  // waiting for payment; 0: no limit. Checked in the placing transaction.
  std::int64_t max_unpaid_per_customer = 0;
};

// A line no candidate could hold: the most any candidate had for it.
struct Shortage {
  std::string sku;
  std::int64_t requested = 0;
  std::int64_t available = 0;
};

struct PlaceResult {
  std::optional<OrderRecord> placed;       // set on success
  std::optional<IdempotentReply> earlier;  // the key was used before: nothing done
  std::vector<Shortage> shortages;         // set when no candidate could hold
  bool too_many_unpaid = false;            // the customer's unpaid orders hit the cap
};

// ---- Customer notifications ----
//
// A notification is written to the outbox in the transaction that records the order
// change it tells of, one row per (order event, channel, customer): the row's key is
// unique, so a replayed batch or a second instance can never queue it twice. Delivery
// claims rows with a lease (an instance that dies mid-send leaves them to another once
// the lease ends) and records what happened; cloud/notify holds the rules.

// What the order rules hand the backend for each status change a customer hears about.
struct NotificationEvent {
  std::string order_id;
  std::int64_t event_seq = 0;
  std::string customer_id;
  std::string kind;     // "confirmed", "packed", "out_for_delivery", "delivered", ...
  nlohmann::json body;  // the order event's body (status, eta_ms, reason, ...)
  std::int64_t at_ms = 0;
};

// One outbox row.
struct NotificationRow {
  std::int64_t id = 0;
  std::string dedupe_key;  // notification_key(): also the webhook's idempotency id
  std::string order_id;
  std::int64_t event_seq = 0;
  std::string customer_id;
  std::string channel;  // "sms" or "webhook"
  std::string kind;
  nlohmann::json body;
  std::string state;  // pending, sent, failed, dead, skipped
  std::int64_t attempts = 0;
  std::int64_t next_at_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::string last_error;
};

// What one delivery attempt left a claimed row as.
struct NotificationOutcome {
  std::int64_t id = 0;
  std::string state;  // pending (to retry at next_at_ms), sent, failed, dead, skipped
  std::int64_t attempts = 0;
  std::int64_t next_at_ms = 0;
  std::string error;
};

// Pending rows of one channel.
struct NotificationBacklog {
  std::string channel;
  std::int64_t pending = 0;
  std::int64_t oldest_created_at_ms = 0;  // 0 when none
};

// "<order_id>:<event seq>:<channel>:<customer_id>".
std::string notification_key(const std::string& order_id, std::int64_t event_seq,
                             std::string_view channel, const std::string& customer_id);

// A change of an order requested by the cloud itself (not by the store).
enum class OrderAction {
  kPaymentSucceeded,  // pending_payment -> confirmed -> routed (order sent to the store)
  kPaymentFailed,     // pending_payment -> cancelled, holds released
  kCancel,            // customer: -> cancelled, the store told, refund owed if paid
  kExpire,            // deadlines: unpaid -> cancelled; routed too long -> re-routed/failed
  kRefunded,          // the owed refund went through: -> refunded
};

struct OrderActionRequest {
  OrderAction action = OrderAction::kCancel;
  std::string reason;                 // recorded with the change
  std::int64_t accept_window_ms = 0;  // for routing: accept_by_ms = now + this
};

// ---- pricing (see cloud/pricing) ------------------------------------------------------

// One row of the price model as stored: a SKU's defaults (store_id empty) or one store's
// override. The pricing module validates rows before they get here.
struct PriceModelRow {
  std::string sku{};
  std::string store_id{};
  std::int64_t base_cents = 0;
  std::int64_t mrp_cents = 0;
  std::optional<std::int64_t> cost_cents{};  // absent: no floor (never repriced)
  std::int32_t min_margin_bp = 0;
  std::int64_t updated_at_ms = 0;
};

// One entry of the pricing audit: a price or fee that changed, with what led to it.
struct PriceChange {
  std::int64_t id = 0;  // assigned by the store, rising
  std::int64_t at_ms = 0;
  std::string store_id{};  // empty: every store (a model or configuration change)
  std::string sku{};       // empty for a store's fee or the configuration
  std::string kind{};      // "price", "fee", "pending", "model", "config", "feed"
  std::string rule{};      // what decided it ("competitor", "surge", "kill_switch", ...)
  std::int64_t old_cents = 0;
  std::int64_t new_cents = 0;
  nlohmann::json inputs = nlohmann::json::object();  // the inputs the rule saw
};

// A quote as handed to the customer; `body` is the JSON answered.
// A store's load as it last reported it with a sync batch; at_ms is when the cloud
// received it (the cloud's clock, so a store's skewed clock cannot make it look fresh).
struct StoreLoad {
  std::string store_id{};
  std::int64_t open_orders = 0;
  std::int64_t available_runners = 0;
  std::int64_t pick_queue = 0;
  std::int64_t at_ms = 0;
};

// The lots a store last said expire soon, and when the cloud heard it.
struct StoreLots {
  std::string store_id{};
  std::vector<wire::NearExpiryLot> lots{};  // soonest first, as sent
  std::int64_t at_ms = 0;
};

// The SKUs a store last said are overstocked or scarce (stock against forecast demand),
// and when the cloud heard it.
struct StoreCover {
  std::string store_id{};
  std::vector<wire::StockCover> cover{};  // most extreme first, as sent
  std::int64_t at_ms = 0;
};

// A store's purchase order as its last "purchase_order.changed" said (the body as sent:
// lines with quantities ordered and received, expected delivery).
struct StorePurchaseOrder {
  std::string po_id;
  std::string supplier_id;
  std::string status;              // draft, sent, partially_received, received, cancelled
  std::int64_t updated_at_ms = 0;  // the store's time of the change
  std::int64_t updated_seq = 0;    // the store's change that set it
  nlohmann::json body;
};

struct StoredQuote {
  std::string quote_id{};
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  nlohmann::json body = nlohmann::json::object();
};

// The registered stores: registrations, when each was last heard from, and a version
// that moves with every saved registration.
class StoreRegistry {
 public:
  virtual ~StoreRegistry() = default;

  // Registers a store or updates its registration (keeps its sync position, counters
  // and downstream queue). kInvalidArgument naming the field: id, name (1..200
  // characters), lat/lon, service_radius_m (> 0), opening_hours (an object),
  // secret_sha256 (empty or 64 lower-case hex digits).
  virtual Status upsert_store(const StoreRegistration& store) = 0;
  // kNotFound for an unknown id.
  virtual StatusOr<StoreRecord> get_store(const std::string& id) = 0;
  // Every store, inactive ones included, in id order.
  virtual StatusOr<std::vector<StoreRecord>> list_stores() = 0;
  // Stores heard from (sync or heartbeat, through any instance) at or after `since_ms`,
  // with when; what instances poll to keep their online flags current between full
  // reads of the registry.
  virtual StatusOr<std::vector<StoreSeen>> stores_seen_since(std::int64_t since_ms) = 0;
  // A number that grows whenever any store's registration is saved (0 with none), so
  // an instance can poll it cheaply and read the registry only when it moved. Heard-from
  // times (touch_store, syncs) do not move it.
  virtual StatusOr<std::int64_t> registry_version() = 0;
  // Records that the store was heard from. kNotFound for an unknown id.
  virtual Status touch_store(const std::string& id, std::int64_t now_ms) = 0;
};

// What stores sync up: their batches applied to the replica (in order, once), the
// changes quarantined on the way, and what reconciliation compares.
class SyncLedger {
 public:
  virtual ~SyncLedger() = default;

  // Applies a store's batch in one transaction, only from last_applied + 1 on and in
  // order: changes at or below last_applied are counted as duplicates and ignored; if
  // the first new change is beyond last_applied + 1 nothing is applied and
  // expected_seq = last_applied + 1. Also records now_ms as last seen. Applying means:
  // "stock.changed" and "stock.snapshot" set the replica of (store, sku) from the
  // body's sku_on_hand / sku_reserved / version (sku 1..64 printable, sku_on_hand /
  // sku_reserved integers within +-10^12, version an optional integer >= 0);
  // "scan.unknown_code" counts the code (1..256 characters) in the unknown-codes table;
  // "purchase_order.changed" (po_id and supplier_id 1..64, status 1..32) keeps the order
  // as sent, the change with the highest seq winning; every kind but stock and unknown
  // codes is counted (change_counts). A store's batches apply even while
  // it is inactive. kNotFound for an unknown store; kInvalidArgument (field
  // "changes[i].seq") if the seqs are not consecutive from >= 1: then nothing of the
  // batch is applied.
  //
  // Malformed changes (a kind not 1..64 of [a-z0-9._], a body that is not an object,
  // an applied kind's body failing the rules above) no longer refuse the batch: each is
  // stored in the store's quarantine with the field and reason, counted, acknowledged,
  // and the changes after it apply in order. Only non-consecutive seqs refuse a batch.
  //
  // "stock.snapshot_end" ({"from_seq"?, "buckets"?, "bucket_list"?}) removes the store's
  // replica rows last set before from_seq (the marker's own seq when absent), in the
  // listed buckets of `buckets` (every row without a list): the store re-sent every SKU
  // it has from from_seq on, so an older row is one it no longer has.
  //
  // With `meta` (docs/PROTOCOL.md, "Restores"): a batch whose outbox id differs from the
  // stored one, whose head_seq is below last_applied, or (with an outbox id) whose change
  // at last_applied differs from the one applied is refused (ApplyResult::conflict, nothing
  // applied). A batch with resync_from_seq == its first seq beyond last_applied starts a
  // resynchronisation: last_applied jumps to first seq - 1 and the outbox id is adopted.
  // With head_seq, a replay that ends before last_applied is acknowledged up to its end
  // only, so the change at last_applied is always compared before the store moves past.
  virtual StatusOr<ApplyResult> apply_batch(const std::string& store_id,
                                            const std::vector<Change>& changes, std::int64_t now_ms,
                                            const BatchMeta& meta) = 0;
  StatusOr<ApplyResult> apply_batch(const std::string& store_id, const std::vector<Change>& changes,
                                    std::int64_t now_ms) {
    return apply_batch(store_id, changes, now_ms, BatchMeta{});
  }
  // The store's quarantined changes, newest first, at most `limit` (1..10000).
  // kNotFound for an unknown store.
  virtual StatusOr<std::vector<QuarantinedChange>> quarantined(const std::string& store_id,
                                                               int limit) = 0;

  // The store's replica for these SKUs (all SKUs when `skus` is empty), in SKU order;
  // SKUs the store never reported are left out. kNotFound for an unknown store.
  virtual StatusOr<std::vector<Availability>> availability(
      const std::string& store_id, const std::vector<std::string>& skus) = 0;

  // Reconciliation checksums of the store's replica: one entry per bucket 0..buckets-1,
  // empty buckets included. kInvalidArgument unless 1 <= buckets <= 65536.
  virtual StatusOr<std::vector<RangeChecksum>> checksums(const std::string& store_id,
                                                         int buckets) = 0;
  // Unknown codes reported by a store, most frequent first (ties by code), at most
  // `limit` (1..10000): [{"code": "...", "count": 3, "last_seen_ms": ...}, ...].
  virtual StatusOr<nlohmann::json> unknown_codes(const std::string& store_id, int limit) = 0;
  // How many changes of each counted-only kind (neither stock nor unknown code) the store
  // has sent, by kind. kNotFound for an unknown store.
  virtual StatusOr<std::map<std::string, std::int64_t>> change_counts(
      const std::string& store_id) = 0;
  // The store's purchase orders as its "purchase_order.changed" changes last set them,
  // most recently changed first, at most `limit` (1..10000); only those in `status`
  // when it is not empty. kNotFound for an unknown store.
  virtual StatusOr<std::vector<StorePurchaseOrder>> purchase_orders(const std::string& store_id,
                                                                    const std::string& status,
                                                                    int limit) = 0;
};

// The customer catalog, and each store's view of it with its stock.
class CatalogStore {
 public:
  virtual ~CatalogStore() = default;

  // Creates or updates a catalog item (version 1, then incremented) and queues it
  // downstream ("catalog_item", the item with its version) for every active store, in
  // one transaction. Returns the version. Writing what is already stored changes
  // nothing and queues nothing (it returns the current version), so a write repeated
  // after a lost reply cannot bump the version twice. kInvalidArgument naming the field: sku (1..64
  // printable), name (1..200), category (0..64), price_cents (0..100000000), unit
  // (1..16), barcodes (at most 32 GTIN-14s).
  virtual StatusOr<std::int64_t> upsert_catalog_item(const CatalogItem& item) = 0;
  // The item, inactive ones included; nullopt if there is none.
  virtual StatusOr<std::optional<CatalogItem>> get_catalog_item(const std::string& sku) = 0;
  // Active catalog items with the store's availability, SKU order, after `after_sku`,
  // only those of `category` when it is not empty. SKUs compare as bytes on both
  // backends. At most `limit` (1..10000, else kInvalidArgument); kNotFound for an
  // unknown store.
  virtual StatusOr<std::vector<StoreCatalogRow>> store_catalog(const std::string& store_id,
                                                               const std::string& after_sku,
                                                               int limit,
                                                               const std::string& category) = 0;

  // Every catalog item, inactive ones included, SKU order (bytes), after `after_sku`; at
  // most `limit` (1..10000, else kInvalidArgument). For indexes built from the catalog.
  virtual StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                          int limit) = 0;
};

// Operator settings shared by every instance.
class SettingsStore {
 public:
  virtual ~SettingsStore() = default;

  // Operator settings shared by every instance, one JSON document per key
  // ("search.synonyms"). nullopt when the key was never written. kInvalidArgument for a
  // key not 1..64 of [a-z0-9._] or a value over 1 MiB once serialised.
  virtual StatusOr<std::optional<nlohmann::json>> get_setting(const std::string& key) = 0;
  // Creates or replaces the document (writing the same value again changes nothing).
  virtual Status put_setting(const std::string& key, const nlohmann::json& value,
                             std::int64_t now_ms) = 0;
};

// Each store's queue of items going down to it (catalog, orders), by cursor.
class DownstreamQueue {
 public:
  virtual ~DownstreamQueue() = default;

  // Queues an item for one store; returns its cursor (1, 2, ... per store, never reused).
  // kInvalidArgument for a kind not 1..64 of [a-z0-9._] or a body that is not an object;
  // kNotFound for an unknown store.
  virtual StatusOr<std::int64_t> enqueue_downstream(const std::string& store_id,
                                                    const std::string& kind,
                                                    const nlohmann::json& body) = 0;
  // Items with cursor > after_cursor, oldest first, at most `limit` (1..10000).
  // kInvalidArgument for a negative cursor or a bad limit; kNotFound for an unknown store.
  virtual StatusOr<std::vector<DownstreamItem>> downstream(const std::string& store_id,
                                                           std::int64_t after_cursor,
                                                           int limit) = 0;
  // Checks the cursor a store reports (the last item it applied) against the queue, in
  // one transaction, before anything is trimmed or handed out. When one side was
  // restored from a backup the two no longer line up: a store behind what was trimmed
  // gets its whole catalog, its open orders and its recent cancellations queued again;
  // for a store ahead of every cursor issued here the queue is renumbered past its
  // cursor. Either way the queue then follows the store's cursor without a hole, so the
  // same cursor reported again changes nothing. `store_hash` is what the store applied
  // at its cursor (wire::downstream_item_hash; "" when it did not say): an item queued
  // here at that cursor with other content means this database issued the cursor again
  // after a restore, and counts as the store being ahead. kInvalidArgument for a
  // negative cursor, kNotFound for an unknown store.
  virtual StatusOr<DownstreamAlignment> align_downstream(const std::string& store_id,
                                                         std::int64_t store_cursor,
                                                         const std::string& store_hash,
                                                         std::int64_t now_ms) = 0;
  // Queues the whole catalog for a store whose queue never issued a cursor (a new
  // store), in one transaction, and returns how many items; 0 for any other store, so
  // a registration repeated after a failure queues it then and never twice.
  // kNotFound for an unknown store.
  virtual StatusOr<std::int64_t> queue_initial_catalog(const std::string& store_id) = 0;
  // Deletes items at or below the cursor the store has confirmed applying. kOutOfRange
  // for a cursor that was never issued (the store is ahead of this database: restored
  // from an older backup?), kInvalidArgument if negative, kNotFound for an unknown store.
  virtual Status trim_downstream(const std::string& store_id, std::int64_t up_to_cursor) = 0;
};

// Customer orders: placement with holds, cloud-side actions, their events, and the
// idempotency records of the requests that made them.
class OrderStore {
 public:
  virtual ~OrderStore() = default;

  // Orders. apply_batch also applies a store's "order.status" and "order.position"
  // changes (see docs/PROTOCOL.md and the orders contract): a status that is not a legal
  // transition, for an unknown order or from a store the order is not at is ignored and
  // counted as "order.status.ignored" in change_counts; a malformed body as
  // "order.malformed". A refusal ("cancelled" with reason "refused...") of a routed order
  // re-routes it to the next candidate that can hold every line, or fails it.

  // Places an order in one transaction: if the customer used the idempotency key before,
  // returns that (earlier set, nothing else done); otherwise holds every line at the first
  // candidate that can hold them all, records the order (pending_payment, store_id that
  // candidate), its first event and the key. No candidate: shortages, nothing kept.
  // kInvalidArgument for a bad order; kAlreadyExists if the same key is being used by a
  // concurrent request.
  virtual StatusOr<PlaceResult> place_order(const NewOrder& order, std::int64_t now_ms) = 0;
  // kNotFound for an unknown order.
  virtual StatusOr<OrderRecord> get_order(const std::string& order_id) = 0;
  // A customer's orders, newest first (created_at_ms, then order id, both descending),
  // at most `limit`, starting after the order (before_created_at_ms, before_order_id) of
  // the previous page; INT64_MAX and "" for the first page.
  virtual StatusOr<std::vector<OrderRecord>> customer_orders(const std::string& customer_id,
                                                             std::int64_t before_created_at_ms,
                                                             const std::string& before_order_id,
                                                             std::int64_t limit) = 0;
  // Forgets a customer who deleted their account, keeping their orders for accounting:
  // in one transaction each order's customer id becomes `tombstone` and its delivery
  // point is coarsened to two decimals (about 1 km, enough for zone figures); the
  // runners' positions on the way to the door, the customer's idempotency records,
  // notifications and notification preferences are deleted; and each store that held one
  // of the orders is sent a "customer.forget" item so its copy is anonymised too.
  // Refuses (ForgetResult::open_orders, nothing changed) while an order is still open.
  // Repeating it finds nothing left to forget.
  virtual StatusOr<ForgetResult> forget_customer(const std::string& customer_id,
                                                 const std::string& tombstone,
                                                 std::int64_t now_ms) = 0;
  // Records the payment intent of an order (kNotFound for an unknown order).
  virtual Status set_payment_intent(const std::string& order_id, const std::string& intent_id) = 0;
  // Applies one cloud-side action; returns the order after it. kNotFound for an unknown
  // order, kFailedPrecondition (the order unchanged) when the action is not allowed in
  // the order's status, e.g. cancelling a delivered order. kExpire changes nothing when no
  // deadline has passed; kPaymentSucceeded on an order already past pending_payment is a
  // no-op (webhooks repeat).
  virtual StatusOr<OrderRecord> act_on_order(const std::string& order_id,
                                             const OrderActionRequest& request,
                                             std::int64_t now_ms) = 0;
  // Orders needing the cloud's attention at now_ms: unpaid past payment_due_ms, routed
  // past accept_by_ms, or owing a refund. At most `limit` (1..10000) ids.
  virtual StatusOr<std::vector<std::string>> due_orders(std::int64_t now_ms, int limit) = 0;
  // The order's events with seq > after_seq, oldest first, at most `limit` (1..10000).
  virtual StatusOr<std::vector<OrderEvent>> order_events(const std::string& order_id,
                                                         std::int64_t after_seq, int limit) = 0;
  // Every order with an event stamped at or after `since_ms`, with its latest seq; at
  // most `limit` (1..10000) orders. One query per instance stands in for one per open
  // tracking stream.
  virtual StatusOr<std::vector<OrderEventHead>> recent_order_event_heads(std::int64_t since_ms,
                                                                         int limit) = 0;
  // The reply recorded for (customer, key), if any.
  virtual StatusOr<std::optional<IdempotentReply>> idempotent_reply(const std::string& customer_id,
                                                                    const std::string& key) = 0;
  // Records (or completes) the reply for (customer, key); a new record keeps
  // reply.created_at_ms, a completed one its first time.
  virtual Status save_idempotent_reply(const IdempotentReply& reply) = 0;
  // Forgets at most `limit` (1..10000) replies recorded before `before_ms`, oldest first,
  // and returns how many: the key may then be used for a new request. kInvalidArgument
  // for a limit out of range.
  virtual StatusOr<std::int64_t> purge_idempotent_replies(std::int64_t before_ms, int limit) = 0;
};

// The pricing engine's state: price model, audit, quotes held for orders, and the
// stores' reported load (the surge signal).
class PricingStore {
 public:
  virtual ~PricingStore() = default;

  // Creates or replaces one model row (keyed by SKU and store id).
  virtual Status put_price_model(const PriceModelRow& row) = 0;
  // The SKU's defaults and every override, defaults first then by store id.
  virtual StatusOr<std::vector<PriceModelRow>> price_model_rows(const std::string& sku) = 0;
  // Appends audit entries in one transaction; ids are assigned in order.
  virtual Status add_price_changes(const std::vector<PriceChange>& changes) = 0;
  // Entries with id > after_id, oldest first, at most `limit` (1..10000), narrowed to a
  // SKU and/or store when those are not empty.
  virtual StatusOr<std::vector<PriceChange>> price_history(const std::string& sku,
                                                           const std::string& store_id,
                                                           std::int64_t after_id, int limit) = 0;
  // The newest entry of `kind` for (store, SKU) stamped at or before `at_or_before_ms`.
  virtual StatusOr<std::optional<PriceChange>> last_price_change(const std::string& store_id,
                                                                 const std::string& sku,
                                                                 const std::string& kind,
                                                                 std::int64_t at_or_before_ms) = 0;
  // The newest entry of `kind` for each SKU at the store, by SKU, at most `limit`
  // (1..10000): the prices the store's quotes last served and why.
  virtual StatusOr<std::vector<PriceChange>> latest_price_changes(const std::string& store_id,
                                                                  const std::string& kind,
                                                                  int limit) = 0;
  // The model rows that override the defaults at `store_id`, by SKU, at most `limit`
  // (1..10000).
  virtual StatusOr<std::vector<PriceModelRow>> store_price_models(const std::string& store_id,
                                                                  int limit) = 0;
  virtual Status put_quote(const StoredQuote& quote) = 0;
  // nullopt when no quote has that id.
  virtual StatusOr<std::optional<StoredQuote>> get_quote(const std::string& quote_id) = 0;
  // Deletes quotes that expired before `before_ms`, at most `limit`; returns how many.
  virtual StatusOr<std::int64_t> purge_quotes(std::int64_t before_ms, int limit) = 0;

  // Replaces the store's load (one row per store, so stores reporting at once on
  // several instances never overwrite each other). kInvalidArgument for a negative
  // figure, kNotFound for an unknown store.
  virtual Status put_store_load(const StoreLoad& load) = 0;
  // Every store's load received at or after `since_ms`, by store id.
  virtual StatusOr<std::vector<StoreLoad>> store_loads(std::int64_t since_ms) = 0;

  // Replaces the store's near-expiry lots (the last report wins). kInvalidArgument for a
  // lot without a SKU or lot code or with units outside 1..1,000,000, kNotFound for an
  // unknown store.
  virtual Status put_store_lots(const StoreLots& lots) = 0;
  // nullopt when the store never reported any.
  virtual StatusOr<std::optional<StoreLots>> store_lots(const std::string& store_id) = 0;

  // Replaces the store's stock cover list (the last report wins). kInvalidArgument for
  // an entry without a SKU, a SKU listed twice, units outside 0..1,000,000 or a daily
  // demand negative, not finite or over 1,000,000; kNotFound for an unknown store.
  virtual Status put_store_cover(const StoreCover& cover) = 0;
  // nullopt when the store never reported any.
  virtual StatusOr<std::optional<StoreCover>> store_cover(const std::string& store_id) = 0;
};

// The customer notification outbox (rows written with each order change) and the
// customers' preferences.
class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  // Leases up to `limit` pending rows due at now_ms (and not leased by anyone) to
  // `owner` until now_ms + lease_ms, oldest due first.
  virtual StatusOr<std::vector<NotificationRow>> claim_notifications(const std::string& owner,
                                                                     std::int64_t now_ms,
                                                                     std::int64_t lease_ms,
                                                                     int limit) = 0;
  // Records outcomes in one transaction; a row whose lease `owner` no longer holds is
  // left alone (another instance has it). Returns the rows updated.
  virtual StatusOr<std::int64_t> finish_notifications(
      const std::string& owner, const std::vector<NotificationOutcome>& outcomes,
      std::int64_t now_ms) = 0;
  virtual StatusOr<std::vector<NotificationBacklog>> notification_backlog() = 0;
  // Deletes rows no longer pending last changed before `before_ms` (at most `limit`).
  virtual StatusOr<std::int64_t> purge_notifications(std::int64_t before_ms, int limit) = 0;
  // A customer's rows, newest first, with id < before_id.
  virtual StatusOr<std::vector<NotificationRow>> customer_notifications(
      const std::string& customer_id, std::int64_t before_id, int limit) = 0;
  virtual StatusOr<std::optional<nlohmann::json>> notification_prefs(
      const std::string& customer_id) = 0;
  virtual Status put_notification_prefs(const std::string& customer_id, const nlohmann::json& prefs,
                                        std::int64_t now_ms) = 0;
};

// Units ordered per SKU and day, for search ranking.
class SalesStore {
 public:
  virtual ~SalesStore() = default;

  // Product popularity for search ranking: units ordered per SKU and day (days since the
  // Unix epoch, UTC). add_sku_sales adds `units` (sku -> units, each 1..1e9) to `day`'s
  // counts, in one transaction; sku_popularity sums the counts of days >= since_day;
  // purge_sku_sales deletes days before `before_day` and returns the rows deleted.
  virtual Status add_sku_sales(std::int64_t day,
                               const std::map<std::string, std::int64_t>& units) = 0;
  virtual StatusOr<std::map<std::string, std::int64_t>> sku_popularity(std::int64_t since_day) = 0;
  virtual StatusOr<std::int64_t> purge_sku_sales(std::int64_t before_day) = 0;
};

// The cloud's whole state behind one object, SQLite or PostgreSQL. Each part is its own
// interface above, so a service that needs only one takes that one; callers needing
// several (or all) keep taking a CloudStore.
class CloudStore : public StoreRegistry,
                   public SyncLedger,
                   public CatalogStore,
                   public SettingsStore,
                   public DownstreamQueue,
                   public OrderStore,
                   public PricingStore,
                   public NotificationStore,
                   public SalesStore {
 public:
  ~CloudStore() override = default;

  // Creates or upgrades the schema; call once after opening, before anything else.
  // Safe to call from several instances at once. kFailedPrecondition if the database
  // was migrated by a newer build (or one that numbers its changes differently).
  virtual Status migrate() = 0;

  // Channels a notification row is written for with each order change a customer hears
  // about ("sms", "webhook"); none (the default) writes no rows. Set once before the
  // store is used by other threads.
  void set_notification_channels(std::vector<std::string> channels) {
    notification_channels_ = std::move(channels);
  }
  const std::vector<std::string>& notification_channels() const { return notification_channels_; }

 private:
  std::vector<std::string> notification_channels_;
};

// Opens the embedded store at `path` (created if missing; WAL, synchronous=FULL): one
// writer connection and a few readers. ":memory:" gives a private in-memory store on one
// connection. kUnavailable if the file cannot be opened. Several processes may open the
// same file; their writes serialize.
StatusOr<std::unique_ptr<CloudStore>> open_sqlite_store(const std::string& path);
// Connects to PostgreSQL with a libpq connection string (keywords or a URI); at most
// `pool_size` (1..100) connections, opened as needed. One connection is made at once so
// that a wrong address or credential shows here: kUnavailable; kInvalidArgument for an
// unparsable string or bad pool_size. A connection the server drops is replaced on its
// next use. A call the server aborted (deadlock, serialization failure) or whose
// connection dropped before its commit is run again, and so is an idempotent write whose
// connection dropped during COMMIT; each such retry counts in
// cloud_pg_retries_total{reason} of `metrics` (a private registry when null).
StatusOr<std::unique_ptr<CloudStore>> open_postgres_store(const std::string& dsn, int pool_size,
                                                          metrics::Registry* metrics = nullptr);

}  // namespace shopeasy::cloud::storage
