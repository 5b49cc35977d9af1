// The statements PostgresCloudStore prepares, each under its own name (a connection
// prepares one on its first use). Included by postgres_cloud_store.cpp only.
#pragma once

#include "cloud/storage/postgres_session.hpp"

namespace shopeasy::cloud::storage::pg {

#define SHOPEASY_STORE_COLUMNS                                                            \
  "id, name, lat, lon, service_radius_m, opening_hours, secret_sha256, active, geohash, " \
  "last_applied_seq, last_seen_ms, applied_changes, duplicate_changes, outbox_id, "       \
  "quarantined_changes, resyncs, oldest_unsynced_ms"
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
    "resyncs = resyncs + $9, "
    "oldest_unsynced_ms = CASE WHEN $10::bigint < 0 THEN oldest_unsynced_ms ELSE $10::bigint END "
    "WHERE id = $1"};
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
constexpr Sql kLatestPriceChanges{
    "latest_price_changes", "SELECT * FROM (SELECT DISTINCT ON (sku) " SHOPEASY_PRICE_CHANGE_COLUMNS
                            "FROM price_history WHERE store_id = $1 AND kind = $2 "
                            "ORDER BY sku, at_ms DESC, id DESC) newest ORDER BY sku LIMIT $3"};
constexpr Sql kStorePriceModels{
    "store_price_models",
    "SELECT sku, store_id, base_cents, mrp_cents, cost_cents, min_margin_bp, updated_at_ms "
    "FROM price_models WHERE store_id = $1 ORDER BY sku LIMIT $2"};
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
constexpr Sql kPutStoreLots{"put_store_lots",
                            "INSERT INTO store_lots (store_id, lots, at_ms) "
                            "SELECT id, $2, $3 FROM stores WHERE id = $1 "
                            "ON CONFLICT (store_id) DO UPDATE SET lots = EXCLUDED.lots, "
                            "at_ms = EXCLUDED.at_ms"};
constexpr Sql kStoreLots{"store_lots", "SELECT lots, at_ms FROM store_lots WHERE store_id = $1"};
constexpr Sql kPutStoreCover{"put_store_cover",
                             "INSERT INTO store_cover (store_id, cover, at_ms) "
                             "SELECT id, $2, $3 FROM stores WHERE id = $1 "
                             "ON CONFLICT (store_id) DO UPDATE SET cover = EXCLUDED.cover, "
                             "at_ms = EXCLUDED.at_ms"};
constexpr Sql kStoreCover{"store_cover",
                          "SELECT cover, at_ms FROM store_cover WHERE store_id = $1"};
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
    "WHERE c.active AND c.sku > $2 AND ($4 = '' OR c.category = $4) ORDER BY c.sku LIMIT $3"};
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
// A replay of an older change never overwrites a newer one.
constexpr Sql kApplyPurchaseOrder{
    "apply_purchase_order",
    "INSERT INTO store_purchase_orders (store_id, po_id, supplier_id, status, updated_at_ms, "
    "updated_seq, body) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (store_id, po_id) DO UPDATE SET supplier_id = EXCLUDED.supplier_id, "
    "status = EXCLUDED.status, updated_at_ms = EXCLUDED.updated_at_ms, "
    "updated_seq = EXCLUDED.updated_seq, body = EXCLUDED.body "
    "WHERE EXCLUDED.updated_seq > store_purchase_orders.updated_seq"};
constexpr Sql kPurchaseOrders{
    "purchase_orders",
    "SELECT po_id, supplier_id, status, updated_at_ms, updated_seq, body "
    "FROM store_purchase_orders WHERE store_id = $1 AND ($2 = '' OR status = $2) "
    "ORDER BY updated_at_ms DESC, po_id LIMIT $3"};
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
    "refund_due = $6, updated_at_ms = $7, doc = $8, customer_id = $9 WHERE order_id = $1"};
// Locked in byte order, like every other multi-row lock of orders.
constexpr Sql kCustomerOrderIds{
    "customer_order_ids",
    "SELECT order_id FROM orders WHERE customer_id = $1 ORDER BY order_id FOR UPDATE"};
constexpr Sql kDeleteOrderPositions{
    "delete_order_positions",
    "DELETE FROM order_events WHERE order_id = ANY ($1::text[]) AND kind = $2"};
constexpr Sql kDeleteCustomerReplies{"delete_customer_replies",
                                     "DELETE FROM idempotency WHERE customer_id = $1"};
constexpr Sql kDeleteCustomerNotifications{"delete_customer_notifications",
                                           "DELETE FROM notify_outbox WHERE customer_id = $1"};
constexpr Sql kDeleteCustomerPrefs{"delete_customer_prefs",
                                   "DELETE FROM notify_prefs WHERE customer_id = $1"};
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
// One statement for a whole flush: the rows come as two arrays, in SKU order, so
// concurrent flushes of several instances lock the rows in the same order.
constexpr Sql kAddSkuSales{
    "add_sku_sales",
    "INSERT INTO sku_sales (sku, day, units) SELECT s, $1, u FROM unnest($2::text[], "
    "$3::bigint[]) AS t(s, u) ORDER BY s ON CONFLICT (sku, day) DO UPDATE SET units = "
    "sku_sales.units + excluded.units"};
constexpr Sql kSkuPopularity{
    "sku_popularity", "SELECT sku, SUM(units)::bigint FROM sku_sales WHERE day >= $1 GROUP BY sku"};
constexpr Sql kPurgeSkuSales{"purge_sku_sales", "DELETE FROM sku_sales WHERE day < $1"};
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

}  // namespace shopeasy::cloud::storage::pg
