// PostgresCloudStore: CloudStore on a PostgreSQL server through libpq, for several
// stateless cloud instances sharing one database. A small pool of connections (mutex +
// condition variable) serves calls; each connection prepares the statements it uses on
// first use. A connection the server dropped is replaced on its next use, and a call
// whose very first command found its pooled connection dead is retried on another one
// (nothing of it can have reached the server), so a server restart costs no errors
// once the server is back.
//
// Concurrency between instances: apply_batch locks the store's row (SELECT ... FOR
// UPDATE) before reading last_applied_seq, so two instances applying batches of one
// store serialize and the second sees the first's position. Transactions that lock
// several store rows (catalog fan-out) lock them in id order. A placement holds stock at
// one candidate store at a time, in SKU order, and a failed try rolls back to a
// savepoint, which gives its row locks back; re-routing and line changes lock the stock
// rows they may touch first, in (store id, SKU) order (OrderTx::lock_stock). An order
// action locks the order's store row before the order's row, the order apply_batch takes
// them in, and a batch with order events locks the store's stock rows it may touch in SKU
// order before writing any. So these wait for each other rather than deadlock.
//
// Retries (call()): a deadlock or serialization failure means the server rolled the
// transaction back, and a connection lost before COMMIT was sent means nothing of it
// committed: the call runs again on a fresh connection, a few times. A connection lost
// while COMMIT (or a lone statement) was in flight is ambiguous: the change may have
// landed. Only calls declared idempotent run again then, and each is written so that
// running it after it committed changes nothing (catalog upsert by content, placement by
// idempotency key, order actions by state); the others answer kUnavailable saying so.
// Every retry counts in cloud_pg_retries_total{reason}.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "cloud/storage/cloud_store.hpp"
#include "cloud/storage/downstream_rules.hpp"
#include "cloud/storage/order_rules.hpp"
#include "cloud/storage/store_rules.hpp"

namespace shopeasy::cloud::storage {
namespace {

using std::chrono_literals::operator""s;

constexpr int kMaxPoolSize = 100;
// A placement's transaction starts with the savepoint its failed tries roll back to.
constexpr const char* kBeginPlacement = "BEGIN; SAVEPOINT placement_try";
// Runs of one call after a deadlock, serialization failure or lost connection.
constexpr int kMaxRetries = 5;
// How long a call waits for a pooled connection before giving up with kUnavailable.
constexpr std::chrono::seconds kAcquireTimeout = 30s;
// Serializes schema migrations across instances (pg_advisory_xact_lock key).
constexpr std::int64_t kMigrationLockKey = 0x53684573794D6967;  // "ShEsyMig"

struct PgMigration {
  int version;
  const char* name;
  const char* sql;
};

// Text columns compared or ordered by the API use the "C" collation, so paging order is
// byte order whatever the server's default locale (and the same as SQLite's).
// The hot child tables carry no foreign keys: a referential check per row would cost a
// server-side query per replica row, and every writer checks the store under its row
// lock anyway.
const PgMigration kMigrations[] = {
    {1, "cloud_store_initial", R"sql(
CREATE TABLE stores (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  geohash text COLLATE "C" NOT NULL,
  service_radius_m double precision NOT NULL,
  opening_hours text NOT NULL,
  secret_sha256 text NOT NULL,
  active boolean NOT NULL,
  last_applied_seq bigint NOT NULL DEFAULT 0,
  last_seen_ms bigint NOT NULL DEFAULT 0,
  applied_changes bigint NOT NULL DEFAULT 0,
  duplicate_changes bigint NOT NULL DEFAULT 0,
  next_cursor bigint NOT NULL DEFAULT 1
);
CREATE INDEX stores_by_geohash ON stores (geohash);
CREATE TABLE replica (
  store_id text COLLATE "C" NOT NULL,
  sku text COLLATE "C" NOT NULL,
  on_hand bigint NOT NULL,
  reserved bigint NOT NULL,
  version bigint NOT NULL,
  updated_seq bigint NOT NULL,
  PRIMARY KEY (store_id, sku)
);
CREATE TABLE catalog (
  sku text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  category text NOT NULL,
  price_cents bigint NOT NULL,
  unit text NOT NULL,
  barcodes text NOT NULL,
  active boolean NOT NULL,
  version bigint NOT NULL
);
CREATE TABLE downstream (
  store_id text COLLATE "C" NOT NULL REFERENCES stores (id),
  cursor bigint NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (store_id, cursor)
);
CREATE TABLE unknown_codes (
  store_id text COLLATE "C" NOT NULL,
  code text COLLATE "C" NOT NULL,
  occurrences bigint NOT NULL,
  last_seen_ms bigint NOT NULL,
  PRIMARY KEY (store_id, code)
);
CREATE TABLE change_kind_counts (
  store_id text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (store_id, kind)
);
)sql"},
    {2, "cloud_orders", R"sql(
ALTER TABLE replica ADD COLUMN held bigint NOT NULL DEFAULT 0;
CREATE TABLE orders (
  order_id text COLLATE "C" PRIMARY KEY,
  customer_id text COLLATE "C" NOT NULL,
  store_id text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL,
  payment_due_ms bigint NOT NULL,
  accept_by_ms bigint NOT NULL,
  refund_due boolean NOT NULL,
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  doc text NOT NULL
);
CREATE INDEX orders_unpaid ON orders (payment_due_ms) WHERE status = 'pending_payment';
CREATE INDEX orders_routed ON orders (accept_by_ms) WHERE status = 'routed';
CREATE INDEX orders_refund_due ON orders (order_id) WHERE refund_due;
CREATE TABLE order_events (
  order_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  at_ms bigint NOT NULL,
  PRIMARY KEY (order_id, seq)
);
CREATE TABLE idempotency (
  customer_id text COLLATE "C" NOT NULL,
  idem_key text COLLATE "C" NOT NULL,
  request_hash text NOT NULL,
  order_id text NOT NULL,
  status_code integer NOT NULL,
  body text NOT NULL,
  created_at_ms bigint NOT NULL,
  PRIMARY KEY (customer_id, idem_key)
);
)sql"},
    {3, "orders_by_customer", R"sql(
CREATE INDEX orders_by_customer ON orders (customer_id, status);
)sql"},
    // The history a store's seqs number (outbox id, hash of the change at
    // last_applied_seq) and the changes set aside as malformed.
    {4, "sync_history_and_quarantine", R"sql(
ALTER TABLE stores ADD COLUMN outbox_id text NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN last_change_hash text NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN quarantined_changes bigint NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN resyncs bigint NOT NULL DEFAULT 0;
CREATE TABLE quarantine (
  store_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  field text NOT NULL,
  reason text NOT NULL,
  at_ms bigint NOT NULL,
  PRIMARY KEY (store_id, seq)
);
)sql"},
    {5, "idempotency_by_age", R"sql(
CREATE INDEX idempotency_by_age ON idempotency (created_at_ms);
)sql"},
    {6, "store_registry_version", R"sql(
CREATE SEQUENCE store_registry_version;
ALTER TABLE stores ADD COLUMN registry_version bigint NOT NULL DEFAULT 0;
CREATE INDEX stores_by_registry_version ON stores (registry_version);
)sql"},
    {7, "order_events_by_time", R"sql(
CREATE INDEX order_events_by_time ON order_events (at_ms);
)sql"},
    // Operator settings shared by every instance (search synonyms).
    {8, "settings", R"sql(
CREATE TABLE settings (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  updated_at_ms bigint NOT NULL
);
)sql"},
    // Dynamic pricing: the price model, the audit of every price and fee change, and
    // the quotes customers were given. A cost of 0 means none (no floor).
    {9, "pricing", R"sql(
CREATE TABLE price_models (
  sku text COLLATE "C" NOT NULL,
  store_id text COLLATE "C" NOT NULL,
  base_cents bigint NOT NULL,
  mrp_cents bigint NOT NULL,
  cost_cents bigint NOT NULL,
  min_margin_bp integer NOT NULL,
  updated_at_ms bigint NOT NULL,
  PRIMARY KEY (sku, store_id)
);
CREATE TABLE price_history (
  id bigserial PRIMARY KEY,
  at_ms bigint NOT NULL,
  store_id text COLLATE "C" NOT NULL,
  sku text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  rule text NOT NULL,
  old_cents bigint NOT NULL,
  new_cents bigint NOT NULL,
  inputs text NOT NULL
);
CREATE INDEX price_history_by_key ON price_history (store_id, sku, kind, at_ms);
CREATE INDEX price_history_by_sku ON price_history (sku, id);
CREATE TABLE price_quotes (
  quote_id text COLLATE "C" PRIMARY KEY,
  created_at_ms bigint NOT NULL,
  expires_at_ms bigint NOT NULL,
  body text NOT NULL
);
CREATE INDEX price_quotes_by_expiry ON price_quotes (expires_at_ms);
)sql"},
    {10, "store_load", R"sql(
CREATE TABLE store_load (
  store_id text COLLATE "C" PRIMARY KEY,
  open_orders bigint NOT NULL,
  available_runners bigint NOT NULL,
  pick_queue bigint NOT NULL,
  at_ms bigint NOT NULL
);
CREATE INDEX store_load_by_time ON store_load (at_ms);
)sql"},
    {11, "notifications", R"sql(
CREATE TABLE notify_outbox (
  id bigserial PRIMARY KEY,
  dedupe_key text COLLATE "C" NOT NULL UNIQUE,
  order_id text COLLATE "C" NOT NULL,
  event_seq bigint NOT NULL,
  customer_id text COLLATE "C" NOT NULL,
  channel text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  state text COLLATE "C" NOT NULL,
  attempts bigint NOT NULL DEFAULT 0,
  next_at_ms bigint NOT NULL,
  lease_owner text NOT NULL DEFAULT '',
  lease_until_ms bigint NOT NULL DEFAULT 0,
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  last_error text NOT NULL DEFAULT ''
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_at_ms) WHERE state = 'pending';
CREATE INDEX notify_outbox_done ON notify_outbox (updated_at_ms) WHERE state <> 'pending';
CREATE INDEX notify_outbox_by_customer ON notify_outbox (customer_id, id);
CREATE TABLE notify_prefs (
  customer_id text COLLATE "C" PRIMARY KEY,
  prefs text NOT NULL,
  updated_at_ms bigint NOT NULL
);
)sql"},
};

// A statement prepared per connection under `name`.
struct Sql {
  const char* name;
  const char* text;
};

#define SHOPEASY_STORE_COLUMNS                                                            \
  "id, name, lat, lon, service_radius_m, opening_hours, secret_sha256, active, geohash, " \
  "last_applied_seq, last_seen_ms, applied_changes, duplicate_changes, outbox_id, "       \
  "quarantined_changes, resyncs"
#define SHOPEASY_CATALOG_COLUMNS "sku, name, category, price_cents, unit, barcodes, active, version"

constexpr Sql kUpsertStore{
    "upsert_store",
    "INSERT INTO stores (id, name, lat, lon, geohash, service_radius_m, opening_hours, "
    "secret_sha256, active, registry_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
    "nextval('store_registry_version')) "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, lat = EXCLUDED.lat, "
    "lon = EXCLUDED.lon, geohash = EXCLUDED.geohash, service_radius_m = EXCLUDED.service_radius_m, "
    "opening_hours = EXCLUDED.opening_hours, secret_sha256 = EXCLUDED.secret_sha256, "
    "active = EXCLUDED.active, registry_version = EXCLUDED.registry_version"};
constexpr Sql kStoresSeenSince{"stores_seen_since",
                               "SELECT id, last_seen_ms FROM stores WHERE last_seen_ms >= $1"};
constexpr Sql kRegistryVersion{"registry_version",
                               "SELECT coalesce(max(registry_version), 0) FROM stores"};
constexpr Sql kGetStore{"get_store", "SELECT " SHOPEASY_STORE_COLUMNS " FROM stores WHERE id = $1"};
constexpr Sql kListStores{"list_stores",
                          "SELECT " SHOPEASY_STORE_COLUMNS " FROM stores ORDER BY id"};
constexpr Sql kStoreExists{"store_exists", "SELECT 1 FROM stores WHERE id = $1"};
constexpr Sql kTouchStore{"touch_store", "UPDATE stores SET last_seen_ms = $2 WHERE id = $1"};
constexpr Sql kLockStore{"lock_store",
                         "SELECT last_applied_seq, outbox_id, last_change_hash FROM stores "
                         "WHERE id = $1 FOR UPDATE"};
constexpr Sql kInsertQuarantine{
    "insert_quarantine",
    "INSERT INTO quarantine (store_id, seq, kind, body, field, reason, at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (store_id, seq) DO NOTHING"};
constexpr Sql kPruneCandidates{
    "prune_candidates",
    "SELECT sku, updated_seq FROM replica WHERE store_id = $1 AND updated_seq < $2"};
constexpr Sql kPruneRows{"prune_rows",
                         "DELETE FROM replica WHERE store_id = $1 AND sku = ANY ($2::text[])"};
constexpr Sql kQuarantined{
    "quarantined",
    "SELECT seq, kind, body, field, reason, at_ms FROM quarantine WHERE store_id = $1 "
    "ORDER BY seq DESC LIMIT $2"};
constexpr Sql kConflictSeen{"conflict_seen", "UPDATE stores SET last_seen_ms = $2 WHERE id = $1"};
constexpr Sql kApplyStock{
    "apply_stock",
    "INSERT INTO replica (store_id, sku, on_hand, reserved, version, updated_seq) "
    "SELECT $1, u.sku, u.on_hand, u.reserved, u.version, u.seq "
    "FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) "
    "AS u (sku, on_hand, reserved, version, seq) "
    "ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, "
    "reserved = EXCLUDED.reserved, version = EXCLUDED.version, "
    "updated_seq = EXCLUDED.updated_seq"};
constexpr Sql kApplyUnknownCodes{
    "apply_unknown_codes",
    "INSERT INTO unknown_codes (store_id, code, occurrences, last_seen_ms) "
    "SELECT $1, u.code, u.n, $4 FROM unnest($2::text[], $3::bigint[]) AS u (code, n) "
    "ON CONFLICT (store_id, code) DO UPDATE SET "
    "occurrences = unknown_codes.occurrences + EXCLUDED.occurrences, "
    "last_seen_ms = EXCLUDED.last_seen_ms"};
constexpr Sql kApplyKindCounts{
    "apply_kind_counts",
    "INSERT INTO change_kind_counts (store_id, kind, count) "
    "SELECT $1, u.kind, u.n FROM unnest($2::text[], $3::bigint[]) AS u (kind, n) "
    "ON CONFLICT (store_id, kind) DO UPDATE SET count = change_kind_counts.count + EXCLUDED.count"};
constexpr Sql kFinishBatch{
    "finish_batch",
    "UPDATE stores SET last_applied_seq = $2, last_seen_ms = $3, "
    "applied_changes = applied_changes + $4, duplicate_changes = duplicate_changes + $5, "
    "last_change_hash = $6, outbox_id = $7, quarantined_changes = quarantined_changes + $8, "
    "resyncs = resyncs + $9 WHERE id = $1"};
constexpr Sql kAvailabilityAll{
    "availability_all",
    "SELECT sku, on_hand, reserved, version, updated_seq, held FROM replica WHERE store_id = $1 "
    "ORDER BY sku"};
constexpr Sql kAvailabilitySome{"availability_some",
                                "SELECT sku, on_hand, reserved, version, updated_seq, held "
                                "FROM replica WHERE store_id = $1 AND sku = ANY ($2::text[]) "
                                "ORDER BY sku"};
constexpr Sql kUpsertCatalog{
    "upsert_catalog",
    "INSERT INTO catalog (sku, name, category, price_cents, unit, barcodes, active, version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (sku) DO UPDATE SET "
    "name = EXCLUDED.name, category = EXCLUDED.category, price_cents = EXCLUDED.price_cents, "
    "unit = EXCLUDED.unit, barcodes = EXCLUDED.barcodes, active = EXCLUDED.active, "
    "version = catalog.version + 1 "
    "WHERE (catalog.name, catalog.category, catalog.price_cents, catalog.unit, "
    "catalog.barcodes, catalog.active) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.category, "
    "EXCLUDED.price_cents, EXCLUDED.unit, EXCLUDED.barcodes, EXCLUDED.active) "
    "RETURNING version"};
constexpr Sql kCatalogVersion{"catalog_version", "SELECT version FROM catalog WHERE sku = $1"};
constexpr Sql kLockActiveStores{"lock_active_stores",
                                "SELECT id FROM stores WHERE active ORDER BY id FOR UPDATE"};
constexpr Sql kFanOut{
    "fan_out",
    "WITH bumped AS (UPDATE stores SET next_cursor = next_cursor + 1 WHERE active "
    "RETURNING id, next_cursor - 1 AS cursor) "
    "INSERT INTO downstream (store_id, cursor, kind, body) "
    "SELECT id, cursor, $1, $2 FROM bumped"};
constexpr Sql kGetCatalog{"get_catalog",
                          "SELECT " SHOPEASY_CATALOG_COLUMNS " FROM catalog WHERE sku = $1"};
constexpr Sql kCatalogPage{"catalog_page", "SELECT " SHOPEASY_CATALOG_COLUMNS
                                           " FROM catalog WHERE sku > $1 ORDER BY sku LIMIT $2"};
constexpr Sql kGetSetting{"get_setting", "SELECT value FROM settings WHERE key = $1"};
constexpr Sql kPutSetting{
    "put_setting",
    "INSERT INTO settings (key, value, updated_at_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
    "updated_at_ms = EXCLUDED.updated_at_ms WHERE settings.value <> EXCLUDED.value"};
constexpr Sql kPutPriceModel{
    "put_price_model",
    "INSERT INTO price_models (sku, store_id, base_cents, mrp_cents, cost_cents, "
    "min_margin_bp, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (sku, store_id) DO UPDATE SET base_cents = EXCLUDED.base_cents, "
    "mrp_cents = EXCLUDED.mrp_cents, cost_cents = EXCLUDED.cost_cents, "
    "min_margin_bp = EXCLUDED.min_margin_bp, updated_at_ms = EXCLUDED.updated_at_ms"};
constexpr Sql kPriceModelRows{
    "price_model_rows",
    "SELECT sku, store_id, base_cents, mrp_cents, cost_cents, min_margin_bp, updated_at_ms "
    "FROM price_models WHERE sku = $1 ORDER BY store_id"};
constexpr Sql kAddPriceChange{
    "add_price_change",
    "INSERT INTO price_history (at_ms, store_id, sku, kind, rule, old_cents, new_cents, inputs) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};
#define SHOPEASY_PRICE_CHANGE_COLUMNS \
  "id, at_ms, store_id, sku, kind, rule, old_cents, new_cents, inputs "
constexpr Sql kPriceHistory{"price_history",
                            "SELECT " SHOPEASY_PRICE_CHANGE_COLUMNS
                            "FROM price_history WHERE id > $1 AND ($2 = '' OR sku = $2) AND "
                            "($3 = '' OR store_id = $3) ORDER BY id LIMIT $4"};
constexpr Sql kLastPriceChange{
    "last_price_change",
    "SELECT " SHOPEASY_PRICE_CHANGE_COLUMNS
    "FROM price_history WHERE store_id = $1 AND sku = $2 AND kind = $3 AND at_ms <= $4 "
    "ORDER BY at_ms DESC, id DESC LIMIT 1"};
#undef SHOPEASY_PRICE_CHANGE_COLUMNS
constexpr Sql kPutStoreLoad{
    "put_store_load",
    "INSERT INTO store_load (store_id, open_orders, available_runners, pick_queue, at_ms) "
    "SELECT id, $2, $3, $4, $5 FROM stores WHERE id = $1 "
    "ON CONFLICT (store_id) DO UPDATE SET open_orders = EXCLUDED.open_orders, "
    "available_runners = EXCLUDED.available_runners, pick_queue = EXCLUDED.pick_queue, "
    "at_ms = EXCLUDED.at_ms"};
constexpr Sql kStoreLoads{"store_loads",
                          "SELECT store_id, open_orders, available_runners, pick_queue, at_ms "
                          "FROM store_load WHERE at_ms >= $1 ORDER BY store_id"};
constexpr Sql kPutQuote{"put_quote",
                        "INSERT INTO price_quotes (quote_id, created_at_ms, expires_at_ms, body) "
                        "VALUES ($1, $2, $3, $4)"};
constexpr Sql kGetQuote{
    "get_quote",
    "SELECT quote_id, created_at_ms, expires_at_ms, body FROM price_quotes WHERE quote_id = $1"};
constexpr Sql kPurgeQuotes{
    "purge_quotes",
    "DELETE FROM price_quotes WHERE quote_id IN (SELECT quote_id FROM price_quotes "
    "WHERE expires_at_ms < $1 ORDER BY expires_at_ms LIMIT $2)"};
constexpr Sql kStoreCatalog{
    "store_catalog",
    "SELECT c.sku, c.name, c.category, c.price_cents, c.unit, c.barcodes, c.active, c.version, "
    "GREATEST(COALESCE(r.on_hand - r.reserved - r.held, 0), 0) "
    "FROM catalog c LEFT JOIN replica r ON r.store_id = $1 AND r.sku = c.sku "
    "WHERE c.active AND c.sku > $2 ORDER BY c.sku LIMIT $3"};
constexpr Sql kEnqueue{
    "enqueue",
    "WITH bumped AS (UPDATE stores SET next_cursor = next_cursor + 1 WHERE id = $1 "
    "RETURNING id, next_cursor - 1 AS cursor) "
    "INSERT INTO downstream (store_id, cursor, kind, body) "
    "SELECT id, cursor, $2, $3 FROM bumped RETURNING cursor"};
constexpr Sql kDownstream{
    "downstream",
    "SELECT cursor, kind, body FROM downstream WHERE store_id = $1 AND cursor > $2 "
    "ORDER BY cursor LIMIT $3"};
constexpr Sql kNextCursor{"next_cursor", "SELECT next_cursor FROM stores WHERE id = $1"};
constexpr Sql kTrim{"trim", "DELETE FROM downstream WHERE store_id = $1 AND cursor <= $2"};
constexpr Sql kLockNextCursor{"lock_next_cursor",
                              "SELECT next_cursor FROM stores WHERE id = $1 FOR UPDATE"};
constexpr Sql kItemAt{"item_at",
                      "SELECT kind, body FROM downstream WHERE store_id = $1 AND cursor = $2"};
constexpr Sql kFirstItemAfter{"first_item_after",
                              "SELECT cursor FROM downstream WHERE store_id = $1 AND cursor > $2 "
                              "ORDER BY cursor LIMIT 1"};
// Through negative cursors, so no row lands on another's key on the way.
constexpr Sql kNegateCursors{"negate_cursors",
                             "UPDATE downstream SET cursor = -cursor WHERE store_id = $1"};
constexpr Sql kShiftCursors{
    "shift_cursors",
    "UPDATE downstream SET cursor = $2 - cursor WHERE store_id = $1 AND cursor < 0"};
constexpr Sql kShiftNextCursor{"shift_next_cursor",
                               "UPDATE stores SET next_cursor = next_cursor + $2 WHERE id = $1"};
constexpr Sql kOrdersForReplay{
    "orders_for_replay",
    "SELECT doc FROM orders WHERE store_id = $1 AND (status IN ('routed', 'accepted', "
    "'picking', 'packed') OR (status = 'cancelled' AND updated_at_ms >= $2)) "
    "ORDER BY created_at_ms, order_id"};
constexpr Sql kReplicaRows{"replica_rows",
                           "SELECT sku, on_hand, reserved FROM replica WHERE store_id = $1"};
constexpr Sql kUnknownCodes{
    "unknown_codes",
    "SELECT code, occurrences, last_seen_ms FROM unknown_codes WHERE store_id = $1 "
    "ORDER BY occurrences DESC, code LIMIT $2"};
constexpr Sql kChangeCounts{"change_counts",
                            "SELECT kind, count FROM change_kind_counts WHERE store_id = $1"};
constexpr Sql kLockOrder{"lock_order", "SELECT doc FROM orders WHERE order_id = $1 FOR UPDATE"};
constexpr Sql kGetOrder{"get_order", "SELECT doc FROM orders WHERE order_id = $1"};
constexpr Sql kCustomerOrders{
    "customer_orders",
    "SELECT doc FROM orders WHERE customer_id = $1 AND (created_at_ms < $2 OR "
    "(created_at_ms = $2 AND order_id < $3)) ORDER BY created_at_ms DESC, order_id DESC "
    "LIMIT $4"};
constexpr Sql kOrdersAtStore{
    "orders_at_store",
    "SELECT doc FROM orders WHERE order_id = ANY ($1::text[]) AND store_id = $2"};
// The row of the store an order is at, locked before the order's own row (see
// act_on_order).
constexpr Sql kLockOrderStore{
    "lock_order_store",
    "SELECT 1 FROM stores WHERE id = (SELECT store_id FROM orders WHERE order_id = $1) "
    "FOR UPDATE"};
constexpr Sql kInsertOrder{
    "insert_order",
    "INSERT INTO orders (order_id, customer_id, store_id, status, payment_due_ms, accept_by_ms, "
    "refund_due, created_at_ms, updated_at_ms, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"};
constexpr Sql kUpdateOrder{
    "update_order",
    "UPDATE orders SET store_id = $2, status = $3, payment_due_ms = $4, accept_by_ms = $5, "
    "refund_due = $6, updated_at_ms = $7, doc = $8 WHERE order_id = $1"};
// READ COMMITTED re-evaluates the WHERE on the newest row version after waiting for a
// concurrent holder, so two instances can never both take the last units.
constexpr Sql kTryHold{"try_hold",
                       "UPDATE replica SET held = held + $3 WHERE store_id = $1 AND sku = $2 "
                       "AND on_hand - reserved - held >= $3"};
// ORDER BY below FOR UPDATE: rows are locked in the order they are sorted.
constexpr Sql kLockStock{
    "lock_stock",
    "SELECT 1 FROM replica WHERE store_id = ANY ($1::text[]) AND sku = ANY ($2::text[]) "
    "ORDER BY store_id, sku FOR UPDATE"};
constexpr Sql kReleaseHold{
    "release_hold",
    "UPDATE replica SET held = GREATEST(held - $3, 0) WHERE store_id = $1 AND sku = $2"};
constexpr Sql kUnpaidOrders{
    "unpaid_orders",
    "SELECT count(*) FROM orders WHERE customer_id = $1 AND status = 'pending_payment'"};
constexpr Sql kFreeStock{
    "free_stock", "SELECT on_hand - reserved - held FROM replica WHERE store_id = $1 AND sku = $2"};
constexpr Sql kAppendEvent{
    "append_event",
    "INSERT INTO order_events (order_id, seq, kind, body, at_ms) VALUES ($1, $2, $3, $4, $5)"};
#define SHOPEASY_NOTIFICATION_COLUMNS                                                        \
  "id, dedupe_key, order_id, event_seq, customer_id, channel, kind, body, state, attempts, " \
  "next_at_ms, created_at_ms, updated_at_ms, last_error"
constexpr Sql kAddNotification{
    "add_notification",
    "INSERT INTO notify_outbox (dedupe_key, order_id, event_seq, customer_id, channel, kind, "
    "body, state, next_at_ms, created_at_ms, updated_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8) "
    "ON CONFLICT (dedupe_key) DO NOTHING"};
// SKIP LOCKED: instances claiming at once take different rows instead of queueing.
constexpr Sql kClaimNotifications{
    "claim_notifications",
    "UPDATE notify_outbox SET lease_owner = $1, lease_until_ms = $2 WHERE id IN (SELECT id FROM "
    "notify_outbox WHERE state = 'pending' AND next_at_ms <= $3 AND lease_until_ms <= $3 "
    "ORDER BY next_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED) "
    "RETURNING " SHOPEASY_NOTIFICATION_COLUMNS};
constexpr Sql kFinishNotifications{
    "finish_notifications",
    "UPDATE notify_outbox AS n SET state = o.state, attempts = o.attempts, next_at_ms = o.next_at, "
    "last_error = o.error, updated_at_ms = $7, lease_owner = '', lease_until_ms = 0 "
    "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) "
    "AS o(id, state, attempts, next_at, error) "
    "WHERE n.id = o.id AND n.lease_owner = $6 AND n.state = 'pending'"};
constexpr Sql kNotificationBacklog{
    "notification_backlog",
    "SELECT channel, count(*), min(created_at_ms) FROM notify_outbox WHERE state = 'pending' "
    "GROUP BY channel"};
constexpr Sql kPurgeNotifications{
    "purge_notifications",
    "DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox WHERE state <> 'pending' "
    "AND updated_at_ms < $1 ORDER BY updated_at_ms LIMIT $2)"};
constexpr Sql kCustomerNotifications{
    "customer_notifications",
    "SELECT " SHOPEASY_NOTIFICATION_COLUMNS
    " FROM notify_outbox WHERE customer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"};
constexpr Sql kGetNotifyPrefs{"get_notify_prefs",
                              "SELECT prefs FROM notify_prefs WHERE customer_id = $1"};
constexpr Sql kPutNotifyPrefs{
    "put_notify_prefs",
    "INSERT INTO notify_prefs (customer_id, prefs, updated_at_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT (customer_id) DO UPDATE SET prefs = EXCLUDED.prefs, "
    "updated_at_ms = EXCLUDED.updated_at_ms"};

constexpr Sql kFindReply{"find_reply",
                         "SELECT request_hash, order_id, status_code, body FROM idempotency "
                         "WHERE customer_id = $1 AND idem_key = $2"};
constexpr Sql kInsertReply{
    "insert_reply",
    "INSERT INTO idempotency (customer_id, idem_key, request_hash, order_id, status_code, body, "
    "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (customer_id, idem_key) DO NOTHING"};
constexpr Sql kSaveReply{
    "save_reply",
    "INSERT INTO idempotency (customer_id, idem_key, request_hash, order_id, status_code, body, "
    "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (customer_id, idem_key) DO UPDATE SET order_id = EXCLUDED.order_id, "
    "status_code = EXCLUDED.status_code, body = EXCLUDED.body"};
constexpr Sql kPurgeReplies{"purge_replies",
                            "DELETE FROM idempotency WHERE ctid IN (SELECT ctid FROM idempotency "
                            "WHERE created_at_ms < $1 ORDER BY created_at_ms LIMIT $2)"};
constexpr Sql kCountKind{
    "count_kind",
    "INSERT INTO change_kind_counts (store_id, kind, count) VALUES ($1, $2, 1) "
    "ON CONFLICT (store_id, kind) DO UPDATE SET count = change_kind_counts.count + 1"};
constexpr Sql kDueOrders{
    "due_orders",
    "(SELECT order_id FROM orders WHERE status = 'pending_payment' AND payment_due_ms <= $1) "
    "UNION (SELECT order_id FROM orders WHERE status = 'routed' AND accept_by_ms <= $1) "
    "UNION (SELECT order_id FROM orders WHERE refund_due) LIMIT $2"};
constexpr Sql kRecentOrderEventHeads{
    "recent_order_event_heads",
    "SELECT order_id, max(seq) FROM order_events WHERE at_ms >= $1 GROUP BY order_id LIMIT $2"};
constexpr Sql kOrderEvents{
    "order_events",
    "SELECT seq, kind, body, at_ms FROM order_events WHERE order_id = $1 AND seq > $2 "
    "ORDER BY seq LIMIT $3"};

#undef SHOPEASY_STORE_COLUMNS
#undef SHOPEASY_CATALOG_COLUMNS

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};

struct Connection {
  std::unique_ptr<PGconn, ConnDeleter> conn;
  std::unordered_set<std::string> prepared;  // statement names prepared in this session
};

std::string trimmed(const char* message) {
  std::string out = message == nullptr ? "" : message;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Why a failed call may run again.
enum class RetryReason { kNone, kDeadlock, kSerialization, kConnection };

const char* reason_label(RetryReason r) {
  switch (r) {
    case RetryReason::kDeadlock:
      return "deadlock";
    case RetryReason::kSerialization:
      return "serialization";
    case RetryReason::kConnection:
      return "connection";
    case RetryReason::kNone:
      break;
  }
  return "none";
}

RetryReason retry_reason(PGconn* conn, const PGresult* result) {
  if (PQstatus(conn) == CONNECTION_BAD) return RetryReason::kConnection;
  const char* field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view state = field == nullptr ? std::string_view() : std::string_view(field);
  if (state == "40P01") return RetryReason::kDeadlock;
  if (state == "40001") return RetryReason::kSerialization;
  if (state.substr(0, 2) == "08") return RetryReason::kConnection;
  return RetryReason::kNone;
}

// SQLSTATE classes mapped by what the caller should do next.
Status map_error(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = trimmed(result != nullptr ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  message = std::string(what) + ": " + message;
  if (PQstatus(conn) == CONNECTION_BAD) return unavailable("connection lost: " + message);
  const char* field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view state = field == nullptr ? std::string_view() : std::string_view(field);
  if (state.empty()) return internal_error(message);
  if (state.substr(0, 2) == "08") return unavailable(message);
  if (state == "40001" || state == "40P01") return unavailable(message + " (retry)");
  // Server shutting down or out of resources: another try later may well succeed.
  if (state.substr(0, 3) == "57P" || state.substr(0, 2) == "53") return unavailable(message);
  if (state == "23505") return Status(StatusCode::kAlreadyExists, message);
  if (state.substr(0, 2) == "23") return failed_precondition(message);
  if (state.substr(0, 2) == "22") return invalid_argument(message);
  return internal_error(message + " (SQLSTATE " + std::string(state) + ")");
}

bool has_pending_input(PGconn* conn) {
  pollfd p{PQsocket(conn), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable, closed, or an error
}

// Parameters in libpq's text format.
class Params {
 public:
  Params& text(std::string_view v) {
    values_.emplace_back(v);
    return *this;
  }
  Params& int64(std::int64_t v) {
    values_.push_back(std::to_string(v));
    return *this;
  }
  Params& real(double v) {
    // Shortest text that reads back as the same double.
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    values_.emplace_back(buffer, ec == std::errc() ? end : buffer);
    return *this;
  }
  Params& boolean(bool v) {
    values_.emplace_back(v ? "t" : "f");
    return *this;
  }
  // A text[] literal: every element double-quoted, with '"' and '\' escaped.
  template <typename Range, typename Get>
  Params& text_array(const Range& range, Get get) {
    std::string out = "{";
    for (const auto& element : range) {
      if (out.size() > 1) out += ',';
      out += '"';
      for (char c : std::string_view(get(element))) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    out += '}';
    values_.push_back(std::move(out));
    return *this;
  }
  template <typename Range, typename Get>
  Params& int64_array(const Range& range, Get get) {
    std::string out = "{";
    for (const auto& element : range) {
      if (out.size() > 1) out += ',';
      out += std::to_string(get(element));
    }
    out += '}';
    values_.push_back(std::move(out));
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const std::string& v : values_) out.push_back(v.c_str());
    return out;
  }

 private:
  std::vector<std::string> values_;
};

// Typed reads of a text-format result. Columns come from our own typed schema, so a
// failed number parse cannot happen short of server corruption; it reads as 0.
class Rows {
 public:
  explicit Rows(const PGresult* result) : result_(result) {}
  int count() const { return PQntuples(result_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(result_, row, col),
                       static_cast<std::size_t>(PQgetlength(result_, row, col)));
  }
  std::int64_t int64(int row, int col) const {
    const char* v = PQgetvalue(result_, row, col);
    std::int64_t out = 0;
    std::from_chars(v, v + PQgetlength(result_, row, col), out);
    return out;
  }
  double real(int row, int col) const {
    const char* v = PQgetvalue(result_, row, col);
    double out = 0;
    std::from_chars(v, v + PQgetlength(result_, row, col), out);
    return out;
  }
  bool boolean(int row, int col) const { return PQgetvalue(result_, row, col)[0] == 't'; }

 private:
  const PGresult* result_;
};

const Status& status_of(const Status& s) { return s; }
template <typename T>
const Status& status_of(const StatusOr<T>& s) {
  return s.status();
}

// One call's use of one pooled connection.
class Session {
 public:
  // `resumed`: an earlier run of the same call may have committed.
  Session(Connection& connection, bool resumed) : c_(connection), resumed_(resumed) {}

  // Runs a prepared statement (preparing it on this connection first if needed).
  StatusOr<Result> run(const Sql& sql, const Params& params) {
    PGconn* conn = c_.conn.get();
    if (c_.prepared.count(sql.name) == 0) {
      ++commands_;
      Result prepared(PQprepare(conn, sql.name, sql.text, 0, nullptr));
      if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        return fail(conn, prepared.get(), std::string("prepare ") + sql.name);
      }
      c_.prepared.insert(sql.name);
    }
    ++commands_;
    std::vector<const char*> values = params.pointers();
    Result result(
        PQexecPrepared(conn, sql.name, params.size(), values.data(), nullptr, nullptr, 0));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return fail(conn, result.get(), sql.name);
    }
    return result;
  }

  // Runs a script through the simple query protocol (transaction control, DDL).
  Status exec(const char* sql, std::string_view what) {
    PGconn* conn = c_.conn.get();
    ++commands_;
    Result result(PQexec(conn, sql));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return fail(conn, result.get(), what);
    }
    return Status::ok();
  }

  // fn() between BEGIN and COMMIT; rolled back when fn fails. `begin` may add statements
  // to the BEGIN (one round trip for all).
  template <typename Fn>
  auto transaction(Fn&& fn, const char* begin = "BEGIN") -> decltype(fn()) {
    // Set before BEGIN: a BEGIN that fails cannot have committed anything either.
    in_transaction_ = true;
    SHOPEASY_RETURN_IF_ERROR(exec(begin, "begin"));
    auto result = fn();
    if (!status_of(result).is_ok()) {
      rollback();
      in_transaction_ = false;
      return result;
    }
    committing_ = true;
    SHOPEASY_RETURN_IF_ERROR(exec("COMMIT", "commit"));
    committing_ = false;
    in_transaction_ = false;
    return result;
  }

  // Why the last failed command failed, as far as running the call again goes.
  RetryReason failure_reason() const { return reason_; }
  // The connection dropped while a COMMIT or a statement outside a transaction was in
  // flight: the server may have applied it without our hearing so.
  bool may_have_committed() const { return may_have_committed_; }
  bool resumed() const { return resumed_; }

  // True when the first command this session sent failed because the connection was
  // gone: the call never reached the server and may be repeated on a new connection.
  bool lost_before_first_command() const {
    return first_failed_ && PQstatus(c_.conn.get()) == CONNECTION_BAD;
  }

 private:
  Status fail(PGconn* conn, const PGresult* result, std::string_view what) {
    if (commands_ == 1) first_failed_ = true;
    reason_ = retry_reason(conn, result);
    // Judged now: transaction() forgets its state once it has rolled back.
    may_have_committed_ = reason_ == RetryReason::kConnection && (committing_ || !in_transaction_);
    return map_error(conn, result, what);
  }
  void rollback() {
    if (PQstatus(c_.conn.get()) != CONNECTION_OK) return;
    Result ignored(PQexec(c_.conn.get(), "ROLLBACK"));
  }

  Connection& c_;
  const bool resumed_;
  int commands_ = 0;
  bool first_failed_ = false;
  bool in_transaction_ = false;
  bool committing_ = false;
  bool may_have_committed_ = false;
  RetryReason reason_ = RetryReason::kNone;
};

class Pool {
 public:
  Pool(std::string dsn, int size) : dsn_(std::move(dsn)), size_(size) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> connection, bool fresh)
        : pool_(pool), connection_(std::move(connection)), fresh_(fresh) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) pool_->release(std::move(connection_));
    }
    Connection& operator*() const { return *connection_; }
    // Connected by this lease rather than reused from the pool.
    bool fresh() const { return fresh_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
    bool fresh_;
  };

  // A connected connection. kUnavailable when none frees up in time or the server
  // cannot be reached.
  StatusOr<Lease> acquire() {
    std::unique_ptr<Connection> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const bool got = available_.wait_for(lock, kAcquireTimeout,
                                           [&] { return !idle_.empty() || created_ < size_; });
      if (!got) {
        return unavailable("all " + std::to_string(size_) +
                           " database connections stayed busy for " +
                           std::to_string(kAcquireTimeout.count()) + " s");
      }
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++created_;
        connection = std::make_unique<Connection>();
      }
    }
    bool fresh = false;
    // An idle connection has nothing to read; anything there is the server's goodbye (a
    // termination notice, end of stream), so the connection is replaced before a call
    // sends it a write whose fate it could then not tell.
    if (connection->conn && PQstatus(connection->conn.get()) == CONNECTION_OK &&
        has_pending_input(connection->conn.get())) {
      connection->conn.reset();
    }
    if (!connection->conn || PQstatus(connection->conn.get()) != CONNECTION_OK) {
      fresh = true;
      Status connected = connect(*connection);
      if (!connected.is_ok()) {
        release(std::move(connection));
        return connected;
      }
    }
    return Lease(this, std::move(connection), fresh);
  }

 private:
  Status connect(Connection& c) {
    c.prepared.clear();
    // Defaults first: settings in the caller's connection string override them.
    const char* keywords[] = {"connect_timeout", "client_encoding", "dbname", nullptr};
    const char* values[] = {"10", "UTF8", dsn_.c_str(), nullptr};
    c.conn.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (!c.conn) return unavailable("out of memory connecting to PostgreSQL");
    if (PQstatus(c.conn.get()) != CONNECTION_OK) {
      Status status =
          unavailable("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(c.conn.get())));
      c.conn.reset();
      return status;
    }
    // Server notices ("relation already exists, skipping") are not errors; keep stderr clean.
    PQsetNoticeProcessor(
        c.conn.get(), [](void*, const char*) {}, nullptr);
    return Status::ok();
  }

  void release(std::unique_ptr<Connection> connection) {
    // A connection left inside a transaction (or broken) is not reused as it is.
    if (connection->conn && (PQstatus(connection->conn.get()) != CONNECTION_OK ||
                             PQtransactionStatus(connection->conn.get()) != PQTRANS_IDLE)) {
      connection->conn.reset();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      idle_.push_back(std::move(connection));
    }
    available_.notify_one();
  }

  const std::string dsn_;
  const int size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int created_ = 0;
};

Status unknown_store(const std::string& id) {
  return not_found(detail::is_valid_store_id(id) ? "unknown store '" + id + "'"
                                                 : std::string("unknown store"));
}

StatusOr<StoreRecord> read_store(const Rows& rows, int r) {
  StoreRecord record;
  StoreRegistration& reg = record.registration;
  reg.id = rows.text(r, 0);
  reg.name = rows.text(r, 1);
  reg.lat = rows.real(r, 2);
  reg.lon = rows.real(r, 3);
  reg.service_radius_m = rows.real(r, 4);
  StatusOr<nlohmann::json> hours = detail::parse_stored_json(rows.text(r, 5), "opening hours");
  if (!hours.ok()) return hours.status();
  reg.opening_hours = std::move(*hours);
  reg.secret_sha256 = rows.text(r, 6);
  reg.active = rows.boolean(r, 7);
  record.geohash = rows.text(r, 8);
  record.last_applied_seq = rows.int64(r, 9);
  record.last_seen_ms = rows.int64(r, 10);
  record.applied_changes = rows.int64(r, 11);
  record.duplicate_changes = rows.int64(r, 12);
  record.outbox_id = rows.text(r, 13);
  record.quarantined_changes = rows.int64(r, 14);
  record.resyncs = rows.int64(r, 15);
  return record;
}

StatusOr<CatalogItem> read_catalog_item(const Rows& rows, int r) {
  CatalogItem item;
  item.sku = rows.text(r, 0);
  item.name = rows.text(r, 1);
  item.category = rows.text(r, 2);
  item.price_cents = rows.int64(r, 3);
  item.unit = rows.text(r, 4);
  StatusOr<std::vector<std::string>> barcodes = detail::parse_barcodes(rows.text(r, 5));
  if (!barcodes.ok()) return barcodes.status();
  item.barcodes = std::move(*barcodes);
  item.active = rows.boolean(r, 6);
  item.version = rows.int64(r, 7);
  return item;
}

Status require_store(Session& s, const std::string& id) {
  StatusOr<Result> found = s.run(kStoreExists, Params().text(id));
  if (!found.ok()) return found.status();
  if (PQntuples(found->get()) == 0) return unknown_store(id);
  return Status::ok();
}

StatusOr<std::optional<IdempotentReply>> find_reply(Session& s, const std::string& customer_id,
                                                    const std::string& key) {
  StatusOr<Result> result = s.run(kFindReply, Params().text(customer_id).text(key));
  if (!result.ok()) return result.status();
  Rows rows(result->get());
  if (rows.count() == 0) return std::optional<IdempotentReply>();
  StatusOr<nlohmann::json> body = detail::parse_stored_json(rows.text(0, 3), "reply");
  if (!body.ok()) return body.status();
  return std::optional<IdempotentReply>(
      IdempotentReply{.customer_id = customer_id,
                      .key = key,
                      .request_hash = rows.text(0, 0),
                      .order_id = rows.text(0, 1),
                      .status_code = static_cast<int>(rows.int64(0, 2)),
                      .body = std::move(*body)});
}

// Catalog items with sku > after_sku in SKU order, inactive ones included.
StatusOr<std::vector<CatalogItem>> read_catalog_page(Session& s, const std::string& after_sku,
                                                     int limit) {
  StatusOr<Result> result = s.run(kCatalogPage, Params().text(after_sku).int64(limit));
  if (!result.ok()) return result.status();
  Rows rows(result->get());
  std::vector<CatalogItem> out;
  out.reserve(static_cast<std::size_t>(rows.count()));
  for (int r = 0; r < rows.count(); ++r) {
    StatusOr<CatalogItem> item = read_catalog_item(rows, r);
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

// Queues one downstream item inside an open transaction, at the store's next cursor.
Status enqueue_item(Session& s, const std::string& store_id, std::string_view kind,
                    const nlohmann::json& body) {
  StatusOr<Result> result =
      s.run(kEnqueue, Params().text(store_id).text(kind).text(detail::dump_json(body)));
  if (!result.ok()) return result.status();
  if (PQntuples(result->get()) == 0) return unknown_store(store_id);
  return Status::ok();
}

StatusOr<std::optional<OrderRecord>> read_order(Session& s, const Sql& sql,
                                                const std::string& order_id) {
  StatusOr<Result> result = s.run(sql, Params().text(order_id));
  if (!result.ok()) return result.status();
  Rows rows(result->get());
  if (rows.count() == 0) return std::optional<OrderRecord>();
  StatusOr<OrderRecord> order = detail::parse_order_doc(rows.text(0, 0));
  if (!order.ok()) return order.status();
  return std::optional<OrderRecord>(std::move(*order));
}

// align_downstream's database work inside an open transaction that holds the store row.
class PgDownstreamTx final : public detail::DownstreamTx {
 public:
  explicit PgDownstreamTx(Session& s) : s_(s) {}

  StatusOr<std::optional<std::int64_t>> lock_next_cursor(const std::string& store_id) override {
    return optional_int(s_.run(kLockNextCursor, Params().text(store_id)));
  }
  StatusOr<std::optional<std::int64_t>> first_item_after(const std::string& store_id,
                                                         std::int64_t after) override {
    return optional_int(s_.run(kFirstItemAfter, Params().text(store_id).int64(after)));
  }
  StatusOr<std::optional<DownstreamItem>> item_at(const std::string& store_id,
                                                  std::int64_t cursor) override {
    StatusOr<Result> result = s_.run(kItemAt, Params().text(store_id).int64(cursor));
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    if (rows.count() == 0) return std::optional<DownstreamItem>();
    StatusOr<nlohmann::json> body = detail::parse_stored_json(rows.text(0, 1), "downstream body");
    if (!body.ok()) return body.status();
    return std::optional<DownstreamItem>(
        DownstreamItem{.cursor = cursor, .kind = rows.text(0, 0), .body = std::move(*body)});
  }
  Status shift_items(const std::string& store_id, std::int64_t by) override {
    if (by == 0) return Status::ok();
    SHOPEASY_RETURN_IF_ERROR(s_.run(kNegateCursors, Params().text(store_id)).status());
    SHOPEASY_RETURN_IF_ERROR(s_.run(kShiftCursors, Params().text(store_id).int64(by)).status());
    return s_.run(kShiftNextCursor, Params().text(store_id).int64(by)).status();
  }
  StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                  int limit) override {
    return read_catalog_page(s_, after_sku, limit);
  }
  StatusOr<std::vector<OrderRecord>> orders_for_replay(const std::string& store_id,
                                                       std::int64_t cancelled_since_ms) override {
    StatusOr<Result> result =
        s_.run(kOrdersForReplay, Params().text(store_id).int64(cancelled_since_ms));
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    std::vector<OrderRecord> out;
    for (int r = 0; r < rows.count(); ++r) {
      StatusOr<OrderRecord> order = detail::parse_order_doc(rows.text(r, 0));
      if (!order.ok()) return order.status();
      out.push_back(std::move(*order));
    }
    return out;
  }
  Status enqueue(const std::string& store_id, std::string_view kind,
                 const nlohmann::json& body) override {
    return enqueue_item(s_, store_id, kind, body);
  }

 private:
  static StatusOr<std::optional<std::int64_t>> optional_int(StatusOr<Result> result) {
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    if (rows.count() == 0) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(rows.int64(0, 0));
  }

  Session& s_;
};

StatusOr<std::vector<NotificationRow>> read_notifications(const PGresult* result) {
  Rows rows(result);
  std::vector<NotificationRow> out;
  for (int r = 0; r < rows.count(); ++r) {
    NotificationRow n;
    n.id = rows.int64(r, 0);
    n.dedupe_key = rows.text(r, 1);
    n.order_id = rows.text(r, 2);
    n.event_seq = rows.int64(r, 3);
    n.customer_id = rows.text(r, 4);
    n.channel = rows.text(r, 5);
    n.kind = rows.text(r, 6);
    StatusOr<nlohmann::json> body = detail::parse_stored_json(rows.text(r, 7), "notification");
    if (!body.ok()) return body.status();
    n.body = std::move(*body);
    n.state = rows.text(r, 8);
    n.attempts = rows.int64(r, 9);
    n.next_at_ms = rows.int64(r, 10);
    n.created_at_ms = rows.int64(r, 11);
    n.updated_at_ms = rows.int64(r, 12);
    n.last_error = rows.text(r, 13);
    out.push_back(std::move(n));
  }
  return out;
}

// For an OrderTx used only to lock rows: it queues no notifications.
const std::vector<std::string> kNoChannels;

// The order logic's database work inside an open transaction; loading an order locks
// its row, so concurrent changes of one order (a webhook, a store event, a deadline)
// from any instance apply one after the other.
class PgOrderTx final : public detail::OrderTx {
 public:
  // `savepoint_set`: the transaction began with kBeginPlacement.
  PgOrderTx(Session& s, const std::vector<std::string>& channels, bool savepoint_set = false)
      : s_(s), channels_(channels), try_savepoint_(savepoint_set) {}

  StatusOr<std::optional<OrderRecord>> load_order(const std::string& order_id) override {
    return read_order(s_, kLockOrder, order_id);
  }
  Status insert_order(const OrderRecord& o) override {
    return s_
        .run(kInsertOrder, Params()
                               .text(o.order.order_id)
                               .text(o.order.customer_id)
                               .text(o.order.store_id.value_or(""))
                               .text(wire::to_string(o.order.status))
                               .int64(o.payment_due_ms)
                               .int64(o.accept_by_ms)
                               .boolean(o.refund_due)
                               .int64(o.order.created_at_ms)
                               .int64(o.order.updated_at_ms)
                               .text(detail::order_doc(o)))
        .status();
  }
  Status update_order(const OrderRecord& o) override {
    return s_
        .run(kUpdateOrder, Params()
                               .text(o.order.order_id)
                               .text(o.order.store_id.value_or(""))
                               .text(wire::to_string(o.order.status))
                               .int64(o.payment_due_ms)
                               .int64(o.accept_by_ms)
                               .boolean(o.refund_due)
                               .int64(o.order.updated_at_ms)
                               .text(detail::order_doc(o)))
        .status();
  }
  StatusOr<bool> try_hold(const std::string& store_id, const std::string& sku,
                          std::int64_t qty) override {
    StatusOr<Result> result = s_.run(kTryHold, Params().text(store_id).text(sku).int64(qty));
    if (!result.ok()) return result.status();
    return std::string_view(PQcmdTuples(result->get())) == "1";
  }
  // One savepoint, set before the first try (placement sets it with its BEGIN, saving a
  // round trip): rolling back to it also releases the row locks taken since, and it
  // stays set for the next try.
  Status begin_try() override {
    if (try_savepoint_) return Status::ok();
    SHOPEASY_RETURN_IF_ERROR(s_.exec("SAVEPOINT placement_try", "savepoint"));
    try_savepoint_ = true;
    return Status::ok();
  }
  Status abandon_try() override {
    return s_.exec("ROLLBACK TO SAVEPOINT placement_try", "rollback to savepoint");
  }
  Status lock_stock(const std::vector<std::string>& store_ids,
                    const std::vector<std::string>& skus) override {
    if (store_ids.empty() || skus.empty()) return Status::ok();
    auto same = [](const std::string& v) -> std::string_view { return v; };
    return s_.run(kLockStock, Params().text_array(store_ids, same).text_array(skus, same)).status();
  }
  Status release_hold(const std::string& store_id, const std::string& sku,
                      std::int64_t qty) override {
    return s_.run(kReleaseHold, Params().text(store_id).text(sku).int64(qty)).status();
  }
  StatusOr<std::int64_t> unpaid_orders(const std::string& customer_id) override {
    StatusOr<Result> result = s_.run(kUnpaidOrders, Params().text(customer_id));
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    return rows.count() == 0 ? 0 : rows.int64(0, 0);
  }
  StatusOr<std::int64_t> free_stock(const std::string& store_id, const std::string& sku) override {
    StatusOr<Result> result = s_.run(kFreeStock, Params().text(store_id).text(sku));
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    return rows.count() == 0 ? 0 : rows.int64(0, 0);
  }
  Status append_event(const std::string& order_id, const OrderEvent& e) override {
    return s_
        .run(kAppendEvent, Params()
                               .text(order_id)
                               .int64(e.seq)
                               .text(e.kind)
                               .text(detail::dump_json(e.body))
                               .int64(e.at_ms))
        .status();
  }
  Status enqueue(const std::string& store_id, std::string_view kind,
                 const nlohmann::json& body) override {
    return enqueue_item(s_, store_id, kind, body);
  }
  StatusOr<std::optional<IdempotentReply>> find_reply(const std::string& customer_id,
                                                      const std::string& key) override {
    return storage::find_reply(s_, customer_id, key);
  }
  Status insert_reply(const IdempotentReply& r, std::int64_t now_ms) override {
    StatusOr<Result> result = s_.run(kInsertReply, Params()
                                                       .text(r.customer_id)
                                                       .text(r.key)
                                                       .text(r.request_hash)
                                                       .text(r.order_id)
                                                       .int64(r.status_code)
                                                       .text(detail::dump_json(r.body))
                                                       .int64(now_ms));
    if (!result.ok()) return result.status();
    if (std::string_view(PQcmdTuples(result->get())) == "0") {
      return Status(StatusCode::kAlreadyExists, "idempotency key in use");
    }
    return Status::ok();
  }
  Status count_kind(const std::string& store_id, std::string_view kind) override {
    return s_.run(kCountKind, Params().text(store_id).text(kind)).status();
  }
  Status add_notifications(const NotificationEvent& n) override {
    for (const std::string& channel : channels_) {
      SHOPEASY_RETURN_IF_ERROR(
          s_.run(kAddNotification,
                 Params()
                     .text(notification_key(n.order_id, n.event_seq, channel, n.customer_id))
                     .text(n.order_id)
                     .int64(n.event_seq)
                     .text(n.customer_id)
                     .text(channel)
                     .text(n.kind)
                     .text(detail::dump_json(n.body))
                     .int64(n.at_ms))
              .status());
    }
    return Status::ok();
  }

 private:
  Session& s_;
  const std::vector<std::string>& channels_;
  bool try_savepoint_ = false;
};

class PostgresCloudStore final : public CloudStore {
 public:
  PostgresCloudStore(std::string dsn, int pool_size, metrics::Registry* metrics)
      : own_metrics_(metrics == nullptr ? std::make_unique<metrics::Registry>() : nullptr),
        retries_((metrics != nullptr ? *metrics : *own_metrics_)
                     .counter_family("cloud_pg_retries_total",
                                     "PostgreSQL calls run again, by reason: deadlock, "
                                     "serialization (failure) or (lost) connection",
                                     {"reason"})),
        pool_(std::move(dsn), pool_size) {
    // Present from the start, so a rate over them never starts from a missing series.
    for (RetryReason r :
         {RetryReason::kDeadlock, RetryReason::kSerialization, RetryReason::kConnection}) {
      retries_.with({reason_label(r)});
    }
  }

  // Connects once so that a wrong address or credential shows at start-up.
  Status check_connection() {
    StatusOr<Pool::Lease> lease = pool_.acquire();
    return lease.status();
  }

  Status migrate() override {
    return call([&](Session& s) -> Status {
      return s.transaction([&]() -> Status {
        SHOPEASY_RETURN_IF_ERROR(s.exec(
            ("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")").c_str(),
            "migration lock"));
        SHOPEASY_RETURN_IF_ERROR(
            s.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                   "name text NOT NULL, applied_at_ms bigint NOT NULL)",
                   "create schema_migrations"));
        constexpr Sql kApplied{"applied_migrations",
                               "SELECT version, name FROM schema_migrations ORDER BY version"};
        StatusOr<Result> applied = s.run(kApplied, Params());
        if (!applied.ok()) return applied.status();
        Rows rows(applied->get());
        std::int64_t current = 0;
        for (int r = 0; r < rows.count(); ++r) {
          const std::int64_t version = rows.int64(r, 0);
          const PgMigration* known = nullptr;
          for (const PgMigration& m : kMigrations) {
            if (m.version == version) known = &m;
          }
          if (known == nullptr) {
            return failed_precondition("the database is at schema version " +
                                       std::to_string(version) + ", newer than this build knows");
          }
          if (rows.text(r, 1) != known->name) {
            return failed_precondition("migration " + std::to_string(version) +
                                       " was applied as '" + rows.text(r, 1) +
                                       "' but this build calls it '" + known->name + "'");
          }
          current = std::max(current, version);
        }
        for (const PgMigration& m : kMigrations) {
          if (m.version <= current) continue;
          SHOPEASY_RETURN_IF_ERROR(s.exec(m.sql, std::string("migration ") + m.name));
          constexpr Sql kRecord{"record_migration",
                                "INSERT INTO schema_migrations (version, name, applied_at_ms) "
                                "VALUES ($1, $2, (extract(epoch from clock_timestamp()) * "
                                "1000)::bigint)"};
          StatusOr<Result> recorded = s.run(kRecord, Params().int64(m.version).text(m.name));
          if (!recorded.ok()) return recorded.status();
        }
        return Status::ok();
      });
    });
  }

  Status upsert_store(const StoreRegistration& store) override {
    StatusOr<std::string> hash = detail::validate_registration(store);
    if (!hash.ok()) return hash.status();
    return call([&](Session& s) -> Status {
      return s
          .run(kUpsertStore, Params()
                                 .text(store.id)
                                 .text(store.name)
                                 .real(store.lat)
                                 .real(store.lon)
                                 .text(*hash)
                                 .real(store.service_radius_m)
                                 .text(detail::dump_json(store.opening_hours))
                                 .text(store.secret_sha256)
                                 .boolean(store.active))
          .status();
    });
  }

  StatusOr<StoreRecord> get_store(const std::string& id) override {
    return call([&](Session& s) -> StatusOr<StoreRecord> {
      StatusOr<Result> result = s.run(kGetStore, Params().text(id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return unknown_store(id);
      return read_store(rows, 0);
    });
  }

  StatusOr<std::vector<StoreRecord>> list_stores() override {
    return call([&](Session& s) -> StatusOr<std::vector<StoreRecord>> {
      StatusOr<Result> result = s.run(kListStores, Params());
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<StoreRecord> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<StoreRecord> record = read_store(rows, r);
        if (!record.ok()) return record.status();
        out.push_back(std::move(*record));
      }
      return out;
    });
  }

  StatusOr<std::vector<StoreSeen>> stores_seen_since(std::int64_t since_ms) override {
    return call([&](Session& s) -> StatusOr<std::vector<StoreSeen>> {
      StatusOr<Result> result = s.run(kStoresSeenSince, Params().int64(since_ms));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<StoreSeen> out;
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back(StoreSeen{rows.text(r, 0), rows.int64(r, 1)});
      }
      return out;
    });
  }

  StatusOr<std::int64_t> registry_version() override {
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(kRegistryVersion, Params());
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() != 1) return internal_error("registry_version: no row");
      return rows.int64(0, 0);
    });
  }

  Status touch_store(const std::string& id, std::int64_t now_ms) override {
    return call([&](Session& s) -> Status {
      StatusOr<Result> result = s.run(kTouchStore, Params().text(id).int64(now_ms));
      if (!result.ok()) return result.status();
      if (std::string_view(PQcmdTuples(result->get())) == "0") return unknown_store(id);
      return Status::ok();
    });
  }

  StatusOr<ApplyResult> apply_batch(const std::string& store_id, const std::vector<Change>& changes,
                                    std::int64_t now_ms, const BatchMeta& meta) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_batch(changes));
    return call([&](Session& s) -> StatusOr<ApplyResult> {
      return s.transaction([&]() -> StatusOr<ApplyResult> {
        StatusOr<Result> locked = s.run(kLockStore, Params().text(store_id));
        if (!locked.ok()) return locked.status();
        Rows rows(locked->get());
        if (rows.count() == 0) return unknown_store(store_id);
        const std::int64_t last = rows.int64(0, 0);
        const std::string last_hash = rows.text(0, 2);
        const detail::BatchDecision decision =
            detail::decide_batch(meta, changes, last, rows.text(0, 1), last_hash);
        if (decision.conflict != HistoryConflict::kNone) {
          StatusOr<Result> seen = s.run(kConflictSeen, Params().text(store_id).int64(now_ms));
          if (!seen.ok()) return seen.status();
          ApplyResult refused;
          refused.acked_seq = last;
          refused.conflict = decision.conflict;
          return refused;
        }
        detail::BatchPlan plan = detail::plan_batch(changes, decision.last_applied, now_ms);
        SHOPEASY_RETURN_IF_ERROR(lock_batch_stock(s, store_id, changes, plan));
        StatusOr<std::int64_t> pruned = apply_plan(s, store_id, plan, now_ms);
        if (!pruned.ok()) return pruned.status();
        PgOrderTx orders(s, notification_channels());
        for (std::size_t i : plan.order_changes) {
          SHOPEASY_RETURN_IF_ERROR(
              detail::apply_order_change(orders, store_id, changes[i], now_ms));
        }
        StatusOr<Result> finished =
            s.run(kFinishBatch, Params()
                                    .text(store_id)
                                    .int64(plan.new_last_applied)
                                    .int64(now_ms)
                                    .int64(plan.applied)
                                    .int64(plan.duplicates)
                                    .text(plan.applied > 0 ? plan.last_hash : last_hash)
                                    .text(decision.outbox_id)
                                    .int64(static_cast<std::int64_t>(plan.quarantined.size()))
                                    .int64(decision.resync ? 1 : 0));
        if (!finished.ok()) return finished.status();
        return ApplyResult{.acked_seq = detail::acked_for(meta, changes, plan),
                           .expected_seq = plan.expected_seq,
                           .applied = plan.applied,
                           .duplicates = plan.duplicates,
                           .quarantined = std::move(plan.quarantined),
                           .resynced = decision.resync,
                           .pruned = *pruned};
      });
    });
  }

  StatusOr<std::vector<QuarantinedChange>> quarantined(const std::string& store_id,
                                                       int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<QuarantinedChange>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result = s.run(kQuarantined, Params().text(store_id).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<QuarantinedChange> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<nlohmann::json> body =
            detail::parse_stored_json(rows.text(r, 2), "quarantined body");
        if (!body.ok()) return body.status();
        out.push_back(QuarantinedChange{.seq = rows.int64(r, 0),
                                        .kind = rows.text(r, 1),
                                        .body = std::move(*body),
                                        .field = rows.text(r, 3),
                                        .reason = rows.text(r, 4),
                                        .at_ms = rows.int64(r, 5)});
      }
      return out;
    });
  }

  StatusOr<std::vector<Availability>> availability(const std::string& store_id,
                                                   const std::vector<std::string>& skus) override {
    return call([&](Session& s) -> StatusOr<std::vector<Availability>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result =
          skus.empty()
              ? s.run(kAvailabilityAll, Params().text(store_id))
              : s.run(kAvailabilitySome,
                      Params().text(store_id).text_array(
                          skus, [](const std::string& sku) -> std::string_view { return sku; }));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<Availability> out;
      out.reserve(static_cast<std::size_t>(rows.count()));
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back(Availability{.store_id = store_id,
                                   .sku = rows.text(r, 0),
                                   .on_hand = rows.int64(r, 1),
                                   .reserved = rows.int64(r, 2),
                                   .held = rows.int64(r, 5),
                                   .version = rows.int64(r, 3),
                                   .updated_seq = rows.int64(r, 4)});
      }
      return out;
    });
  }

  StatusOr<std::int64_t> upsert_catalog_item(const CatalogItem& item) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_catalog_item(item));
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      return s.transaction([&]() -> StatusOr<std::int64_t> {
        StatusOr<Result> upserted =
            s.run(kUpsertCatalog, Params()
                                      .text(item.sku)
                                      .text(item.name)
                                      .text(item.category)
                                      .int64(item.price_cents)
                                      .text(item.unit)
                                      .text(detail::dump_json(item.barcodes))
                                      .boolean(item.active));
        if (!upserted.ok()) return upserted.status();
        if (PQntuples(upserted->get()) != 1) {
          // Already stored as given (as when this is a retry of a write that committed):
          // nothing changes and the stores hear nothing new.
          StatusOr<Result> current = s.run(kCatalogVersion, Params().text(item.sku));
          if (!current.ok()) return current.status();
          if (PQntuples(current->get()) != 1) {
            return internal_error("catalog upsert returned no version");
          }
          return Rows(current->get()).int64(0, 0);
        }
        CatalogItem stored = item;
        stored.version = Rows(upserted->get()).int64(0, 0);
        StatusOr<Result> locked = s.run(kLockActiveStores, Params());
        if (!locked.ok()) return locked.status();
        StatusOr<Result> fanned =
            s.run(kFanOut, Params()
                               .text(detail::kCatalogItemKind)
                               .text(detail::dump_json(detail::catalog_item_json(stored))));
        if (!fanned.ok()) return fanned.status();
        return stored.version;
      });
    });
  }

  StatusOr<std::optional<CatalogItem>> get_catalog_item(const std::string& sku) override {
    return call([&](Session& s) -> StatusOr<std::optional<CatalogItem>> {
      StatusOr<Result> result = s.run(kGetCatalog, Params().text(sku));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<CatalogItem>();
      StatusOr<CatalogItem> item = read_catalog_item(rows, 0);
      if (!item.ok()) return item.status();
      return std::optional<CatalogItem>(std::move(*item));
    });
  }

  StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                  int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<CatalogItem>> {
      return read_catalog_page(s, after_sku, limit);
    });
  }

  StatusOr<std::optional<nlohmann::json>> get_setting(const std::string& key) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_setting(key, nullptr).status());
    return call([&](Session& s) -> StatusOr<std::optional<nlohmann::json>> {
      StatusOr<Result> result = s.run(kGetSetting, Params().text(key));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<nlohmann::json>();
      StatusOr<nlohmann::json> value = detail::parse_stored_json(rows.text(0, 0), "setting");
      if (!value.ok()) return value.status();
      return std::optional<nlohmann::json>(std::move(*value));
    });
  }

  // Writing the same document again changes nothing, so a call whose COMMIT reply was
  // lost may run again (Replay::kSafe).
  Status put_setting(const std::string& key, const nlohmann::json& value,
                     std::int64_t now_ms) override {
    StatusOr<std::string> text = detail::validate_setting(key, value);
    if (!text.ok()) return text.status();
    return call([&](Session& s) -> Status {
      StatusOr<Result> result = s.run(kPutSetting, Params().text(key).text(*text).int64(now_ms));
      return result.ok() ? Status::ok() : result.status();
    });
  }

  StatusOr<std::vector<StoreCatalogRow>> store_catalog(const std::string& store_id,
                                                       const std::string& after_sku,
                                                       int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<StoreCatalogRow>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result =
          s.run(kStoreCatalog, Params().text(store_id).text(after_sku).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<StoreCatalogRow> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<CatalogItem> item = read_catalog_item(rows, r);
        if (!item.ok()) return item.status();
        out.push_back(StoreCatalogRow{.item = std::move(*item), .available = rows.int64(r, 8)});
      }
      return out;
    });
  }

  StatusOr<std::int64_t> enqueue_downstream(const std::string& store_id, const std::string& kind,
                                            const nlohmann::json& body) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_downstream(kind, body));
    // Not replayed after a lost commit: a second run would queue the item twice.
    return call(
        [&](Session& s) -> StatusOr<std::int64_t> {
          StatusOr<Result> result =
              s.run(kEnqueue, Params().text(store_id).text(kind).text(detail::dump_json(body)));
          if (!result.ok()) return result.status();
          Rows rows(result->get());
          if (rows.count() == 0) return unknown_store(store_id);
          return rows.int64(0, 0);
        },
        Replay::kUnlessCommitted);
  }

  StatusOr<std::vector<DownstreamItem>> downstream(const std::string& store_id,
                                                   std::int64_t after_cursor, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_cursor(after_cursor, "after_cursor"));
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<DownstreamItem>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result =
          s.run(kDownstream, Params().text(store_id).int64(after_cursor).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<DownstreamItem> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<nlohmann::json> body =
            detail::parse_stored_json(rows.text(r, 2), "downstream body");
        if (!body.ok()) return body.status();
        out.push_back(DownstreamItem{
            .cursor = rows.int64(r, 0), .kind = rows.text(r, 1), .body = std::move(*body)});
      }
      return out;
    });
  }

  StatusOr<DownstreamAlignment> align_downstream(const std::string& store_id,
                                                 std::int64_t store_cursor,
                                                 const std::string& store_hash,
                                                 std::int64_t now_ms) override {
    // Safe to run again after a lost COMMIT reply: a queue already aligned is in step.
    return call([&](Session& s) -> StatusOr<DownstreamAlignment> {
      return s.transaction([&]() -> StatusOr<DownstreamAlignment> {
        PgDownstreamTx tx(s);
        return detail::align_downstream(tx, store_id, store_cursor, store_hash, now_ms);
      });
    });
  }

  StatusOr<std::int64_t> queue_initial_catalog(const std::string& store_id) override {
    // Safe to run again after a lost COMMIT reply: a queue that issued cursors is left.
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      return s.transaction([&]() -> StatusOr<std::int64_t> {
        PgDownstreamTx tx(s);
        return detail::queue_initial_catalog(tx, store_id);
      });
    });
  }

  Status trim_downstream(const std::string& store_id, std::int64_t up_to_cursor) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_cursor(up_to_cursor, "up_to_cursor"));
    return call([&](Session& s) -> Status {
      // next_cursor only grows, so checking it outside a transaction is enough.
      StatusOr<Result> next = s.run(kNextCursor, Params().text(store_id));
      if (!next.ok()) return next.status();
      Rows rows(next->get());
      if (rows.count() == 0) return unknown_store(store_id);
      const std::int64_t next_cursor = rows.int64(0, 0);
      if (up_to_cursor >= next_cursor) {
        return Status(StatusCode::kOutOfRange, "cursor " + std::to_string(up_to_cursor) +
                                                   " was never issued; the last is " +
                                                   std::to_string(next_cursor - 1));
      }
      return s.run(kTrim, Params().text(store_id).int64(up_to_cursor)).status();
    });
  }

  StatusOr<std::vector<RangeChecksum>> checksums(const std::string& store_id,
                                                 int buckets) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_buckets(buckets));
    return call([&](Session& s) -> StatusOr<std::vector<RangeChecksum>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result = s.run(kReplicaRows, Params().text(store_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      detail::ChecksumAccumulator acc(buckets);
      for (int r = 0; r < rows.count(); ++r) {
        acc.add(rows.text(r, 0), rows.int64(r, 1), rows.int64(r, 2));
      }
      return acc.take();
    });
  }

  StatusOr<nlohmann::json> unknown_codes(const std::string& store_id, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<nlohmann::json> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result = s.run(kUnknownCodes, Params().text(store_id).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      nlohmann::json out = nlohmann::json::array();
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back({{"code", rows.text(r, 0)},
                       {"count", rows.int64(r, 1)},
                       {"last_seen_ms", rows.int64(r, 2)}});
      }
      return out;
    });
  }

  StatusOr<std::map<std::string, std::int64_t>> change_counts(
      const std::string& store_id) override {
    return call([&](Session& s) -> StatusOr<std::map<std::string, std::int64_t>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result = s.run(kChangeCounts, Params().text(store_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::map<std::string, std::int64_t> out;
      for (int r = 0; r < rows.count(); ++r) out[rows.text(r, 0)] = rows.int64(r, 1);
      return out;
    });
  }

  StatusOr<PlaceResult> place_order(const NewOrder& order, std::int64_t now_ms) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_new_order(order));
    // With a key, a second run finds the first's record instead of placing again.
    return call(
        [&](Session& s) -> StatusOr<PlaceResult> {
          return s.transaction(
              [&]() -> StatusOr<PlaceResult> {
                PgOrderTx tx(s, notification_channels(), /*savepoint_set=*/true);
                return detail::place_order(tx, order, now_ms);
              },
              kBeginPlacement);
        },
        order.idempotency_key.empty() ? Replay::kUnlessCommitted : Replay::kSafe);
  }

  StatusOr<OrderRecord> get_order(const std::string& order_id) override {
    return call([&](Session& s) -> StatusOr<OrderRecord> {
      StatusOr<std::optional<OrderRecord>> order = read_order(s, kGetOrder, order_id);
      if (!order.ok()) return order.status();
      if (!order->has_value()) return not_found("unknown order");
      return std::move(**order);
    });
  }

  StatusOr<std::vector<OrderRecord>> customer_orders(const std::string& customer_id,
                                                     std::int64_t before_created_at_ms,
                                                     const std::string& before_order_id,
                                                     std::int64_t limit) override {
    return call([&](Session& s) -> StatusOr<std::vector<OrderRecord>> {
      StatusOr<Result> result = s.run(kCustomerOrders, Params()
                                                           .text(customer_id)
                                                           .int64(before_created_at_ms)
                                                           .text(before_order_id)
                                                           .int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<OrderRecord> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<OrderRecord> order = detail::parse_order_doc(rows.text(r, 0));
        if (!order.ok()) return order.status();
        out.push_back(std::move(*order));
      }
      return out;
    });
  }

  Status set_payment_intent(const std::string& order_id, const std::string& intent_id) override {
    return call([&](Session& s) -> Status {
      return s.transaction([&]() -> Status {
        PgOrderTx tx(s, notification_channels());
        StatusOr<std::optional<OrderRecord>> order = tx.load_order(order_id);
        if (!order.ok()) return order.status();
        if (!order->has_value()) return not_found("unknown order");
        (*order)->payment_intent_id = intent_id;
        return tx.update_order(**order);
      });
    });
  }

  StatusOr<OrderRecord> act_on_order(const std::string& order_id, const OrderActionRequest& request,
                                     std::int64_t now_ms) override {
    return call([&](Session& s) -> StatusOr<OrderRecord> {
      return s.transaction([&]() -> StatusOr<OrderRecord> {
        // Store row, then order row, then stock rows: the order of the store's own batches
        // (apply_batch), which may change this order at the same time.
        StatusOr<Result> store_row = s.run(kLockOrderStore, Params().text(order_id));
        if (!store_row.ok()) return store_row.status();
        PgOrderTx tx(s, notification_channels());
        if (s.resumed()) {
          // The run before may have committed: an action that shows as done answers with
          // the order as it is, where running it again would refuse (cancel, refunded).
          StatusOr<std::optional<OrderRecord>> current = tx.load_order(order_id);
          if (!current.ok()) return current.status();
          if (current->has_value() && shows_as_done(**current, request.action)) {
            return std::move(**current);
          }
        }
        return detail::act_on_order(tx, order_id, request, now_ms);
      });
    });
  }

  StatusOr<std::vector<std::string>> due_orders(std::int64_t now_ms, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<std::string>> {
      StatusOr<Result> result = s.run(kDueOrders, Params().int64(now_ms).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<std::string> out;
      for (int r = 0; r < rows.count(); ++r) out.push_back(rows.text(r, 0));
      return out;
    });
  }

  StatusOr<std::vector<OrderEventHead>> recent_order_event_heads(std::int64_t since_ms,
                                                                 int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<OrderEventHead>> {
      StatusOr<Result> result =
          s.run(kRecentOrderEventHeads, Params().int64(since_ms).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<OrderEventHead> out;
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back(OrderEventHead{rows.text(r, 0), rows.int64(r, 1)});
      }
      return out;
    });
  }

  StatusOr<std::vector<OrderEvent>> order_events(const std::string& order_id,
                                                 std::int64_t after_seq, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<OrderEvent>> {
      StatusOr<Result> result =
          s.run(kOrderEvents, Params().text(order_id).int64(after_seq).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<OrderEvent> out;
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<nlohmann::json> body = detail::parse_stored_json(rows.text(r, 2), "order event");
        if (!body.ok()) return body.status();
        out.push_back(OrderEvent{.seq = rows.int64(r, 0),
                                 .kind = rows.text(r, 1),
                                 .body = std::move(*body),
                                 .at_ms = rows.int64(r, 3)});
      }
      return out;
    });
  }

  StatusOr<std::optional<IdempotentReply>> idempotent_reply(const std::string& customer_id,
                                                            const std::string& key) override {
    return call([&](Session& s) -> StatusOr<std::optional<IdempotentReply>> {
      return find_reply(s, customer_id, key);
    });
  }

  Status save_idempotent_reply(const IdempotentReply& r) override {
    return call([&](Session& s) -> Status {
      return s
          .run(kSaveReply, Params()
                               .text(r.customer_id)
                               .text(r.key)
                               .text(r.request_hash)
                               .text(r.order_id)
                               .int64(r.status_code)
                               .text(detail::dump_json(r.body))
                               .int64(r.created_at_ms))
          .status();
    });
  }

  StatusOr<std::int64_t> purge_idempotent_replies(std::int64_t before_ms, int limit) override {
    if (limit < 1 || limit > 10'000) return invalid_argument("limit must be 1..10000", "limit");
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(kPurgeReplies, Params().int64(before_ms).int64(limit));
      if (!result.ok()) return result.status();
      return static_cast<std::int64_t>(std::stoll(PQcmdTuples(result->get())));
    });
  }

  StatusOr<std::vector<NotificationRow>> claim_notifications(const std::string& owner,
                                                             std::int64_t now_ms,
                                                             std::int64_t lease_ms,
                                                             int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<NotificationRow>> {
      StatusOr<Result> result =
          s.run(kClaimNotifications,
                Params().text(owner).int64(now_ms + lease_ms).int64(now_ms).int64(limit));
      if (!result.ok()) return result.status();
      StatusOr<std::vector<NotificationRow>> rows = read_notifications(result->get());
      // RETURNING keeps no order: oldest due first, as SQLite hands them out.
      if (rows.ok()) {
        std::sort(rows->begin(), rows->end(),
                  [](const NotificationRow& a, const NotificationRow& b) {
                    return std::tie(a.next_at_ms, a.id) < std::tie(b.next_at_ms, b.id);
                  });
      }
      return rows;
    });
  }

  StatusOr<std::int64_t> finish_notifications(const std::string& owner,
                                              const std::vector<NotificationOutcome>& outcomes,
                                              std::int64_t now_ms) override {
    if (outcomes.empty()) return std::int64_t{0};
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(
          kFinishNotifications,
          Params()
              .int64_array(outcomes, [](const NotificationOutcome& o) { return o.id; })
              .text_array(outcomes,
                          [](const NotificationOutcome& o) -> std::string_view { return o.state; })
              .int64_array(outcomes, [](const NotificationOutcome& o) { return o.attempts; })
              .int64_array(outcomes, [](const NotificationOutcome& o) { return o.next_at_ms; })
              .text_array(outcomes,
                          [](const NotificationOutcome& o) -> std::string_view { return o.error; })
              .text(owner)
              .int64(now_ms));
      if (!result.ok()) return result.status();
      return static_cast<std::int64_t>(std::stoll(PQcmdTuples(result->get())));
    });
  }

  StatusOr<std::vector<NotificationBacklog>> notification_backlog() override {
    return call([&](Session& s) -> StatusOr<std::vector<NotificationBacklog>> {
      StatusOr<Result> result = s.run(kNotificationBacklog, Params());
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<NotificationBacklog> out;
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back(NotificationBacklog{.channel = rows.text(r, 0),
                                          .pending = rows.int64(r, 1),
                                          .oldest_created_at_ms = rows.int64(r, 2)});
      }
      return out;
    });
  }

  StatusOr<std::int64_t> purge_notifications(std::int64_t before_ms, int limit) override {
    if (limit < 1 || limit > 10'000) return invalid_argument("limit must be 1..10000", "limit");
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(kPurgeNotifications, Params().int64(before_ms).int64(limit));
      if (!result.ok()) return result.status();
      return static_cast<std::int64_t>(std::stoll(PQcmdTuples(result->get())));
    });
  }

  StatusOr<std::vector<NotificationRow>> customer_notifications(const std::string& customer_id,
                                                                std::int64_t before_id,
                                                                int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<NotificationRow>> {
      StatusOr<Result> result =
          s.run(kCustomerNotifications, Params().text(customer_id).int64(before_id).int64(limit));
      if (!result.ok()) return result.status();
      return read_notifications(result->get());
    });
  }

  StatusOr<std::optional<nlohmann::json>> notification_prefs(
      const std::string& customer_id) override {
    return call([&](Session& s) -> StatusOr<std::optional<nlohmann::json>> {
      StatusOr<Result> result = s.run(kGetNotifyPrefs, Params().text(customer_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<nlohmann::json>();
      StatusOr<nlohmann::json> prefs =
          detail::parse_stored_json(rows.text(0, 0), "notification prefs");
      if (!prefs.ok()) return prefs.status();
      return std::optional<nlohmann::json>(std::move(*prefs));
    });
  }

  Status put_notification_prefs(const std::string& customer_id, const nlohmann::json& prefs,
                                std::int64_t now_ms) override {
    return call([&](Session& s) -> Status {
      return s
          .run(kPutNotifyPrefs,
               Params().text(customer_id).text(detail::dump_json(prefs)).int64(now_ms))
          .status();
    });
  }

  Status put_price_model(const PriceModelRow& row) override {
    return call([&](Session& s) -> Status {
      StatusOr<Result> result = s.run(kPutPriceModel, Params()
                                                          .text(row.sku)
                                                          .text(row.store_id)
                                                          .int64(row.base_cents)
                                                          .int64(row.mrp_cents)
                                                          .int64(row.cost_cents.value_or(0))
                                                          .int64(row.min_margin_bp)
                                                          .int64(row.updated_at_ms));
      return result.ok() ? Status::ok() : result.status();
    });
  }

  StatusOr<std::vector<PriceModelRow>> price_model_rows(const std::string& sku) override {
    return call([&](Session& s) -> StatusOr<std::vector<PriceModelRow>> {
      StatusOr<Result> result = s.run(kPriceModelRows, Params().text(sku));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<PriceModelRow> out;
      for (int r = 0; r < rows.count(); ++r) {
        PriceModelRow m{.sku = rows.text(r, 0),
                        .store_id = rows.text(r, 1),
                        .base_cents = rows.int64(r, 2),
                        .mrp_cents = rows.int64(r, 3),
                        .cost_cents = std::nullopt,
                        .min_margin_bp = static_cast<std::int32_t>(rows.int64(r, 5)),
                        .updated_at_ms = rows.int64(r, 6)};
        if (rows.int64(r, 4) > 0) m.cost_cents = rows.int64(r, 4);
        out.push_back(std::move(m));
      }
      return out;
    });
  }

  // Audit entries are appended, so a call whose COMMIT reply was lost is not repeated.
  Status add_price_changes(const std::vector<PriceChange>& changes) override {
    if (changes.empty()) return Status::ok();
    return call(
        [&](Session& s) -> Status {
          return s.transaction([&]() -> Status {
            for (const PriceChange& c : changes) {
              StatusOr<Result> result = s.run(kAddPriceChange, Params()
                                                                   .int64(c.at_ms)
                                                                   .text(c.store_id)
                                                                   .text(c.sku)
                                                                   .text(c.kind)
                                                                   .text(c.rule)
                                                                   .int64(c.old_cents)
                                                                   .int64(c.new_cents)
                                                                   .text(c.inputs.dump()));
              if (!result.ok()) return result.status();
            }
            return Status::ok();
          });
        },
        Replay::kUnlessCommitted);
  }

  static StatusOr<PriceChange> read_price_change(const Rows& rows, int r) {
    PriceChange c{.id = rows.int64(r, 0),
                  .at_ms = rows.int64(r, 1),
                  .store_id = rows.text(r, 2),
                  .sku = rows.text(r, 3),
                  .kind = rows.text(r, 4),
                  .rule = rows.text(r, 5),
                  .old_cents = rows.int64(r, 6),
                  .new_cents = rows.int64(r, 7)};
    SHOPEASY_ASSIGN_OR_RETURN(c.inputs, detail::parse_stored_json(rows.text(r, 8), "price change"));
    return c;
  }

  StatusOr<std::vector<PriceChange>> price_history(const std::string& sku,
                                                   const std::string& store_id,
                                                   std::int64_t after_id, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<PriceChange>> {
      StatusOr<Result> result =
          s.run(kPriceHistory, Params().int64(after_id).text(sku).text(store_id).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<PriceChange> out;
      for (int r = 0; r < rows.count(); ++r) {
        SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(rows, r));
        out.push_back(std::move(c));
      }
      return out;
    });
  }

  StatusOr<std::optional<PriceChange>> last_price_change(const std::string& store_id,
                                                         const std::string& sku,
                                                         const std::string& kind,
                                                         std::int64_t at_or_before_ms) override {
    return call([&](Session& s) -> StatusOr<std::optional<PriceChange>> {
      StatusOr<Result> result = s.run(
          kLastPriceChange, Params().text(store_id).text(sku).text(kind).int64(at_or_before_ms));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<PriceChange>();
      SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(rows, 0));
      return std::optional<PriceChange>(std::move(c));
    });
  }

  // The last report wins, so a repeat after a lost COMMIT changes nothing.
  Status put_store_load(const StoreLoad& load) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_store_load(load));
    return call([&](Session& s) -> Status {
      StatusOr<Result> result = s.run(kPutStoreLoad, Params()
                                                         .text(load.store_id)
                                                         .int64(load.open_orders)
                                                         .int64(load.available_runners)
                                                         .int64(load.pick_queue)
                                                         .int64(load.at_ms));
      if (!result.ok()) return result.status();
      if (std::string_view(PQcmdTuples(result->get())) == "0") return unknown_store(load.store_id);
      return Status::ok();
    });
  }

  StatusOr<std::vector<StoreLoad>> store_loads(std::int64_t since_ms) override {
    return call([&](Session& s) -> StatusOr<std::vector<StoreLoad>> {
      StatusOr<Result> result = s.run(kStoreLoads, Params().int64(since_ms));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<StoreLoad> out;
      for (int r = 0; r < rows.count(); ++r) {
        out.push_back(StoreLoad{.store_id = rows.text(r, 0),
                                .open_orders = rows.int64(r, 1),
                                .available_runners = rows.int64(r, 2),
                                .pick_queue = rows.int64(r, 3),
                                .at_ms = rows.int64(r, 4)});
      }
      return out;
    });
  }

  // A quote id is new: a repeat after a lost COMMIT would fail on the key, so not repeated.
  Status put_quote(const StoredQuote& quote) override {
    return call(
        [&](Session& s) -> Status {
          StatusOr<Result> result = s.run(kPutQuote, Params()
                                                         .text(quote.quote_id)
                                                         .int64(quote.created_at_ms)
                                                         .int64(quote.expires_at_ms)
                                                         .text(quote.body.dump()));
          return result.ok() ? Status::ok() : result.status();
        },
        Replay::kUnlessCommitted);
  }

  StatusOr<std::optional<StoredQuote>> get_quote(const std::string& quote_id) override {
    return call([&](Session& s) -> StatusOr<std::optional<StoredQuote>> {
      StatusOr<Result> result = s.run(kGetQuote, Params().text(quote_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<StoredQuote>();
      StoredQuote q{.quote_id = rows.text(0, 0),
                    .created_at_ms = rows.int64(0, 1),
                    .expires_at_ms = rows.int64(0, 2)};
      SHOPEASY_ASSIGN_OR_RETURN(q.body, detail::parse_stored_json(rows.text(0, 3), "quote"));
      return std::optional<StoredQuote>(std::move(q));
    });
  }

  StatusOr<std::int64_t> purge_quotes(std::int64_t before_ms, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(kPurgeQuotes, Params().int64(before_ms).int64(limit));
      if (!result.ok()) return result.status();
      return static_cast<std::int64_t>(std::stoll(PQcmdTuples(result->get())));
    });
  }

 private:
  // A batch with order events releases and takes holds after it has written stock rows;
  // a placement at the store meanwhile takes them in SKU order. So every stock row of
  // the store the batch may touch (its stock changes, the holds of the orders it names,
  // their new lines) is locked first, in SKU order.
  static Status lock_batch_stock(Session& s, const std::string& store_id,
                                 const std::vector<Change>& changes,
                                 const detail::BatchPlan& plan) {
    if (plan.order_changes.empty()) return Status::ok();  // plan.stock is in SKU order
    std::vector<std::string> skus;
    for (const detail::StockUpdate& u : plan.stock) skus.push_back(u.sku);
    std::vector<std::string> order_ids;
    for (std::size_t i : plan.order_changes) {
      const nlohmann::json& body = changes[i].body;
      if (!body.is_object()) continue;
      auto id = body.find("order_id");
      if (id != body.end() && id->is_string()) order_ids.push_back(id->get<std::string>());
      auto lines = body.find("lines");
      if (lines == body.end() || !lines->is_array()) continue;
      for (const nlohmann::json& line : *lines) {
        if (line.is_object() && line.contains("sku") && line["sku"].is_string()) {
          skus.push_back(line["sku"].get<std::string>());
        }
      }
    }
    auto same = [](const std::string& v) -> std::string_view { return v; };
    if (!order_ids.empty()) {
      StatusOr<Result> result =
          s.run(kOrdersAtStore, Params().text_array(order_ids, same).text(store_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      for (int r = 0; r < rows.count(); ++r) {
        StatusOr<OrderRecord> order = detail::parse_order_doc(rows.text(r, 0));
        if (!order.ok()) return order.status();
        for (const HeldLine& h : order->holds) skus.push_back(h.sku);
      }
    }
    std::sort(skus.begin(), skus.end());
    skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
    PgOrderTx tx(s, kNoChannels);
    return tx.lock_stock({store_id}, skus);
  }

  // One multi-row statement per table, whatever the batch size. Returns how many replica
  // rows the plan's prunes removed.
  static StatusOr<std::int64_t> apply_plan(Session& s, const std::string& store_id,
                                           const detail::BatchPlan& plan, std::int64_t now_ms) {
    using Update = detail::StockUpdate;
    using Count = std::pair<std::string, std::int64_t>;
    if (!plan.stock.empty()) {
      Params params;
      params.text(store_id)
          .text_array(plan.stock, [](const Update& u) -> std::string_view { return u.sku; })
          .int64_array(plan.stock, [](const Update& u) { return u.on_hand; })
          .int64_array(plan.stock, [](const Update& u) { return u.reserved; })
          .int64_array(plan.stock, [](const Update& u) { return u.version; })
          .int64_array(plan.stock, [](const Update& u) { return u.seq; });
      SHOPEASY_RETURN_IF_ERROR(s.run(kApplyStock, params).status());
    }
    if (!plan.unknown_codes.empty()) {
      Params params;
      params.text(store_id)
          .text_array(plan.unknown_codes,
                      [](const Count& c) -> std::string_view { return c.first; })
          .int64_array(plan.unknown_codes, [](const Count& c) { return c.second; })
          .int64(now_ms);
      SHOPEASY_RETURN_IF_ERROR(s.run(kApplyUnknownCodes, params).status());
    }
    if (!plan.kind_counts.empty()) {
      Params params;
      params.text(store_id)
          .text_array(plan.kind_counts, [](const Count& c) -> std::string_view { return c.first; })
          .int64_array(plan.kind_counts, [](const Count& c) { return c.second; });
      SHOPEASY_RETURN_IF_ERROR(s.run(kApplyKindCounts, params).status());
    }
    for (const QuarantinedChange& c : plan.quarantined) {
      SHOPEASY_RETURN_IF_ERROR(s.run(kInsertQuarantine, Params()
                                                            .text(store_id)
                                                            .int64(c.seq)
                                                            .text(c.kind)
                                                            .text(detail::quarantine_body(c.body))
                                                            .text(c.field)
                                                            .text(c.reason)
                                                            .int64(c.at_ms))
                                   .status());
    }
    // After the stock rows: rows the same batch re-sent carry seqs past from_seq.
    std::int64_t pruned = 0;
    for (const detail::Prune& prune : plan.prunes) {
      StatusOr<Result> candidates =
          s.run(kPruneCandidates, Params().text(store_id).int64(prune.from_seq));
      if (!candidates.ok()) return candidates.status();
      Rows rows(candidates->get());
      std::vector<std::string> gone;
      for (int r = 0; r < rows.count(); ++r) {
        std::string sku = rows.text(r, 0);
        if (detail::prune_covers(prune, sku, rows.int64(r, 1))) gone.push_back(std::move(sku));
      }
      if (gone.empty()) continue;
      std::sort(gone.begin(), gone.end());
      auto same = [](const std::string& v) -> std::string_view { return v; };
      SHOPEASY_RETURN_IF_ERROR(
          s.run(
               kLockStock,
               Params().text_array(std::vector<std::string>{store_id}, same).text_array(gone, same))
              .status());
      Params params;
      params.text(store_id).text_array(
          gone, [](const std::string& sku) -> std::string_view { return sku; });
      SHOPEASY_RETURN_IF_ERROR(s.run(kPruneRows, params).status());
      pruned += static_cast<std::int64_t>(gone.size());
    }
    return pruned;
  }

  // Whether a call may run again when its connection dropped during COMMIT.
  enum class Replay {
    kSafe,             // a run after one that committed changes nothing
    kUnlessCommitted,  // it would apply twice: answer kUnavailable instead
  };

  // An action the order already shows, so that a run after a committed one must not
  // refuse it.
  static bool shows_as_done(const OrderRecord& order, OrderAction action) {
    switch (action) {
      case OrderAction::kCancel:
        return order.order.status == wire::OrderStatus::kCancelled;
      case OrderAction::kRefunded:
        return order.paid && !order.refund_due;
      default:
        return false;  // the others already answer with the order when done
    }
  }

  // fn(session) on a pooled connection. Run again (see the file comment) when the
  // pooled connection was dead before anything reached the server (one dead connection
  // dropped per run, as after a server restart; a fresh connection is never retried),
  // and up to kMaxRetries times after a deadlock, serialization failure or lost
  // connection. Exceptions become kInternal.
  template <typename Fn>
  auto call(Fn&& fn, Replay replay = Replay::kSafe) -> decltype(fn(std::declval<Session&>())) {
    using R = decltype(fn(std::declval<Session&>()));
    return detail::guarded([&]() -> R {
      bool resumed = false;
      bool pause = false;
      int retries = 0;
      for (int attempt = 0;; ++attempt) {
        // Paused with no connection leased, so the pause holds nothing up.
        if (pause) backoff(retries);
        StatusOr<Pool::Lease> lease = pool_.acquire();
        if (!lease.ok()) return lease.status();
        Session session(**lease, resumed);
        R result = fn(session);
        if (status_of(result).is_ok()) return result;
        // (Unless that first command was a lone write, which may have committed before the
        // connection dropped.)
        if (!lease->fresh() && session.lost_before_first_command() &&
            !(session.may_have_committed() && replay == Replay::kUnlessCommitted)) {
          if (attempt >= kMaxPoolSize) return result;
          retries_.with({reason_label(RetryReason::kConnection)}).inc();
          continue;
        }
        const RetryReason reason = session.failure_reason();
        if (reason == RetryReason::kNone || status_of(result).code() != StatusCode::kUnavailable ||
            retries >= kMaxRetries) {
          return result;
        }
        if (session.may_have_committed()) {
          if (replay == Replay::kUnlessCommitted) {
            return unavailable(
                "the connection to PostgreSQL was lost while committing; the "
                "change may or may not have been applied (" +
                status_of(result).message() + ")");
          }
          resumed = true;
        }
        ++retries;
        retries_.with({reason_label(reason)}).inc();
        pause = reason != RetryReason::kConnection;
      }
    });
  }

  // A short random pause that grows with each retry, so the transactions that just
  // collided do not collide again in step.
  static void backoff(int retries) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> micros(0, 1000 << std::min(retries, 4));
    std::this_thread::sleep_for(std::chrono::microseconds(micros(rng)));
  }

  // Owned when the caller passes no registry. Declared before retries_, which points in.
  std::unique_ptr<metrics::Registry> own_metrics_;
  metrics::CounterFamily& retries_;
  Pool pool_;
};

}  // namespace

StatusOr<std::unique_ptr<CloudStore>> open_postgres_store(const std::string& dsn, int pool_size,
                                                          metrics::Registry* metrics) {
  return detail::guarded([&]() -> StatusOr<std::unique_ptr<CloudStore>> {
    if (pool_size < 1 || pool_size > kMaxPoolSize) {
      return invalid_argument("must be between 1 and " + std::to_string(kMaxPoolSize), "pool_size");
    }
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    if (options == nullptr) {
      std::string message = error != nullptr ? trimmed(error) : "cannot parse";
      PQfreemem(error);
      return invalid_argument("bad connection string: " + message, "dsn");
    }
    PQconninfoFree(options);
    auto store = std::make_unique<PostgresCloudStore>(dsn, pool_size, metrics);
    SHOPEASY_RETURN_IF_ERROR(store->check_connection());
    return std::unique_ptr<CloudStore>(std::move(store));
  });
}

}  // namespace shopeasy::cloud::storage
