// See sqlite_schema.hpp.
#include "cloud/storage/sqlite_schema.hpp"

namespace shopeasy::cloud::storage::sqlite {
namespace {

const db::Migration kMigrations[] = {
    {.version = 1, .name = "cloud_store_initial", .sql = R"sql(
CREATE TABLE stores (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  geohash TEXT NOT NULL,
  service_radius_m REAL NOT NULL,
  opening_hours TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  active INTEGER NOT NULL,
  last_applied_seq INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER NOT NULL DEFAULT 0,
  applied_changes INTEGER NOT NULL DEFAULT 0,
  duplicate_changes INTEGER NOT NULL DEFAULT 0,
  next_cursor INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX stores_by_geohash ON stores (geohash);
CREATE TABLE replica (
  store_id TEXT NOT NULL REFERENCES stores (id),
  sku TEXT NOT NULL,
  on_hand INTEGER NOT NULL,
  reserved INTEGER NOT NULL,
  version INTEGER NOT NULL,
  updated_seq INTEGER NOT NULL,
  PRIMARY KEY (store_id, sku)
) WITHOUT ROWID;
CREATE TABLE catalog (
  sku TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL,
  price_cents INTEGER NOT NULL,
  unit TEXT NOT NULL,
  barcodes TEXT NOT NULL,
  active INTEGER NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE downstream (
  store_id TEXT NOT NULL REFERENCES stores (id),
  cursor INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (store_id, cursor)
) WITHOUT ROWID;
CREATE TABLE unknown_codes (
  store_id TEXT NOT NULL REFERENCES stores (id),
  code TEXT NOT NULL,
  occurrences INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (store_id, code)
) WITHOUT ROWID;
CREATE TABLE change_kind_counts (
  store_id TEXT NOT NULL REFERENCES stores (id),
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (store_id, kind)
) WITHOUT ROWID;
)sql"},
    {.version = 2, .name = "cloud_orders", .sql = R"sql(
ALTER TABLE replica ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  status TEXT NOT NULL,
  payment_due_ms INTEGER NOT NULL,
  accept_by_ms INTEGER NOT NULL,
  refund_due INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_by_status ON orders (status, payment_due_ms, accept_by_ms);
CREATE INDEX orders_refund_due ON orders (refund_due) WHERE refund_due = 1;
CREATE TABLE order_events (
  order_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (order_id, seq)
) WITHOUT ROWID;
CREATE TABLE idempotency (
  customer_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  order_id TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (customer_id, idem_key)
) WITHOUT ROWID;
)sql"},
    {.version = 3, .name = "orders_by_customer", .sql = R"sql(
CREATE INDEX orders_by_customer ON orders (customer_id, status);
)sql"},
    // The history a store's seqs number (outbox id, hash of the change at
    // last_applied_seq) and the changes set aside as malformed.
    {.version = 4, .name = "sync_history_and_quarantine", .sql = R"sql(
ALTER TABLE stores ADD COLUMN outbox_id TEXT NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN last_change_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN quarantined_changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN resyncs INTEGER NOT NULL DEFAULT 0;
CREATE TABLE quarantine (
  store_id TEXT NOT NULL REFERENCES stores (id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  field TEXT NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (store_id, seq)
) WITHOUT ROWID;
)sql"},
    {.version = 5, .name = "idempotency_by_age", .sql = R"sql(
CREATE INDEX idempotency_by_age ON idempotency (created_at_ms);
)sql"},
    {.version = 6, .name = "store_registry_version", .sql = R"sql(
ALTER TABLE stores ADD COLUMN registry_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX stores_by_registry_version ON stores (registry_version);
)sql"},
    {.version = 7, .name = "order_events_by_time", .sql = R"sql(
CREATE INDEX order_events_by_time ON order_events (at_ms);
)sql"},
    // Operator settings shared by every instance (search synonyms).
    {.version = 8, .name = "settings", .sql = R"sql(
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    // Dynamic pricing: the price model, the audit of every price and fee change, and
    // the quotes customers were given. A cost of 0 means none (no floor).
    {.version = 9, .name = "pricing", .sql = R"sql(
CREATE TABLE price_models (
  sku TEXT NOT NULL,
  store_id TEXT NOT NULL,
  base_cents INTEGER NOT NULL,
  mrp_cents INTEGER NOT NULL,
  cost_cents INTEGER NOT NULL,
  min_margin_bp INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (sku, store_id)
) WITHOUT ROWID;
CREATE TABLE price_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  store_id TEXT NOT NULL,
  sku TEXT NOT NULL,
  kind TEXT NOT NULL,
  rule TEXT NOT NULL,
  old_cents INTEGER NOT NULL,
  new_cents INTEGER NOT NULL,
  inputs TEXT NOT NULL
);
CREATE INDEX price_history_by_key ON price_history (store_id, sku, kind, at_ms);
CREATE INDEX price_history_by_sku ON price_history (sku, id);
CREATE TABLE price_quotes (
  quote_id TEXT PRIMARY KEY,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX price_quotes_by_expiry ON price_quotes (expires_at_ms);
)sql"},
    {.version = 10, .name = "store_load", .sql = R"sql(
CREATE TABLE store_load (
  store_id TEXT PRIMARY KEY,
  open_orders INTEGER NOT NULL,
  available_runners INTEGER NOT NULL,
  pick_queue INTEGER NOT NULL,
  at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX store_load_by_time ON store_load (at_ms);
)sql"},
    {.version = 11, .name = "notifications", .sql = R"sql(
CREATE TABLE notify_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at_ms INTEGER NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_at_ms) WHERE state = 'pending';
CREATE INDEX notify_outbox_done ON notify_outbox (updated_at_ms) WHERE state <> 'pending';
CREATE INDEX notify_outbox_by_customer ON notify_outbox (customer_id, id);
CREATE TABLE notify_prefs (
  customer_id TEXT PRIMARY KEY,
  prefs TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    // The fleet dashboard's windows (cloud/fleet): orders placed per minute (fleet, store),
    // orders delivered (their last status change) in the last hour and open orders
    // counted by store (fleet, store).
    {.version = 12, .name = "fleet_stats", .sql = R"sql(
CREATE INDEX orders_by_created ON orders (created_at_ms);
CREATE INDEX orders_by_status_updated ON orders (status, updated_at_ms, store_id);
CREATE INDEX orders_by_store ON orders (store_id, status, updated_at_ms);
CREATE INDEX orders_by_store_created ON orders (store_id, created_at_ms);
)sql"},
    {.version = 13, .name = "sku_sales", .sql = R"sql(
CREATE TABLE sku_sales (
  sku TEXT NOT NULL,
  day INTEGER NOT NULL,
  units INTEGER NOT NULL,
  PRIMARY KEY (sku, day)
) WITHOUT ROWID;
CREATE INDEX sku_sales_by_day ON sku_sales (day);
)sql"},
    {.version = 14, .name = "catalog_by_category", .sql = R"sql(
CREATE INDEX catalog_by_category ON catalog (category, sku);
)sql"},
    {.version = 15, .name = "oldest_unsynced_change", .sql = R"sql(
ALTER TABLE stores ADD COLUMN oldest_unsynced_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
    {.version = 16, .name = "store_purchase_orders", .sql = R"sql(
CREATE TABLE store_purchase_orders (
  store_id TEXT NOT NULL,
  po_id TEXT NOT NULL,
  supplier_id TEXT NOT NULL,
  status TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  updated_seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (store_id, po_id)
) WITHOUT ROWID;
CREATE INDEX store_purchase_orders_recent ON store_purchase_orders (store_id, updated_at_ms);
)sql"},
    {.version = 17, .name = "store_lots", .sql = R"sql(
CREATE TABLE store_lots (
  store_id TEXT PRIMARY KEY,
  lots TEXT NOT NULL,
  at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    {.version = 18, .name = "store_cover", .sql = R"sql(
CREATE TABLE store_cover (
  store_id TEXT PRIMARY KEY,
  cover TEXT NOT NULL,
  at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
};

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

}  // namespace shopeasy::cloud::storage::sqlite
