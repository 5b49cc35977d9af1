#include "edge/store/schema.hpp"

#include <array>

namespace shopeasy::edge::store {

namespace {

// Version 1: the stock ledger and the event outbox.
//
// The ledger is append-only. delta moves on-hand stock; reserved_delta moves the part of
// it promised to orders (reserve/release rows have delta 0), so on-hand per (sku, bin,
// lot) is the sum of delta and reserved the sum of reserved_delta.
//
// stock holds on-hand per (sku, bin, lot) and is kept equal to the sum of the ledger's
// deltas by the writer, in the same transaction as each ledger row. sku_totals keeps the
// per-SKU sums and a version that changes with every movement (the ETag of a SKU's
// stock). Lot 0 is "no lot" for products that are not lot-tracked.
constexpr const char* kV1Inventory = R"sql(
CREATE TABLE products (
  sku TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  price_cents INTEGER NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
  unit TEXT NOT NULL DEFAULT 'each',
  home_bin TEXT REFERENCES bins(code),
  reorder_point INTEGER NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
  active INTEGER NOT NULL DEFAULT 1,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX products_name ON products(name COLLATE NOCASE);
CREATE INDEX products_category ON products(category, sku);

CREATE TABLE barcodes (
  gtin TEXT PRIMARY KEY,
  sku TEXT NOT NULL REFERENCES products(sku) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX barcodes_sku ON barcodes(sku);

CREATE TABLE bins (
  code TEXT PRIMARY KEY,
  walk_order INTEGER NOT NULL DEFAULT 0,
  zone TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE lots (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL,
  lot_code TEXT NOT NULL,
  expiry TEXT,
  UNIQUE (sku, lot_code)
);
INSERT INTO lots (id, sku, lot_code, expiry) VALUES (0, '', '', NULL);

CREATE TABLE stock (
  sku TEXT NOT NULL,
  bin TEXT NOT NULL REFERENCES bins(code),
  lot_id INTEGER NOT NULL REFERENCES lots(id),
  on_hand INTEGER NOT NULL,
  reserved INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (sku, bin, lot_id)
) WITHOUT ROWID;
CREATE INDEX stock_bin ON stock(bin);

CREATE TABLE sku_totals (
  sku TEXT PRIMARY KEY,
  on_hand INTEGER NOT NULL DEFAULT 0,
  reserved INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE ledger (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  sku TEXT NOT NULL,
  bin TEXT NOT NULL,
  lot_id INTEGER NOT NULL,
  delta INTEGER NOT NULL,
  reserved_delta INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  ref TEXT,
  note TEXT,
  on_hand_after INTEGER NOT NULL,
  CHECK (delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX ledger_sku_id ON ledger(sku, id);
CREATE INDEX ledger_ts ON ledger(ts_ms);

CREATE TABLE applied_scans (
  scan_id TEXT PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  response TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE reservations (
  order_id TEXT NOT NULL,
  sku TEXT NOT NULL,
  bin TEXT NOT NULL,
  lot_id INTEGER NOT NULL,
  qty INTEGER NOT NULL CHECK (qty > 0),
  PRIMARY KEY (order_id, sku, bin, lot_id)
) WITHOUT ROWID;

CREATE TABLE counts (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'cancelled')),
  opened_by TEXT NOT NULL,
  opened_at_ms INTEGER NOT NULL,
  closed_at_ms INTEGER
) WITHOUT ROWID;

CREATE TABLE count_lines (
  count_id TEXT NOT NULL REFERENCES counts(id),
  sku TEXT NOT NULL,
  bin TEXT NOT NULL,
  lot_id INTEGER NOT NULL,
  expected INTEGER NOT NULL,
  counted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (count_id, sku, bin, lot_id)
) WITHOUT ROWID;

CREATE TABLE category_settings (
  category TEXT PRIMARY KEY,
  expiry_warn_days INTEGER NOT NULL CHECK (expiry_warn_days >= 0)
) WITHOUT ROWID;

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL
);
)sql";

// Version 2: where cloud sync stands. acked_seq is the highest event the cloud has
// applied; downstream_cursor the last cloud item applied here, written in the same
// transaction as that item's effects.
constexpr const char* kV2Sync = R"sql(
CREATE TABLE sync_state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sync_state (key, value) VALUES ('acked_seq', 0), ('downstream_cursor', 0);
)sql";

// Version 3: customer orders the cloud routed here, from acceptance to delivery.
// order_lines.qty is what is still to be handed over (a short pick lowers it;
// original_qty keeps what was ordered); a substitute line names the SKU it replaces.
// order_picks records where each picked unit came from, so a cancelled order's units
// go back to the same bin and lot. order_history holds every status with its time.
constexpr const char* kV3Orders = R"sql(
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  promised_at_ms INTEGER NOT NULL,
  accept_by_ms INTEGER,
  total_cents INTEGER NOT NULL,
  runner_id TEXT,
  assignment_id TEXT,
  eta_ms INTEGER,
  received_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_status ON orders(status, received_at_ms);

CREATE TABLE order_lines (
  order_id TEXT NOT NULL REFERENCES orders(order_id),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  qty INTEGER NOT NULL CHECK (qty >= 0),
  original_qty INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL,
  picked INTEGER NOT NULL DEFAULT 0 CHECK (picked >= 0 AND picked <= qty),
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'short', 'cancelled')),
  substitute_for TEXT,
  PRIMARY KEY (order_id, line_no),
  UNIQUE (order_id, sku)
) WITHOUT ROWID;

CREATE TABLE order_picks (
  order_id TEXT NOT NULL,
  sku TEXT NOT NULL,
  bin TEXT NOT NULL,
  lot_id INTEGER NOT NULL,
  qty INTEGER NOT NULL CHECK (qty > 0),
  PRIMARY KEY (order_id, sku, bin, lot_id)
) WITHOUT ROWID;

CREATE TABLE order_pick_scans (
  scan_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  response TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE order_history (
  id INTEGER PRIMARY KEY,
  order_id TEXT NOT NULL,
  status TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  reason TEXT,
  actor TEXT NOT NULL
);
CREATE INDEX order_history_order ON order_history(order_id, id);
)sql";

// Version 4: replenishment. A supplier's lead time, order days (bit d: weekday d,
// Monday 0), minimum order and pack size; each SKU's supplier with its service level,
// shelf life and pack size (when not the supplier's). Purchase orders go draft -> sent
// -> partially_received -> received, or cancelled; request_id makes creating one
// idempotent. po_lines.received counts what was scanned in against the line, written
// in the same transaction as the ledger's receive movement; po_receipts keeps each
// receipt by its id (a repeat answers the first result) and po_history every status.
constexpr const char* kV4Replenishment = R"sql(
CREATE TABLE suppliers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lead_time_days INTEGER NOT NULL CHECK (lead_time_days BETWEEN 1 AND 365),
  order_days INTEGER NOT NULL CHECK (order_days BETWEEN 1 AND 127),
  min_order_qty INTEGER NOT NULL DEFAULT 0 CHECK (min_order_qty >= 0),
  pack_size INTEGER NOT NULL DEFAULT 1 CHECK (pack_size >= 1),
  active INTEGER NOT NULL DEFAULT 1,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sku_suppliers (
  sku TEXT PRIMARY KEY REFERENCES products(sku),
  supplier_id TEXT NOT NULL REFERENCES suppliers(id),
  service_level REAL NOT NULL DEFAULT 0.95 CHECK (service_level >= 0.5 AND service_level < 1),
  shelf_life_days INTEGER CHECK (shelf_life_days IS NULL OR shelf_life_days >= 1),
  pack_size INTEGER CHECK (pack_size IS NULL OR pack_size >= 1),
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sku_suppliers_supplier ON sku_suppliers(supplier_id, sku);

CREATE TABLE purchase_orders (
  po_id TEXT PRIMARY KEY,
  supplier_id TEXT NOT NULL REFERENCES suppliers(id),
  status TEXT NOT NULL
    CHECK (status IN ('draft', 'sent', 'partially_received', 'received', 'cancelled')),
  request_id TEXT UNIQUE,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  expected_at_ms INTEGER,
  note TEXT
) WITHOUT ROWID;
CREATE INDEX purchase_orders_status ON purchase_orders(status, created_at_ms);
CREATE INDEX purchase_orders_supplier ON purchase_orders(supplier_id, status);

CREATE TABLE po_lines (
  po_id TEXT NOT NULL REFERENCES purchase_orders(po_id),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  qty INTEGER NOT NULL CHECK (qty > 0),
  received INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= qty),
  why TEXT,
  PRIMARY KEY (po_id, line_no),
  UNIQUE (po_id, sku)
) WITHOUT ROWID;
CREATE INDEX po_lines_sku ON po_lines(sku);

CREATE TABLE po_receipts (
  receipt_id TEXT PRIMARY KEY,
  po_id TEXT NOT NULL,
  line_no INTEGER NOT NULL,
  qty INTEGER NOT NULL CHECK (qty > 0),
  ledger_id INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  response TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX po_receipts_po ON po_receipts(po_id);

CREATE TABLE po_history (
  id INTEGER PRIMARY KEY,
  po_id TEXT NOT NULL,
  status TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX po_history_po ON po_history(po_id, id);
)sql";

// Version 5: who is picking an order. picker is the staff user holding the claim;
// picker_seen_at_ms moves with the claim and with each of that picker's scans, so a
// claim whose picker walked away goes stale and another picker can take the order.
// bags is the bag count given at packing.
constexpr const char* kV5PickerClaims = R"sql(
ALTER TABLE orders ADD COLUMN picker TEXT;
ALTER TABLE orders ADD COLUMN picker_seen_at_ms INTEGER;
ALTER TABLE orders ADD COLUMN bags INTEGER CHECK (bags IS NULL OR bags BETWEEN 1 AND 50);
)sql";

// Version 6: the product search reads the catalog rows changed since the newest it has
// indexed (edge/search), which needs updated_at_ms indexed.
constexpr const char* kV6ProductChanges = R"sql(
CREATE INDEX products_updated ON products(updated_at_ms);
)sql";

// Version 7: peak-hour planning counts orders per hour by arrival and measures pick and
// delivery times from the status history, over a window of recent weeks.
constexpr const char* kV7OrderTimes = R"sql(
CREATE INDEX orders_received ON orders(received_at_ms);
CREATE INDEX order_history_status_at ON order_history(status, at_ms);
)sql";

// The lots reported to the cloud for markdowns are found by expiry on every sync batch.
constexpr const char* kV8LotExpiry = R"sql(
CREATE INDEX lots_expiry ON lots(expiry) WHERE expiry IS NOT NULL;
)sql";

// The cloud's last word on this store's prices (the kill switch, the delivery fee, prices
// off base, markdowns), kept so the command center still shows it after a restart
// while the cloud is out of reach.
constexpr const char* kV9PricingView = R"sql(
CREATE TABLE pricing_view (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version TEXT NOT NULL,
  body TEXT NOT NULL,
  received_ms INTEGER NOT NULL
);
)sql";

// Picks by SKU and time, for the stock cover report's trailing demand (read hourly on the
// sync thread): covering, and holding only picks.
constexpr const char* kV10LedgerPicks = R"sql(
CREATE INDEX ledger_picks ON ledger(sku, ts_ms, delta) WHERE reason = 'pick' AND delta < 0;
)sql";

const std::array<db::Migration, 10> kMigrations = {
    db::Migration{1, "inventory ledger and event outbox", kV1Inventory},
    db::Migration{2, "cloud sync state", kV2Sync},
    db::Migration{3, "orders: acceptance, picking, packing, delivery", kV3Orders},
    db::Migration{4, "replenishment: suppliers and purchase orders", kV4Replenishment},
    db::Migration{5, "orders: picker claims and bag counts", kV5PickerClaims},
    db::Migration{6, "products: index of changes for search", kV6ProductChanges},
    db::Migration{7, "orders: indexes for peak-hour planning", kV7OrderTimes},
    db::Migration{8, "lots: index by expiry for near-expiry reports", kV8LotExpiry},
    db::Migration{9, "pricing: the cloud's view of this store's prices", kV9PricingView},
    db::Migration{10, "ledger: picks by SKU and time for the stock cover report", kV10LedgerPicks},
};

}  // namespace

std::span<const db::Migration> edge_migrations() { return kMigrations; }

}  // namespace shopeasy::edge::store
