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

#include "common/status/status.hpp"

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
  std::string geohash;                 // precision 7, derived from lat/lon
  std::int64_t last_applied_seq = 0;   // highest change applied from this store
  std::int64_t last_seen_ms = 0;       // last sync or heartbeat (0: never)
  std::int64_t applied_changes = 0;    // total applied
  std::int64_t duplicate_changes = 0;  // total ignored as replays
};

// One change from a store's outbox (wire::SyncChange).
struct Change {
  std::int64_t seq = 0;
  std::string kind;  // "stock.changed", "stock.snapshot", "product.upserted", ...
  nlohmann::json body;
};

struct ApplyResult {
  std::int64_t acked_seq = 0;                // every change up to here is applied
  std::optional<std::int64_t> expected_seq;  // set when the batch started after a gap
  std::int64_t applied = 0;                  // new changes applied by this call
  std::int64_t duplicates = 0;               // changes at or below last_applied, ignored
};

// A store's replica of one SKU's stock, as last reported by the store.
struct Availability {
  std::string store_id;
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;  // reserved at the store (its own orders)
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
  std::int64_t available = 0;  // on_hand - reserved at the store, never negative
};

// Something for a store to apply (catalog, prices, orders, config).
struct DownstreamItem {
  std::int64_t cursor = 0;  // per-store, increasing
  std::string kind;         // "catalog_item", "order", ...
  nlohmann::json body;
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

class CloudStore {
 public:
  virtual ~CloudStore() = default;

  // Creates or upgrades the schema; call once after opening, before anything else.
  // Safe to call from several instances at once. kFailedPrecondition if the database
  // was migrated by a newer build (or one that numbers its changes differently).
  virtual Status migrate() = 0;

  // Registers a store or updates its registration (keeps its sync position, counters
  // and downstream queue). kInvalidArgument naming the field: id, name (1..200
  // characters), lat/lon, service_radius_m (> 0), opening_hours (an object),
  // secret_sha256 (empty or 64 lower-case hex digits).
  virtual Status upsert_store(const StoreRegistration& store) = 0;
  // kNotFound for an unknown id.
  virtual StatusOr<StoreRecord> get_store(const std::string& id) = 0;
  // Every store, inactive ones included, in id order.
  virtual StatusOr<std::vector<StoreRecord>> list_stores() = 0;
  // Records that the store was heard from. kNotFound for an unknown id.
  virtual Status touch_store(const std::string& id, std::int64_t now_ms) = 0;

  // Applies a store's batch in one transaction, only from last_applied + 1 on and in
  // order: changes at or below last_applied are counted as duplicates and ignored; if
  // the first new change is beyond last_applied + 1 nothing is applied and
  // expected_seq = last_applied + 1. Also records now_ms as last seen. Applying means:
  // "stock.changed" and "stock.snapshot" set the replica of (store, sku) from the
  // body's sku_on_hand / sku_reserved / version; "scan.unknown_code" counts the code
  // in the unknown-codes table; every other kind is counted only (change_counts). A
  // store's batches apply even while it is inactive. kNotFound for an unknown store;
  // kInvalidArgument (field "changes[i]...") if the seqs are not consecutive from >= 1,
  // a kind is not 1..64 of [a-z0-9._], or an applied kind's body is malformed (stock:
  // sku 1..64 printable, sku_on_hand/sku_reserved integers within +-10^12, version an
  // optional integer >= 0; unknown code: code 1..256 characters): then nothing of the
  // batch is applied.
  virtual StatusOr<ApplyResult> apply_batch(const std::string& store_id,
                                            const std::vector<Change>& changes,
                                            std::int64_t now_ms) = 0;

  // The store's replica for these SKUs (all SKUs when `skus` is empty), in SKU order;
  // SKUs the store never reported are left out. kNotFound for an unknown store.
  virtual StatusOr<std::vector<Availability>> availability(
      const std::string& store_id, const std::vector<std::string>& skus) = 0;

  // Creates or updates a catalog item (version 1, then incremented) and queues it
  // downstream ("catalog_item", the item with its version) for every active store, in
  // one transaction. Returns the version. kInvalidArgument naming the field: sku (1..64
  // printable), name (1..200), category (0..64), price_cents (0..100000000), unit
  // (1..16), barcodes (at most 32 GTIN-14s).
  virtual StatusOr<std::int64_t> upsert_catalog_item(const CatalogItem& item) = 0;
  // The item, inactive ones included; nullopt if there is none.
  virtual StatusOr<std::optional<CatalogItem>> get_catalog_item(const std::string& sku) = 0;
  // Active catalog items with the store's availability, SKU order, after `after_sku`.
  // SKUs compare as bytes on both backends. At most `limit` (1..10000, else
  // kInvalidArgument); kNotFound for an unknown store.
  virtual StatusOr<std::vector<StoreCatalogRow>> store_catalog(const std::string& store_id,
                                                               const std::string& after_sku,
                                                               int limit) = 0;

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
  // Deletes items at or below the cursor the store has confirmed applying. kOutOfRange
  // for a cursor that was never issued (the store is ahead of this database: restored
  // from an older backup?), kInvalidArgument if negative, kNotFound for an unknown store.
  virtual Status trim_downstream(const std::string& store_id, std::int64_t up_to_cursor) = 0;

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
// next use.
StatusOr<std::unique_ptr<CloudStore>> open_postgres_store(const std::string& dsn, int pool_size);

}  // namespace shopeasy::cloud::storage
