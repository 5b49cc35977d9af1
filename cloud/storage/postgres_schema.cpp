// See postgres_schema.hpp.
#include "cloud/storage/postgres_schema.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace shopeasy::cloud::storage::pg {
namespace {

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
    // The fleet dashboard's windows (cloud/fleet): orders placed per minute (fleet, store),
    // orders delivered (their last status change) in the last hour and open orders
    // counted by store (fleet, store).
    {12, "fleet_stats", R"sql(
CREATE INDEX orders_by_created ON orders (created_at_ms);
CREATE INDEX orders_by_status_updated ON orders (status, updated_at_ms, store_id);
CREATE INDEX orders_by_store ON orders (store_id, status, updated_at_ms);
CREATE INDEX orders_by_store_created ON orders (store_id, created_at_ms);
)sql"},
    {13, "sku_sales", R"sql(
CREATE TABLE sku_sales (
  sku text NOT NULL,
  day bigint NOT NULL,
  units bigint NOT NULL,
  PRIMARY KEY (sku, day)
);
CREATE INDEX sku_sales_by_day ON sku_sales (day);
)sql"},
    {14, "catalog_by_category", R"sql(
CREATE INDEX catalog_by_category ON catalog (category, sku);
)sql"},
    {15, "oldest_unsynced_change", R"sql(
ALTER TABLE stores ADD COLUMN oldest_unsynced_ms bigint NOT NULL DEFAULT 0;
)sql"},
    {16, "store_purchase_orders", R"sql(
CREATE TABLE store_purchase_orders (
  store_id text NOT NULL,
  po_id text NOT NULL,
  supplier_id text NOT NULL,
  status text NOT NULL,
  updated_at_ms bigint NOT NULL,
  updated_seq bigint NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (store_id, po_id)
);
CREATE INDEX store_purchase_orders_recent ON store_purchase_orders (store_id, updated_at_ms);
)sql"},
    {17, "store_lots", R"sql(
CREATE TABLE store_lots (
  store_id text COLLATE "C" PRIMARY KEY,
  lots text NOT NULL,
  at_ms bigint NOT NULL
);
)sql"},
    {18, "store_cover", R"sql(
CREATE TABLE store_cover (
  store_id text COLLATE "C" PRIMARY KEY,
  cover text NOT NULL,
  at_ms bigint NOT NULL
);
)sql"},
};

}  // namespace

Status migrate_schema(Session& s) {
  return s.transaction([&]() -> Status {
    SHOPEASY_RETURN_IF_ERROR(
        s.exec(("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")").c_str(),
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
        return failed_precondition("the database is at schema version " + std::to_string(version) +
                                   ", newer than this build knows");
      }
      if (rows.text(r, 1) != known->name) {
        return failed_precondition("migration " + std::to_string(version) + " was applied as '" +
                                   rows.text(r, 1) + "' but this build calls it '" + known->name +
                                   "'");
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
}

}  // namespace shopeasy::cloud::storage::pg
