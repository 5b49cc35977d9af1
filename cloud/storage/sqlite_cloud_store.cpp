// SqliteCloudStore: CloudStore on one SQLite file. One writer connection (behind a
// mutex) takes every write in an IMMEDIATE transaction; a small pool of reader
// connections serves reads concurrently, which WAL allows. synchronous=FULL, so an
// acknowledged batch survives power loss. Several processes may open the same file:
// IMMEDIATE transactions serialize their writers. The schema and its migrations are in
// sqlite_schema.*.

#include "cloud/storage/cloud_store.hpp"
#include "cloud/storage/downstream_rules.hpp"
#include "cloud/storage/order_rules.hpp"
#include "cloud/storage/sqlite_schema.hpp"
#include "cloud/storage/store_rules.hpp"
#include "common/db/database.hpp"
#include "common/db/migration.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::storage {
namespace {

constexpr int kReaderConnections = 3;

constexpr std::string_view kNotificationColumns =
    "id, dedupe_key, order_id, event_seq, customer_id, channel, kind, body, state, attempts, "
    "next_at_ms, created_at_ms, updated_at_ms, last_error";

StatusOr<NotificationRow> read_notification(const db::Statement& row) {
  NotificationRow n;
  n.id = row.column_int64(0);
  n.dedupe_key = row.column_text(1);
  n.order_id = row.column_text(2);
  n.event_seq = row.column_int64(3);
  n.customer_id = row.column_text(4);
  n.channel = row.column_text(5);
  n.kind = row.column_text(6);
  StatusOr<nlohmann::json> body = detail::parse_stored_json(row.column_text(7), "notification");
  if (!body.ok()) return body.status();
  n.body = std::move(*body);
  n.state = row.column_text(8);
  n.attempts = row.column_int64(9);
  n.next_at_ms = row.column_int64(10);
  n.created_at_ms = row.column_int64(11);
  n.updated_at_ms = row.column_int64(12);
  n.last_error = row.column_text(13);
  return n;
}

constexpr std::string_view kStoreColumns =
    "id, name, lat, lon, service_radius_m, opening_hours, secret_sha256, active, geohash, "
    "last_applied_seq, last_seen_ms, applied_changes, duplicate_changes, outbox_id, "
    "quarantined_changes, resyncs, oldest_unsynced_ms";

constexpr std::string_view kCatalogColumns =
    "sku, name, category, price_cents, unit, barcodes, active, version";

Status unknown_store(const std::string& id) {
  return not_found(detail::is_valid_store_id(id) ? "unknown store '" + id + "'"
                                                 : std::string("unknown store"));
}

StatusOr<StoreRecord> read_store(const db::Statement& row) {
  StoreRecord record;
  StoreRegistration& reg = record.registration;
  reg.id = row.column_text(0);
  reg.name = row.column_text(1);
  reg.lat = row.column_double(2);
  reg.lon = row.column_double(3);
  reg.service_radius_m = row.column_double(4);
  StatusOr<nlohmann::json> hours = detail::parse_stored_json(row.column_text(5), "opening hours");
  if (!hours.ok()) return hours.status();
  reg.opening_hours = std::move(*hours);
  reg.secret_sha256 = row.column_text(6);
  reg.active = row.column<bool>(7);
  record.geohash = row.column_text(8);
  record.last_applied_seq = row.column_int64(9);
  record.last_seen_ms = row.column_int64(10);
  record.applied_changes = row.column_int64(11);
  record.duplicate_changes = row.column_int64(12);
  record.outbox_id = row.column_text(13);
  record.quarantined_changes = row.column_int64(14);
  record.resyncs = row.column_int64(15);
  record.oldest_unsynced_ms = row.column_int64(16);
  return record;
}

// Reads the columns of kCatalogColumns starting at `first`.
StatusOr<CatalogItem> read_catalog_item(const db::Statement& row, int first = 0) {
  CatalogItem item;
  item.sku = row.column_text(first + 0);
  item.name = row.column_text(first + 1);
  item.category = row.column_text(first + 2);
  item.price_cents = row.column_int64(first + 3);
  item.unit = row.column_text(first + 4);
  StatusOr<std::vector<std::string>> barcodes = detail::parse_barcodes(row.column_text(first + 5));
  if (!barcodes.ok()) return barcodes.status();
  item.barcodes = std::move(*barcodes);
  item.active = row.column<bool>(first + 6);
  item.version = row.column_int64(first + 7);
  return item;
}

Status require_store(db::Database& db, const std::string& id) {
  StatusOr<std::optional<std::int64_t>> found =
      db.query_one<std::int64_t>("SELECT 1 FROM stores WHERE id = ?", id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return unknown_store(id);
  return Status::ok();
}

// Catalog items with sku > after_sku in SKU order, inactive ones included.
StatusOr<std::vector<CatalogItem>> read_catalog_page(db::Database& db, const std::string& after_sku,
                                                     int limit) {
  db::Query q = db.query(
      "SELECT " + std::string(kCatalogColumns) + " FROM catalog WHERE sku > ? ORDER BY sku LIMIT ?",
      after_sku, limit);
  std::vector<CatalogItem> out;
  while (const db::Statement* row = q.next()) {
    StatusOr<CatalogItem> item = read_catalog_item(*row);
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return out;
}

// Queues one downstream item on an open write transaction, at the store's next cursor.
Status enqueue_item(db::Database& db, const std::string& store_id, std::string_view kind,
                    const nlohmann::json& body) {
  StatusOr<std::optional<std::int64_t>> cursor = db.query_one<std::int64_t>(
      "UPDATE stores SET next_cursor = next_cursor + 1 WHERE id = ? RETURNING next_cursor - 1",
      store_id);
  if (!cursor.ok()) return cursor.status();
  if (!cursor->has_value()) return unknown_store(store_id);
  return db.run("INSERT INTO downstream (store_id, cursor, kind, body) VALUES (?, ?, ?, ?)",
                store_id, **cursor, kind, detail::dump_json(body));
}

// The order logic's database work on the writer's open IMMEDIATE transaction, which
// already excludes every other writer (in this process and in others).
class SqliteOrderTx final : public detail::OrderTx {
 public:
  SqliteOrderTx(db::Database& db, const std::vector<std::string>& channels)
      : db_(db), channels_(channels) {}

  StatusOr<std::optional<OrderRecord>> load_order(const std::string& order_id) override {
    StatusOr<std::optional<std::string>> doc =
        db_.query_one<std::string>("SELECT doc FROM orders WHERE order_id = ?", order_id);
    if (!doc.ok()) return doc.status();
    if (!doc->has_value()) return std::optional<OrderRecord>();
    StatusOr<OrderRecord> order = detail::parse_order_doc(**doc);
    if (!order.ok()) return order.status();
    return std::optional<OrderRecord>(std::move(*order));
  }
  Status insert_order(const OrderRecord& o) override {
    return db_.run(
        "INSERT INTO orders (order_id, customer_id, store_id, status, payment_due_ms, "
        "accept_by_ms, refund_due, created_at_ms, updated_at_ms, doc) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        o.order.order_id, o.order.customer_id, o.order.store_id.value_or(""),
        wire::to_string(o.order.status), o.payment_due_ms, o.accept_by_ms, o.refund_due,
        o.order.created_at_ms, o.order.updated_at_ms, detail::order_doc(o));
  }
  Status update_order(const OrderRecord& o) override {
    return db_.run(
        "UPDATE orders SET customer_id = ?, store_id = ?, status = ?, payment_due_ms = ?, "
        "accept_by_ms = ?, refund_due = ?, updated_at_ms = ?, doc = ? WHERE order_id = ?",
        o.order.customer_id, o.order.store_id.value_or(""), wire::to_string(o.order.status),
        o.payment_due_ms, o.accept_by_ms, o.refund_due, o.order.updated_at_ms, detail::order_doc(o),
        o.order.order_id);
  }
  StatusOr<bool> try_hold(const std::string& store_id, const std::string& sku,
                          std::int64_t qty) override {
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE replica SET held = held + ? WHERE store_id = ? AND sku = ? "
                "AND on_hand - reserved - held >= ?",
                qty, store_id, sku, qty));
    return db_.changes() == 1;
  }
  Status release_hold(const std::string& store_id, const std::string& sku,
                      std::int64_t qty) override {
    return db_.run("UPDATE replica SET held = max(held - ?, 0) WHERE store_id = ? AND sku = ?", qty,
                   store_id, sku);
  }
  StatusOr<std::int64_t> unpaid_orders(const std::string& customer_id) override {
    StatusOr<std::optional<std::int64_t>> n = db_.query_one<std::int64_t>(
        "SELECT COUNT(*) FROM orders WHERE customer_id = ? AND status = 'pending_payment'",
        customer_id);
    if (!n.ok()) return n.status();
    return n->value_or(0);
  }
  StatusOr<std::vector<std::string>> customer_order_ids(const std::string& customer_id) override {
    std::vector<std::string> ids;
    db::Query q = db_.query("SELECT order_id FROM orders WHERE customer_id = ? ORDER BY order_id",
                            customer_id);
    while (const db::Statement* row = q.next()) ids.push_back(row->column_text(0));
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return ids;
  }
  Status erase_customer_traces(const std::string& customer_id,
                               const std::vector<std::string>& order_ids) override {
    for (const std::string& id : order_ids) {
      SHOPEASY_RETURN_IF_ERROR(db_.run("DELETE FROM order_events WHERE order_id = ? AND kind = ?",
                                       id, std::string(detail::kOrderEventPositionKind)));
    }
    SHOPEASY_RETURN_IF_ERROR(db_.run("DELETE FROM idempotency WHERE customer_id = ?", customer_id));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM notify_outbox WHERE customer_id = ?", customer_id));
    return db_.run("DELETE FROM notify_prefs WHERE customer_id = ?", customer_id);
  }
  StatusOr<std::int64_t> free_stock(const std::string& store_id, const std::string& sku) override {
    StatusOr<std::optional<std::int64_t>> free = db_.query_one<std::int64_t>(
        "SELECT on_hand - reserved - held FROM replica WHERE store_id = ? AND sku = ?", store_id,
        sku);
    if (!free.ok()) return free.status();
    return free->value_or(0);
  }
  Status append_event(const std::string& order_id, const OrderEvent& e) override {
    return db_.run(
        "INSERT INTO order_events (order_id, seq, kind, body, at_ms) VALUES (?, ?, ?, ?, ?)",
        order_id, e.seq, e.kind, detail::dump_json(e.body), e.at_ms);
  }
  Status add_notifications(const NotificationEvent& n) override {
    for (const std::string& channel : channels_) {
      SHOPEASY_RETURN_IF_ERROR(db_.run(
          "INSERT INTO notify_outbox (dedupe_key, order_id, event_seq, customer_id, channel, "
          "kind, body, state, next_at_ms, created_at_ms, updated_at_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
          notification_key(n.order_id, n.event_seq, channel, n.customer_id), n.order_id,
          n.event_seq, n.customer_id, channel, n.kind, detail::dump_json(n.body), n.at_ms, n.at_ms,
          n.at_ms));
    }
    return Status::ok();
  }
  Status enqueue(const std::string& store_id, std::string_view kind,
                 const nlohmann::json& body) override {
    return enqueue_item(db_, store_id, kind, body);
  }
  StatusOr<std::optional<IdempotentReply>> find_reply(const std::string& customer_id,
                                                      const std::string& key) override {
    return find_idempotent_reply(db_, customer_id, key);
  }
  Status insert_reply(const IdempotentReply& r, std::int64_t now_ms) override {
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("INSERT INTO idempotency (customer_id, idem_key, request_hash, order_id, "
                "status_code, body, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (customer_id, idem_key) DO NOTHING",
                r.customer_id, r.key, r.request_hash, r.order_id, r.status_code,
                detail::dump_json(r.body), now_ms));
    if (db_.changes() == 0) return Status(StatusCode::kAlreadyExists, "idempotency key in use");
    return Status::ok();
  }
  Status count_kind(const std::string& store_id, std::string_view kind) override {
    return db_.run(
        "INSERT INTO change_kind_counts (store_id, kind, count) VALUES (?, ?, 1) "
        "ON CONFLICT (store_id, kind) DO UPDATE SET count = count + 1",
        store_id, kind);
  }

  static StatusOr<std::optional<IdempotentReply>> find_idempotent_reply(
      db::Database& db, const std::string& customer_id, const std::string& key) {
    db::Query q = db.query(
        "SELECT request_hash, order_id, status_code, body FROM idempotency "
        "WHERE customer_id = ? AND idem_key = ?",
        customer_id, key);
    const db::Statement* row = q.next();
    if (row == nullptr) {
      if (!q.status().is_ok()) return q.status();
      return std::optional<IdempotentReply>();
    }
    StatusOr<nlohmann::json> body = detail::parse_stored_json(row->column_text(3), "reply");
    if (!body.ok()) return body.status();
    return std::optional<IdempotentReply>(IdempotentReply{.customer_id = customer_id,
                                                          .key = key,
                                                          .request_hash = row->column_text(0),
                                                          .order_id = row->column_text(1),
                                                          .status_code = row->column<int>(2),
                                                          .body = std::move(*body)});
  }

 private:
  db::Database& db_;
  const std::vector<std::string>& channels_;
};

bool is_memory_path(const std::string& path) {
  return path == ":memory:" || path.empty() || path.rfind("file::memory:", 0) == 0;
}

// align_downstream's database work on the writer's open IMMEDIATE transaction.
class SqliteDownstreamTx final : public detail::DownstreamTx {
 public:
  explicit SqliteDownstreamTx(db::Database& db) : db_(db) {}

  StatusOr<std::optional<std::int64_t>> lock_next_cursor(const std::string& store_id) override {
    return db_.query_one<std::int64_t>("SELECT next_cursor FROM stores WHERE id = ?", store_id);
  }
  StatusOr<std::optional<std::int64_t>> first_item_after(const std::string& store_id,
                                                         std::int64_t after) override {
    return db_.query_one<std::int64_t>(
        "SELECT cursor FROM downstream WHERE store_id = ? AND cursor > ? ORDER BY cursor LIMIT 1",
        store_id, after);
  }
  StatusOr<std::optional<DownstreamItem>> item_at(const std::string& store_id,
                                                  std::int64_t cursor) override {
    db::Query q = db_.query("SELECT kind, body FROM downstream WHERE store_id = ? AND cursor = ?",
                            store_id, cursor);
    const db::Statement* row = q.next();
    SHOPEASY_RETURN_IF_ERROR(q.status());
    if (row == nullptr) return std::optional<DownstreamItem>();
    StatusOr<nlohmann::json> body =
        detail::parse_stored_json(row->column_text(1), "downstream body");
    if (!body.ok()) return body.status();
    return std::optional<DownstreamItem>(
        DownstreamItem{.cursor = cursor, .kind = row->column_text(0), .body = std::move(*body)});
  }
  Status shift_items(const std::string& store_id, std::int64_t by) override {
    if (by == 0) return Status::ok();
    // Through negative cursors, so no row lands on another's key on the way.
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE downstream SET cursor = -cursor WHERE store_id = ?", store_id));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE downstream SET cursor = ? - cursor WHERE store_id = ? AND cursor < 0", by,
                store_id));
    return db_.run("UPDATE stores SET next_cursor = next_cursor + ? WHERE id = ?", by, store_id);
  }
  StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                  int limit) override {
    return read_catalog_page(db_, after_sku, limit);
  }
  StatusOr<std::vector<OrderRecord>> orders_for_replay(const std::string& store_id,
                                                       std::int64_t cancelled_since_ms) override {
    db::Query q = db_.query(
        "SELECT doc FROM orders WHERE store_id = ? AND (status IN ('routed', 'accepted', "
        "'picking', 'packed') OR (status = 'cancelled' AND updated_at_ms >= ?)) "
        "ORDER BY created_at_ms, order_id",
        store_id, cancelled_since_ms);
    std::vector<OrderRecord> out;
    while (const db::Statement* row = q.next()) {
      StatusOr<OrderRecord> order = detail::parse_order_doc(row->column_text(0));
      if (!order.ok()) return order.status();
      out.push_back(std::move(*order));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }
  Status enqueue(const std::string& store_id, std::string_view kind,
                 const nlohmann::json& body) override {
    return enqueue_item(db_, store_id, kind, body);
  }

 private:
  db::Database& db_;
};

class SqliteCloudStore final : public CloudStore {
 public:
  // Without readers (an in-memory database, private to its connection) reads share the
  // writer.
  SqliteCloudStore(db::Database writer, std::vector<db::Database> readers)
      : writer_(std::move(writer)),
        idle_readers_(std::move(readers)),
        no_readers_(idle_readers_.empty()) {}

  Status migrate() override {
    return detail::guarded([&]() -> Status {
      sync::MutexLock lock(writer_mutex_);
      return db::migrate(writer_, sqlite::migrations());
    });
  }

  Status upsert_store(const StoreRegistration& store) override {
    return detail::guarded([&]() -> Status {
      StatusOr<std::string> hash = detail::validate_registration(store);
      if (!hash.ok()) return hash.status();
      const std::string hours = detail::dump_json(store.opening_hours);
      return write([&](db::Database& db) -> Status {
        return db.run(
            // One writer: the next version is the largest so far plus one.
            "INSERT INTO stores (id, name, lat, lon, geohash, service_radius_m, opening_hours, "
            "secret_sha256, active, registry_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT coalesce(max(registry_version), 0) + 1 FROM stores)) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat, "
            "lon = excluded.lon, geohash = excluded.geohash, "
            "service_radius_m = excluded.service_radius_m, "
            "opening_hours = excluded.opening_hours, secret_sha256 = excluded.secret_sha256, "
            "active = excluded.active, registry_version = excluded.registry_version",
            store.id, store.name, store.lat, store.lon, *hash, store.service_radius_m, hours,
            store.secret_sha256, store.active);
      });
    });
  }

  StatusOr<StoreRecord> get_store(const std::string& id) override {
    return detail::guarded([&]() -> StatusOr<StoreRecord> {
      return read([&](db::Database& db) -> StatusOr<StoreRecord> {
        db::Query q =
            db.query("SELECT " + std::string(kStoreColumns) + " FROM stores WHERE id = ?", id);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          if (!q.status().is_ok()) return q.status();
          return unknown_store(id);
        }
        return read_store(*row);
      });
    });
  }

  StatusOr<std::vector<StoreRecord>> list_stores() override {
    return detail::guarded([&]() -> StatusOr<std::vector<StoreRecord>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<StoreRecord>> {
        std::vector<StoreRecord> out;
        db::Query q = db.query("SELECT " + std::string(kStoreColumns) + " FROM stores ORDER BY id");
        while (const db::Statement* row = q.next()) {
          StatusOr<StoreRecord> record = read_store(*row);
          if (!record.ok()) return record.status();
          out.push_back(std::move(*record));
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::vector<StoreSeen>> stores_seen_since(std::int64_t since_ms) override {
    return detail::guarded([&]() -> StatusOr<std::vector<StoreSeen>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<StoreSeen>> {
        std::vector<StoreSeen> out;
        db::Query q =
            db.query("SELECT id, last_seen_ms FROM stores WHERE last_seen_ms >= ?", since_ms);
        while (const db::Statement* row = q.next()) {
          out.push_back(StoreSeen{row->column_text(0), row->column_int64(1)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::int64_t> registry_version() override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return read([&](db::Database& db) -> StatusOr<std::int64_t> {
        auto v =
            db.query_one<std::int64_t>("SELECT coalesce(max(registry_version), 0) FROM stores");
        if (!v.ok()) return v.status();
        return v->value_or(0);
      });
    });
  }

  Status touch_store(const std::string& id, std::int64_t now_ms) override {
    return detail::guarded([&]() -> Status {
      return write([&](db::Database& db) -> Status {
        SHOPEASY_RETURN_IF_ERROR(
            db.run("UPDATE stores SET last_seen_ms = ? WHERE id = ?", now_ms, id));
        if (db.changes() == 0) return unknown_store(id);
        return Status::ok();
      });
    });
  }

  StatusOr<ApplyResult> apply_batch(const std::string& store_id, const std::vector<Change>& changes,
                                    std::int64_t now_ms, const BatchMeta& meta) override {
    return detail::guarded([&]() -> StatusOr<ApplyResult> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_batch(changes));
      return write_tx([&](db::Database& db) -> StatusOr<ApplyResult> {
        std::int64_t last = 0;
        std::string outbox_id;
        std::string last_hash;
        {
          db::Query q = db.query(
              "SELECT last_applied_seq, outbox_id, last_change_hash FROM stores WHERE id = ?",
              store_id);
          const db::Statement* row = q.next();
          if (row == nullptr) {
            if (!q.status().is_ok()) return q.status();
            return unknown_store(store_id);
          }
          last = row->column_int64(0);
          outbox_id = row->column_text(1);
          last_hash = row->column_text(2);
        }
        const detail::BatchDecision decision =
            detail::decide_batch(meta, changes, last, outbox_id, last_hash);
        if (decision.conflict != HistoryConflict::kNone) {
          SHOPEASY_RETURN_IF_ERROR(
              db.run("UPDATE stores SET last_seen_ms = ? WHERE id = ?", now_ms, store_id));
          ApplyResult refused;
          refused.acked_seq = last;
          refused.conflict = decision.conflict;
          return refused;
        }
        detail::BatchPlan plan = detail::plan_batch(changes, decision.last_applied, now_ms);
        StatusOr<std::int64_t> pruned = apply_plan(db, store_id, plan, now_ms);
        if (!pruned.ok()) return pruned.status();
        SqliteOrderTx orders(db, notification_channels());
        for (std::size_t i : plan.order_changes) {
          SHOPEASY_RETURN_IF_ERROR(
              detail::apply_order_change(orders, store_id, changes[i], now_ms));
        }
        SHOPEASY_RETURN_IF_ERROR(db.run(
            "UPDATE stores SET last_applied_seq = ?, last_seen_ms = ?, "
            "applied_changes = applied_changes + ?, duplicate_changes = duplicate_changes + ?, "
            "last_change_hash = ?, outbox_id = ?, "
            "quarantined_changes = quarantined_changes + ?, resyncs = resyncs + ?, "
            "oldest_unsynced_ms = CASE WHEN ? < 0 THEN oldest_unsynced_ms ELSE ? END WHERE id = ?",
            plan.new_last_applied, now_ms, plan.applied, plan.duplicates,
            plan.applied > 0 ? plan.last_hash : last_hash, decision.outbox_id,
            static_cast<std::int64_t>(plan.quarantined.size()),
            static_cast<std::int64_t>(decision.resync ? 1 : 0),
            detail::oldest_unsynced_after(meta, plan), detail::oldest_unsynced_after(meta, plan),
            store_id));
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
    return detail::guarded([&]() -> StatusOr<std::vector<QuarantinedChange>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<QuarantinedChange>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        std::vector<QuarantinedChange> out;
        db::Query q = db.query(
            "SELECT seq, kind, body, field, reason, at_ms FROM quarantine WHERE store_id = ? "
            "ORDER BY seq DESC LIMIT ?",
            store_id, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<nlohmann::json> body =
              detail::parse_stored_json(row->column_text(2), "quarantined body");
          if (!body.ok()) return body.status();
          out.push_back(QuarantinedChange{.seq = row->column_int64(0),
                                          .kind = row->column_text(1),
                                          .body = std::move(*body),
                                          .field = row->column_text(3),
                                          .reason = row->column_text(4),
                                          .at_ms = row->column_int64(5)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::vector<Availability>> availability(const std::string& store_id,
                                                   const std::vector<std::string>& skus) override {
    return detail::guarded([&]() -> StatusOr<std::vector<Availability>> {
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<Availability>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        std::vector<Availability> out;
        auto collect = [&](db::Query q) -> Status {
          while (const db::Statement* row = q.next()) {
            out.push_back(Availability{.store_id = store_id,
                                       .sku = row->column_text(0),
                                       .on_hand = row->column_int64(1),
                                       .reserved = row->column_int64(2),
                                       .held = row->column_int64(5),
                                       .version = row->column_int64(3),
                                       .updated_seq = row->column_int64(4)});
          }
          return q.status();
        };
        if (skus.empty()) {
          SHOPEASY_RETURN_IF_ERROR(
              collect(db.query("SELECT sku, on_hand, reserved, version, updated_seq, held "
                               "FROM replica WHERE store_id = ? ORDER BY sku",
                               store_id)));
        } else {
          // One statement for any number of SKUs: the list travels as a JSON array.
          SHOPEASY_RETURN_IF_ERROR(collect(db.query(
              "SELECT sku, on_hand, reserved, version, updated_seq, held "
              "FROM replica WHERE store_id = ? AND sku IN (SELECT value FROM json_each(?)) "
              "ORDER BY sku",
              store_id, detail::dump_json(skus))));
        }
        return out;
      });
    });
  }

  StatusOr<std::int64_t> upsert_catalog_item(const CatalogItem& item) override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_catalog_item(item));
      const std::string barcodes = detail::dump_json(item.barcodes);
      return write_tx([&](db::Database& db) -> StatusOr<std::int64_t> {
        StatusOr<std::optional<std::int64_t>> version = db.query_one<std::int64_t>(
            "INSERT INTO catalog (sku, name, category, price_cents, unit, barcodes, active, "
            "version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category, "
            "price_cents = excluded.price_cents, unit = excluded.unit, "
            "barcodes = excluded.barcodes, active = excluded.active, "
            "version = catalog.version + 1 "
            "WHERE (catalog.name, catalog.category, catalog.price_cents, catalog.unit, "
            "catalog.barcodes, catalog.active) IS NOT (excluded.name, excluded.category, "
            "excluded.price_cents, excluded.unit, excluded.barcodes, excluded.active) "
            "RETURNING version",
            item.sku, item.name, item.category, item.price_cents, item.unit, barcodes, item.active);
        if (!version.ok()) return version.status();
        if (!version->has_value()) {
          // Already stored as given: nothing changes and the stores hear nothing new.
          StatusOr<std::optional<std::int64_t>> current =
              db.query_one<std::int64_t>("SELECT version FROM catalog WHERE sku = ?", item.sku);
          if (!current.ok()) return current.status();
          if (!current->has_value()) return internal_error("catalog upsert returned no version");
          return **current;
        }
        CatalogItem stored = item;
        stored.version = **version;
        const std::string body = detail::dump_json(detail::catalog_item_json(stored));
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO downstream (store_id, cursor, kind, body) "
                   "SELECT id, next_cursor, ?, ? FROM stores WHERE active = 1",
                   detail::kCatalogItemKind, body));
        SHOPEASY_RETURN_IF_ERROR(
            db.run("UPDATE stores SET next_cursor = next_cursor + 1 WHERE active = 1"));
        return stored.version;
      });
    });
  }

  StatusOr<std::optional<CatalogItem>> get_catalog_item(const std::string& sku) override {
    return detail::guarded([&]() -> StatusOr<std::optional<CatalogItem>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<CatalogItem>> {
        db::Query q =
            db.query("SELECT " + std::string(kCatalogColumns) + " FROM catalog WHERE sku = ?", sku);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          if (!q.status().is_ok()) return q.status();
          return std::optional<CatalogItem>();
        }
        StatusOr<CatalogItem> item = read_catalog_item(*row);
        if (!item.ok()) return item.status();
        return std::optional<CatalogItem>(std::move(*item));
      });
    });
  }

  StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                  int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<CatalogItem>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read([&](db::Database& db) -> StatusOr<std::vector<CatalogItem>> {
        return read_catalog_page(db, after_sku, limit);
      });
    });
  }

  StatusOr<std::optional<nlohmann::json>> get_setting(const std::string& key) override {
    return detail::guarded([&]() -> StatusOr<std::optional<nlohmann::json>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_setting(key, nullptr).status());
      return read([&](db::Database& db) -> StatusOr<std::optional<nlohmann::json>> {
        db::Query q = db.query("SELECT value FROM settings WHERE key = ?", key);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          SHOPEASY_RETURN_IF_ERROR(q.status());
          return std::optional<nlohmann::json>();
        }
        StatusOr<nlohmann::json> value = detail::parse_stored_json(row->column_text(0), "setting");
        if (!value.ok()) return value.status();
        return std::optional<nlohmann::json>(std::move(*value));
      });
    });
  }

  Status put_setting(const std::string& key, const nlohmann::json& value,
                     std::int64_t now_ms) override {
    return detail::guarded([&]() -> Status {
      StatusOr<std::string> text = detail::validate_setting(key, value);
      if (!text.ok()) return text.status();
      return write([&](db::Database& db) -> Status {
        return db.run(
            "INSERT INTO settings (key, value, updated_at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at_ms = excluded.updated_at_ms WHERE settings.value <> excluded.value",
            key, *text, now_ms);
      });
    });
  }

  StatusOr<std::vector<StoreCatalogRow>> store_catalog(const std::string& store_id,
                                                       const std::string& after_sku, int limit,
                                                       const std::string& category) override {
    return detail::guarded([&]() -> StatusOr<std::vector<StoreCatalogRow>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<StoreCatalogRow>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        std::vector<StoreCatalogRow> out;
        db::Query q = db.query(
            "SELECT c.sku, c.name, c.category, c.price_cents, c.unit, c.barcodes, c.active, "
            "c.version, max(coalesce(r.on_hand - r.reserved - r.held, 0), 0) "
            "FROM catalog c LEFT JOIN replica r ON r.store_id = ? AND r.sku = c.sku "
            "WHERE c.active = 1 AND c.sku > ? AND (? = '' OR c.category = ?) ORDER BY c.sku "
            "LIMIT ?",
            store_id, after_sku, category, category, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<CatalogItem> item = read_catalog_item(*row);
          if (!item.ok()) return item.status();
          out.push_back(
              StoreCatalogRow{.item = std::move(*item), .available = row->column_int64(8)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::int64_t> enqueue_downstream(const std::string& store_id, const std::string& kind,
                                            const nlohmann::json& body) override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_downstream(kind, body));
      const std::string text = detail::dump_json(body);
      return write_tx([&](db::Database& db) -> StatusOr<std::int64_t> {
        StatusOr<std::optional<std::int64_t>> cursor = db.query_one<std::int64_t>(
            "UPDATE stores SET next_cursor = next_cursor + 1 WHERE id = ? "
            "RETURNING next_cursor - 1",
            store_id);
        if (!cursor.ok()) return cursor.status();
        if (!cursor->has_value()) return unknown_store(store_id);
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO downstream (store_id, cursor, kind, body) VALUES (?, ?, ?, ?)",
                   store_id, **cursor, kind, text));
        return **cursor;
      });
    });
  }

  StatusOr<std::vector<DownstreamItem>> downstream(const std::string& store_id,
                                                   std::int64_t after_cursor, int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<DownstreamItem>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_cursor(after_cursor, "after_cursor"));
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<DownstreamItem>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        std::vector<DownstreamItem> out;
        db::Query q = db.query(
            "SELECT cursor, kind, body FROM downstream WHERE store_id = ? AND cursor > ? "
            "ORDER BY cursor LIMIT ?",
            store_id, after_cursor, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<nlohmann::json> body =
              detail::parse_stored_json(row->column_text(2), "downstream body");
          if (!body.ok()) return body.status();
          out.push_back(DownstreamItem{.cursor = row->column_int64(0),
                                       .kind = row->column_text(1),
                                       .body = std::move(*body)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<DownstreamAlignment> align_downstream(const std::string& store_id,
                                                 std::int64_t store_cursor,
                                                 const std::string& store_hash,
                                                 std::int64_t now_ms) override {
    return detail::guarded([&]() -> StatusOr<DownstreamAlignment> {
      return write_tx([&](db::Database& db) -> StatusOr<DownstreamAlignment> {
        SqliteDownstreamTx tx(db);
        return detail::align_downstream(tx, store_id, store_cursor, store_hash, now_ms);
      });
    });
  }

  StatusOr<std::int64_t> queue_initial_catalog(const std::string& store_id) override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write_tx([&](db::Database& db) -> StatusOr<std::int64_t> {
        SqliteDownstreamTx tx(db);
        return detail::queue_initial_catalog(tx, store_id);
      });
    });
  }

  Status trim_downstream(const std::string& store_id, std::int64_t up_to_cursor) override {
    return detail::guarded([&]() -> Status {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_cursor(up_to_cursor, "up_to_cursor"));
      return write_tx([&](db::Database& db) -> Status {
        StatusOr<std::optional<std::int64_t>> next =
            db.query_one<std::int64_t>("SELECT next_cursor FROM stores WHERE id = ?", store_id);
        if (!next.ok()) return next.status();
        if (!next->has_value()) return unknown_store(store_id);
        if (up_to_cursor >= **next) {
          return Status(StatusCode::kOutOfRange, "cursor " + std::to_string(up_to_cursor) +
                                                     " was never issued; the last is " +
                                                     std::to_string(**next - 1));
        }
        return db.run("DELETE FROM downstream WHERE store_id = ? AND cursor <= ?", store_id,
                      up_to_cursor);
      });
    });
  }

  StatusOr<std::vector<RangeChecksum>> checksums(const std::string& store_id,
                                                 int buckets) override {
    return detail::guarded([&]() -> StatusOr<std::vector<RangeChecksum>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_buckets(buckets));
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<RangeChecksum>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        detail::ChecksumAccumulator acc(buckets);
        db::Query q =
            db.query("SELECT sku, on_hand, reserved FROM replica WHERE store_id = ?", store_id);
        while (const db::Statement* row = q.next()) {
          acc.add(row->column_text(0), row->column_int64(1), row->column_int64(2));
        }
        if (!q.status().is_ok()) return q.status();
        return acc.take();
      });
    });
  }

  StatusOr<nlohmann::json> unknown_codes(const std::string& store_id, int limit) override {
    return detail::guarded([&]() -> StatusOr<nlohmann::json> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read_tx([&](db::Database& db) -> StatusOr<nlohmann::json> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        nlohmann::json out = nlohmann::json::array();
        db::Query q = db.query(
            "SELECT code, occurrences, last_seen_ms FROM unknown_codes WHERE store_id = ? "
            "ORDER BY occurrences DESC, code LIMIT ?",
            store_id, limit);
        while (const db::Statement* row = q.next()) {
          out.push_back({{"code", row->column_text(0)},
                         {"count", row->column_int64(1)},
                         {"last_seen_ms", row->column_int64(2)}});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::map<std::string, std::int64_t>> change_counts(
      const std::string& store_id) override {
    return detail::guarded([&]() -> StatusOr<std::map<std::string, std::int64_t>> {
      return read_tx([&](db::Database& db) -> StatusOr<std::map<std::string, std::int64_t>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        std::map<std::string, std::int64_t> out;
        db::Query q =
            db.query("SELECT kind, count FROM change_kind_counts WHERE store_id = ?", store_id);
        while (const db::Statement* row = q.next()) out[row->column_text(0)] = row->column_int64(1);
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::vector<StorePurchaseOrder>> purchase_orders(const std::string& store_id,
                                                            const std::string& status,
                                                            int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return detail::guarded([&]() -> StatusOr<std::vector<StorePurchaseOrder>> {
      return read_tx([&](db::Database& db) -> StatusOr<std::vector<StorePurchaseOrder>> {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, store_id));
        db::Query q = db.query(
            "SELECT po_id, supplier_id, status, updated_at_ms, updated_seq, body "
            "FROM store_purchase_orders WHERE store_id = ? AND (? = '' OR status = ?) "
            "ORDER BY updated_at_ms DESC, po_id LIMIT ?",
            store_id, status, status, static_cast<std::int64_t>(limit));
        std::vector<StorePurchaseOrder> out;
        while (const db::Statement* row = q.next()) {
          SHOPEASY_ASSIGN_OR_RETURN(
              nlohmann::json body,
              detail::parse_stored_json(row->column_text(5), "purchase order"));
          out.push_back(StorePurchaseOrder{.po_id = row->column_text(0),
                                           .supplier_id = row->column_text(1),
                                           .status = row->column_text(2),
                                           .updated_at_ms = row->column_int64(3),
                                           .updated_seq = row->column_int64(4),
                                           .body = std::move(body)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<PlaceResult> place_order(const NewOrder& order, std::int64_t now_ms) override {
    return detail::guarded([&]() -> StatusOr<PlaceResult> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_new_order(order));
      return write_tx([&](db::Database& db) -> StatusOr<PlaceResult> {
        // Attempts that fail release their holds again, so an unplaced order commits
        // no change.
        SqliteOrderTx tx(db, notification_channels());
        return detail::place_order(tx, order, now_ms);
      });
    });
  }

  StatusOr<OrderRecord> get_order(const std::string& order_id) override {
    return detail::guarded([&]() -> StatusOr<OrderRecord> {
      return read([&](db::Database& db) -> StatusOr<OrderRecord> {
        StatusOr<std::optional<std::string>> doc =
            db.query_one<std::string>("SELECT doc FROM orders WHERE order_id = ?", order_id);
        if (!doc.ok()) return doc.status();
        if (!doc->has_value()) return not_found("unknown order");
        return detail::parse_order_doc(**doc);
      });
    });
  }

  StatusOr<std::vector<OrderRecord>> customer_orders(const std::string& customer_id,
                                                     std::int64_t before_created_at_ms,
                                                     const std::string& before_order_id,
                                                     std::int64_t limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<OrderRecord>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<OrderRecord>> {
        std::vector<OrderRecord> out;
        db::Query q = db.query(
            "SELECT doc FROM orders WHERE customer_id = ? AND (created_at_ms < ? OR "
            "(created_at_ms = ? AND order_id < ?)) ORDER BY created_at_ms DESC, order_id DESC "
            "LIMIT ?",
            customer_id, before_created_at_ms, before_created_at_ms, before_order_id, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<OrderRecord> order = detail::parse_order_doc(row->column_text(0));
          if (!order.ok()) return order.status();
          out.push_back(std::move(*order));
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  Status set_payment_intent(const std::string& order_id, const std::string& intent_id) override {
    return detail::guarded([&]() -> Status {
      return write_tx([&](db::Database& db) -> Status {
        SqliteOrderTx tx(db, notification_channels());
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
    return detail::guarded([&]() -> StatusOr<OrderRecord> {
      return write_tx([&](db::Database& db) -> StatusOr<OrderRecord> {
        SqliteOrderTx tx(db, notification_channels());
        return detail::act_on_order(tx, order_id, request, now_ms);
      });
    });
  }

  StatusOr<ForgetResult> forget_customer(const std::string& customer_id,
                                         const std::string& tombstone,
                                         std::int64_t now_ms) override {
    return detail::guarded([&]() -> StatusOr<ForgetResult> {
      return write_tx([&](db::Database& db) -> StatusOr<ForgetResult> {
        SqliteOrderTx tx(db, notification_channels());
        return detail::forget_customer(tx, customer_id, tombstone, now_ms);
      });
    });
  }

  StatusOr<std::vector<std::string>> due_orders(std::int64_t now_ms, int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<std::string>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read([&](db::Database& db) -> StatusOr<std::vector<std::string>> {
        std::vector<std::string> out;
        db::Query q = db.query(
            "SELECT order_id FROM orders WHERE status = 'pending_payment' AND payment_due_ms <= ? "
            "UNION SELECT order_id FROM orders WHERE status = 'routed' AND accept_by_ms <= ? "
            "UNION SELECT order_id FROM orders WHERE refund_due = 1 LIMIT ?",
            now_ms, now_ms, limit);
        while (const db::Statement* row = q.next()) out.push_back(row->column_text(0));
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::vector<OrderEventHead>> recent_order_event_heads(std::int64_t since_ms,
                                                                 int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<OrderEventHead>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read([&](db::Database& db) -> StatusOr<std::vector<OrderEventHead>> {
        std::vector<OrderEventHead> out;
        db::Query q = db.query(
            "SELECT order_id, max(seq) FROM order_events WHERE at_ms >= ? GROUP BY order_id "
            "LIMIT ?",
            since_ms, limit);
        while (const db::Statement* row = q.next()) {
          out.push_back(OrderEventHead{row->column_text(0), row->column_int64(1)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::vector<OrderEvent>> order_events(const std::string& order_id,
                                                 std::int64_t after_seq, int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<OrderEvent>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read([&](db::Database& db) -> StatusOr<std::vector<OrderEvent>> {
        std::vector<OrderEvent> out;
        db::Query q = db.query(
            "SELECT seq, kind, body, at_ms FROM order_events WHERE order_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            order_id, after_seq, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<nlohmann::json> body =
              detail::parse_stored_json(row->column_text(2), "order event");
          if (!body.ok()) return body.status();
          out.push_back(OrderEvent{.seq = row->column_int64(0),
                                   .kind = row->column_text(1),
                                   .body = std::move(*body),
                                   .at_ms = row->column_int64(3)});
        }
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }

  StatusOr<std::optional<IdempotentReply>> idempotent_reply(const std::string& customer_id,
                                                            const std::string& key) override {
    return detail::guarded([&]() -> StatusOr<std::optional<IdempotentReply>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<IdempotentReply>> {
        return SqliteOrderTx::find_idempotent_reply(db, customer_id, key);
      });
    });
  }

  Status save_idempotent_reply(const IdempotentReply& r) override {
    return detail::guarded([&]() -> Status {
      return write([&](db::Database& db) -> Status {
        return db.run(
            "INSERT INTO idempotency (customer_id, idem_key, request_hash, order_id, "
            "status_code, body, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (customer_id, idem_key) DO UPDATE SET order_id = excluded.order_id, "
            "status_code = excluded.status_code, body = excluded.body",
            r.customer_id, r.key, r.request_hash, r.order_id, r.status_code,
            detail::dump_json(r.body), r.created_at_ms);
      });
    });
  }

  StatusOr<std::int64_t> purge_idempotent_replies(std::int64_t before_ms, int limit) override {
    if (limit < 1 || limit > 10'000) return invalid_argument("limit must be 1..10000", "limit");
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write([&](db::Database& db) -> StatusOr<std::int64_t> {
        SHOPEASY_RETURN_IF_ERROR(db.run(
            "DELETE FROM idempotency WHERE (customer_id, idem_key) IN (SELECT customer_id, "
            "idem_key FROM idempotency WHERE created_at_ms < ? ORDER BY created_at_ms LIMIT ?)",
            before_ms, limit));
        return static_cast<std::int64_t>(db.changes());
      });
    });
  }

  Status put_price_model(const PriceModelRow& row) override {
    return detail::guarded([&]() -> Status {
      return write([&](db::Database& db) -> Status {
        return db.run(
            "INSERT INTO price_models (sku, store_id, base_cents, mrp_cents, cost_cents, "
            "min_margin_bp, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sku, store_id) DO UPDATE SET base_cents = excluded.base_cents, "
            "mrp_cents = excluded.mrp_cents, cost_cents = excluded.cost_cents, "
            "min_margin_bp = excluded.min_margin_bp, updated_at_ms = excluded.updated_at_ms",
            row.sku, row.store_id, row.base_cents, row.mrp_cents, row.cost_cents.value_or(0),
            static_cast<std::int64_t>(row.min_margin_bp), row.updated_at_ms);
      });
    });
  }

  static PriceModelRow read_price_model(const db::Statement& row) {
    PriceModelRow r{.sku = row.column_text(0),
                    .store_id = row.column_text(1),
                    .base_cents = row.column_int64(2),
                    .mrp_cents = row.column_int64(3),
                    .cost_cents = std::nullopt,
                    .min_margin_bp = static_cast<std::int32_t>(row.column_int64(5)),
                    .updated_at_ms = row.column_int64(6)};
    if (row.column_int64(4) > 0) r.cost_cents = row.column_int64(4);
    return r;
  }

  StatusOr<std::vector<PriceModelRow>> price_model_rows(const std::string& sku) override {
    return detail::guarded([&]() -> StatusOr<std::vector<PriceModelRow>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<PriceModelRow>> {
        std::vector<PriceModelRow> out;
        db::Query q = db.query(
            "SELECT sku, store_id, base_cents, mrp_cents, cost_cents, min_margin_bp, "
            "updated_at_ms FROM price_models WHERE sku = ? ORDER BY store_id",
            sku);
        while (const db::Statement* row = q.next()) out.push_back(read_price_model(*row));
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  StatusOr<std::vector<PriceModelRow>> store_price_models(const std::string& store_id,
                                                          int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return detail::guarded([&]() -> StatusOr<std::vector<PriceModelRow>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<PriceModelRow>> {
        std::vector<PriceModelRow> out;
        db::Query q = db.query(
            "SELECT sku, store_id, base_cents, mrp_cents, cost_cents, min_margin_bp, "
            "updated_at_ms FROM price_models WHERE store_id = ? ORDER BY sku LIMIT ?",
            store_id, static_cast<std::int64_t>(limit));
        while (const db::Statement* row = q.next()) out.push_back(read_price_model(*row));
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  Status add_price_changes(const std::vector<PriceChange>& changes) override {
    if (changes.empty()) return Status::ok();
    return detail::guarded([&]() -> Status {
      return write_tx([&](db::Database& db) -> Status {
        for (const PriceChange& c : changes) {
          SHOPEASY_RETURN_IF_ERROR(
              db.run("INSERT INTO price_history (at_ms, store_id, sku, kind, rule, old_cents, "
                     "new_cents, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     c.at_ms, c.store_id, c.sku, c.kind, c.rule, c.old_cents, c.new_cents,
                     c.inputs.dump()));
        }
        return Status::ok();
      });
    });
  }

  static StatusOr<PriceChange> read_price_change(const db::Statement& row) {
    PriceChange c{.id = row.column_int64(0),
                  .at_ms = row.column_int64(1),
                  .store_id = row.column_text(2),
                  .sku = row.column_text(3),
                  .kind = row.column_text(4),
                  .rule = row.column_text(5),
                  .old_cents = row.column_int64(6),
                  .new_cents = row.column_int64(7)};
    SHOPEASY_ASSIGN_OR_RETURN(c.inputs,
                              detail::parse_stored_json(row.column_text(8), "price change"));
    return c;
  }

  StatusOr<std::vector<PriceChange>> price_history(const std::string& sku,
                                                   const std::string& store_id,
                                                   std::int64_t after_id, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return detail::guarded([&]() -> StatusOr<std::vector<PriceChange>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<PriceChange>> {
        std::vector<PriceChange> out;
        db::Query q = db.query(
            "SELECT id, at_ms, store_id, sku, kind, rule, old_cents, new_cents, inputs "
            "FROM price_history WHERE id > ? AND (? = '' OR sku = ?) AND "
            "(? = '' OR store_id = ?) ORDER BY id LIMIT ?",
            after_id, sku, sku, store_id, store_id, static_cast<std::int64_t>(limit));
        while (const db::Statement* row = q.next()) {
          SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(*row));
          out.push_back(std::move(c));
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  StatusOr<std::optional<PriceChange>> last_price_change(const std::string& store_id,
                                                         const std::string& sku,
                                                         const std::string& kind,
                                                         std::int64_t at_or_before_ms) override {
    return detail::guarded([&]() -> StatusOr<std::optional<PriceChange>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<PriceChange>> {
        db::Query q = db.query(
            "SELECT id, at_ms, store_id, sku, kind, rule, old_cents, new_cents, inputs "
            "FROM price_history WHERE store_id = ? AND sku = ? AND kind = ? AND at_ms <= ? "
            "ORDER BY at_ms DESC, id DESC LIMIT 1",
            store_id, sku, kind, at_or_before_ms);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          SHOPEASY_RETURN_IF_ERROR(q.status());
          return std::optional<PriceChange>();
        }
        SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(*row));
        return std::optional<PriceChange>(std::move(c));
      });
    });
  }

  StatusOr<std::vector<PriceChange>> latest_price_changes(const std::string& store_id,
                                                          const std::string& kind,
                                                          int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return detail::guarded([&]() -> StatusOr<std::vector<PriceChange>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<PriceChange>> {
        std::vector<PriceChange> out;
        // The newest entry per SKU through the (store_id, sku, kind, at_ms) index: one
        // probe per SKU the store has entries for, not a walk of its whole history.
        db::Query q = db.query(
            "SELECT h.id, h.at_ms, h.store_id, h.sku, h.kind, h.rule, h.old_cents, h.new_cents, "
            "h.inputs FROM (SELECT DISTINCT sku FROM price_history WHERE store_id = ?1 AND "
            "kind = ?2) s JOIN price_history h ON h.id = (SELECT id FROM price_history "
            "WHERE store_id = ?1 AND sku = s.sku AND kind = ?2 ORDER BY at_ms DESC, id DESC "
            "LIMIT 1) ORDER BY h.sku LIMIT ?3",
            store_id, kind, static_cast<std::int64_t>(limit));
        while (const db::Statement* row = q.next()) {
          SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(*row));
          out.push_back(std::move(c));
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  Status put_store_load(const StoreLoad& load) override {
    return detail::guarded([&]() -> Status {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_store_load(load));
      return write_tx([&](db::Database& db) -> Status {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, load.store_id));
        return db.run(
            "INSERT INTO store_load (store_id, open_orders, available_runners, pick_queue, at_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id) DO UPDATE SET "
            "open_orders = excluded.open_orders, available_runners = excluded.available_runners, "
            "pick_queue = excluded.pick_queue, at_ms = excluded.at_ms",
            load.store_id, load.open_orders, load.available_runners, load.pick_queue, load.at_ms);
      });
    });
  }

  StatusOr<std::vector<StoreLoad>> store_loads(std::int64_t since_ms) override {
    return detail::guarded([&]() -> StatusOr<std::vector<StoreLoad>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<StoreLoad>> {
        db::Query q = db.query(
            "SELECT store_id, open_orders, available_runners, pick_queue, at_ms FROM store_load "
            "WHERE at_ms >= ? ORDER BY store_id",
            since_ms);
        std::vector<StoreLoad> out;
        while (const db::Statement* row = q.next()) {
          out.push_back(StoreLoad{.store_id = row->column_text(0),
                                  .open_orders = row->column_int64(1),
                                  .available_runners = row->column_int64(2),
                                  .pick_queue = row->column_int64(3),
                                  .at_ms = row->column_int64(4)});
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  Status put_store_lots(const StoreLots& lots) override {
    return detail::guarded([&]() -> Status {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_store_lots(lots));
      return write_tx([&](db::Database& db) -> Status {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, lots.store_id));
        return db.run(
            "INSERT INTO store_lots (store_id, lots, at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (store_id) DO UPDATE SET lots = excluded.lots, at_ms = excluded.at_ms",
            lots.store_id, detail::encode_store_lots(lots.lots), lots.at_ms);
      });
    });
  }

  StatusOr<std::optional<StoreLots>> store_lots(const std::string& store_id) override {
    return detail::guarded([&]() -> StatusOr<std::optional<StoreLots>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<StoreLots>> {
        db::Query q = db.query("SELECT lots, at_ms FROM store_lots WHERE store_id = ?", store_id);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          SHOPEASY_RETURN_IF_ERROR(q.status());
          return std::optional<StoreLots>();
        }
        SHOPEASY_ASSIGN_OR_RETURN(std::vector<wire::NearExpiryLot> lots,
                                  detail::decode_store_lots(row->column_text(0)));
        return std::optional<StoreLots>(StoreLots{
            .store_id = store_id, .lots = std::move(lots), .at_ms = row->column_int64(1)});
      });
    });
  }

  Status put_store_cover(const StoreCover& cover) override {
    return detail::guarded([&]() -> Status {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_store_cover(cover));
      return write_tx([&](db::Database& db) -> Status {
        SHOPEASY_RETURN_IF_ERROR(require_store(db, cover.store_id));
        return db.run(
            "INSERT INTO store_cover (store_id, cover, at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (store_id) DO UPDATE SET cover = excluded.cover, at_ms = excluded.at_ms",
            cover.store_id, detail::encode_store_cover(cover.cover), cover.at_ms);
      });
    });
  }

  StatusOr<std::optional<StoreCover>> store_cover(const std::string& store_id) override {
    return detail::guarded([&]() -> StatusOr<std::optional<StoreCover>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<StoreCover>> {
        db::Query q = db.query("SELECT cover, at_ms FROM store_cover WHERE store_id = ?", store_id);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          SHOPEASY_RETURN_IF_ERROR(q.status());
          return std::optional<StoreCover>();
        }
        SHOPEASY_ASSIGN_OR_RETURN(std::vector<wire::StockCover> cover,
                                  detail::decode_store_cover(row->column_text(0)));
        return std::optional<StoreCover>(StoreCover{
            .store_id = store_id, .cover = std::move(cover), .at_ms = row->column_int64(1)});
      });
    });
  }

  // A quote is an offer the app asks for again when it is lost, so its commit does not
  // wait for the disk: synchronous=NORMAL for this one statement (the WAL keeps it across
  // a crash of the process; the next full commit, which syncs the WAL, makes it
  // durable). That takes the fsync off every quote's path. A power cut in between loses
  // quotes, never orders: an order naming a lost quote is refused as an unknown quote,
  // and the app quotes again.
  Status put_quote(const StoredQuote& quote) override {
    return detail::guarded([&]() -> Status {
      return write([&](db::Database& db) -> Status {
        SHOPEASY_RETURN_IF_ERROR(db.run("PRAGMA synchronous = NORMAL"));
        const Status inserted = db.run(
            "INSERT INTO price_quotes (quote_id, created_at_ms, expires_at_ms, body) "
            "VALUES (?, ?, ?, ?)",
            quote.quote_id, quote.created_at_ms, quote.expires_at_ms, quote.body.dump());
        // Back to full durability before the writer serves anything else.
        const Status restored = db.run("PRAGMA synchronous = FULL");
        return inserted.is_ok() ? restored : inserted;
      });
    });
  }

  StatusOr<std::optional<StoredQuote>> get_quote(const std::string& quote_id) override {
    return detail::guarded([&]() -> StatusOr<std::optional<StoredQuote>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<StoredQuote>> {
        db::Query q = db.query(
            "SELECT quote_id, created_at_ms, expires_at_ms, body FROM price_quotes "
            "WHERE quote_id = ?",
            quote_id);
        const db::Statement* row = q.next();
        if (row == nullptr) {
          SHOPEASY_RETURN_IF_ERROR(q.status());
          return std::optional<StoredQuote>();
        }
        StoredQuote out{.quote_id = row->column_text(0),
                        .created_at_ms = row->column_int64(1),
                        .expires_at_ms = row->column_int64(2)};
        SHOPEASY_ASSIGN_OR_RETURN(out.body,
                                  detail::parse_stored_json(row->column_text(3), "quote"));
        return std::optional<StoredQuote>(std::move(out));
      });
    });
  }

  StatusOr<std::int64_t> purge_quotes(std::int64_t before_ms, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write([&](db::Database& db) -> StatusOr<std::int64_t> {
        SHOPEASY_RETURN_IF_ERROR(
            db.run("DELETE FROM price_quotes WHERE quote_id IN (SELECT quote_id FROM price_quotes "
                   "WHERE expires_at_ms < ? ORDER BY expires_at_ms LIMIT ?)",
                   before_ms, static_cast<std::int64_t>(limit)));
        return static_cast<std::int64_t>(db.changes());
      });
    });
  }

  StatusOr<std::vector<NotificationRow>> claim_notifications(const std::string& owner,
                                                             std::int64_t now_ms,
                                                             std::int64_t lease_ms,
                                                             int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<NotificationRow>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return write_tx([&](db::Database& db) -> StatusOr<std::vector<NotificationRow>> {
        std::vector<NotificationRow> out;
        db::Query q = db.query(
            "UPDATE notify_outbox SET lease_owner = ?, lease_until_ms = ? WHERE id IN (SELECT id "
            "FROM notify_outbox WHERE state = 'pending' AND next_at_ms <= ? AND lease_until_ms "
            "<= ? ORDER BY next_at_ms LIMIT ?) RETURNING " +
                std::string(kNotificationColumns),
            owner, now_ms + lease_ms, now_ms, now_ms, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<NotificationRow> n = read_notification(*row);
          if (!n.ok()) return n.status();
          out.push_back(std::move(*n));
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  StatusOr<std::int64_t> finish_notifications(const std::string& owner,
                                              const std::vector<NotificationOutcome>& outcomes,
                                              std::int64_t now_ms) override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write_tx([&](db::Database& db) -> StatusOr<std::int64_t> {
        std::int64_t updated = 0;
        for (const NotificationOutcome& o : outcomes) {
          SHOPEASY_RETURN_IF_ERROR(db.run(
              "UPDATE notify_outbox SET state = ?, attempts = ?, next_at_ms = ?, last_error = ?, "
              "updated_at_ms = ?, lease_owner = '', lease_until_ms = 0 "
              "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
              o.state, o.attempts, o.next_at_ms, o.error, now_ms, o.id, owner));
          updated += db.changes();
        }
        return updated;
      });
    });
  }

  StatusOr<std::vector<NotificationBacklog>> notification_backlog() override {
    return detail::guarded([&]() -> StatusOr<std::vector<NotificationBacklog>> {
      return read([&](db::Database& db) -> StatusOr<std::vector<NotificationBacklog>> {
        std::vector<NotificationBacklog> out;
        db::Query q = db.query(
            "SELECT channel, count(*), min(created_at_ms) FROM notify_outbox "
            "WHERE state = 'pending' GROUP BY channel");
        while (const db::Statement* row = q.next()) {
          out.push_back(NotificationBacklog{.channel = row->column_text(0),
                                            .pending = row->column_int64(1),
                                            .oldest_created_at_ms = row->column_int64(2)});
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  StatusOr<std::int64_t> purge_notifications(std::int64_t before_ms, int limit) override {
    if (limit < 1 || limit > 10'000) return invalid_argument("limit must be 1..10000", "limit");
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write([&](db::Database& db) -> StatusOr<std::int64_t> {
        SHOPEASY_RETURN_IF_ERROR(
            db.run("DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox WHERE "
                   "state <> 'pending' AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?)",
                   before_ms, static_cast<std::int64_t>(limit)));
        return static_cast<std::int64_t>(db.changes());
      });
    });
  }

  StatusOr<std::vector<NotificationRow>> customer_notifications(const std::string& customer_id,
                                                                std::int64_t before_id,
                                                                int limit) override {
    return detail::guarded([&]() -> StatusOr<std::vector<NotificationRow>> {
      SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
      return read([&](db::Database& db) -> StatusOr<std::vector<NotificationRow>> {
        std::vector<NotificationRow> out;
        db::Query q = db.query("SELECT " + std::string(kNotificationColumns) +
                                   " FROM notify_outbox WHERE customer_id = ? AND id < ? "
                                   "ORDER BY id DESC LIMIT ?",
                               customer_id, before_id, limit);
        while (const db::Statement* row = q.next()) {
          StatusOr<NotificationRow> n = read_notification(*row);
          if (!n.ok()) return n.status();
          out.push_back(std::move(*n));
        }
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return out;
      });
    });
  }

  Status add_sku_sales(std::int64_t day,
                       const std::map<std::string, std::int64_t>& units) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_sku_sales(units));
    if (units.empty()) return Status::ok();
    return detail::guarded([&]() -> Status {
      return write_tx([&](db::Database& db) -> Status {
        for (const auto& [sku, n] : units) {
          SHOPEASY_RETURN_IF_ERROR(db.run(
              "INSERT INTO sku_sales (sku, day, units) VALUES (?, ?, ?) ON CONFLICT (sku, day) "
              "DO UPDATE SET units = units + excluded.units",
              sku, day, n));
        }
        return Status::ok();
      });
    });
  }
  StatusOr<std::map<std::string, std::int64_t>> sku_popularity(std::int64_t since_day) override {
    return detail::guarded([&]() -> StatusOr<std::map<std::string, std::int64_t>> {
      return read([&](db::Database& db) -> StatusOr<std::map<std::string, std::int64_t>> {
        std::map<std::string, std::int64_t> out;
        db::Query q = db.query("SELECT sku, SUM(units) FROM sku_sales WHERE day >= ? GROUP BY sku",
                               since_day);
        while (const db::Statement* row = q.next()) out[row->column_text(0)] = row->column_int64(1);
        if (!q.status().is_ok()) return q.status();
        return out;
      });
    });
  }
  StatusOr<std::int64_t> purge_sku_sales(std::int64_t before_day) override {
    return detail::guarded([&]() -> StatusOr<std::int64_t> {
      return write_tx([&](db::Database& db) -> StatusOr<std::int64_t> {
        SHOPEASY_RETURN_IF_ERROR(db.run("DELETE FROM sku_sales WHERE day < ?", before_day));
        return db.changes();
      });
    });
  }

  StatusOr<std::optional<nlohmann::json>> notification_prefs(
      const std::string& customer_id) override {
    return detail::guarded([&]() -> StatusOr<std::optional<nlohmann::json>> {
      return read([&](db::Database& db) -> StatusOr<std::optional<nlohmann::json>> {
        StatusOr<std::optional<std::string>> text = db.query_one<std::string>(
            "SELECT prefs FROM notify_prefs WHERE customer_id = ?", customer_id);
        if (!text.ok()) return text.status();
        if (!text->has_value()) return std::optional<nlohmann::json>();
        StatusOr<nlohmann::json> prefs = detail::parse_stored_json(**text, "notification prefs");
        if (!prefs.ok()) return prefs.status();
        return std::optional<nlohmann::json>(std::move(*prefs));
      });
    });
  }

  Status put_notification_prefs(const std::string& customer_id, const nlohmann::json& prefs,
                                std::int64_t now_ms) override {
    return detail::guarded([&]() -> Status {
      return write([&](db::Database& db) -> Status {
        return db.run(
            "INSERT INTO notify_prefs (customer_id, prefs, updated_at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (customer_id) DO UPDATE SET prefs = excluded.prefs, "
            "updated_at_ms = excluded.updated_at_ms",
            customer_id, detail::dump_json(prefs), now_ms);
      });
    });
  }

 private:
  // Writes the plan's rows, borrowing each statement once for the whole batch. Returns
  // how many replica rows the plan's prunes removed.
  static StatusOr<std::int64_t> apply_plan(db::Database& db, const std::string& store_id,
                                           const detail::BatchPlan& plan, std::int64_t now_ms) {
    if (!plan.stock.empty()) {
      StatusOr<db::CachedStatement> stmt = db.cached(
          "INSERT INTO replica (store_id, sku, on_hand, reserved, version, updated_seq) "
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, sku) DO UPDATE SET "
          "on_hand = excluded.on_hand, reserved = excluded.reserved, "
          "version = excluded.version, updated_seq = excluded.updated_seq");
      if (!stmt.ok()) return stmt.status();
      for (const detail::StockUpdate& u : plan.stock) {
        SHOPEASY_RETURN_IF_ERROR(
            (*stmt)->bind_all(store_id, u.sku, u.on_hand, u.reserved, u.version, u.seq));
        SHOPEASY_RETURN_IF_ERROR((*stmt)->execute());
      }
    }
    if (!plan.purchase_orders.empty()) {
      // A replay of an older change never overwrites a newer one.
      StatusOr<db::CachedStatement> stmt = db.cached(
          "INSERT INTO store_purchase_orders (store_id, po_id, supplier_id, status, "
          "updated_at_ms, updated_seq, body) VALUES (?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (store_id, po_id) DO UPDATE SET supplier_id = excluded.supplier_id, "
          "status = excluded.status, updated_at_ms = excluded.updated_at_ms, "
          "updated_seq = excluded.updated_seq, body = excluded.body "
          "WHERE excluded.updated_seq > store_purchase_orders.updated_seq");
      if (!stmt.ok()) return stmt.status();
      for (const StorePurchaseOrder& po : plan.purchase_orders) {
        SHOPEASY_RETURN_IF_ERROR((*stmt)->bind_all(store_id, po.po_id, po.supplier_id, po.status,
                                                   po.updated_at_ms, po.updated_seq,
                                                   detail::dump_json(po.body)));
        SHOPEASY_RETURN_IF_ERROR((*stmt)->execute());
      }
    }
    if (!plan.unknown_codes.empty()) {
      StatusOr<db::CachedStatement> stmt = db.cached(
          "INSERT INTO unknown_codes (store_id, code, occurrences, last_seen_ms) "
          "VALUES (?, ?, ?, ?) ON CONFLICT (store_id, code) DO UPDATE SET "
          "occurrences = occurrences + excluded.occurrences, last_seen_ms = excluded.last_seen_ms");
      if (!stmt.ok()) return stmt.status();
      for (const auto& [code, n] : plan.unknown_codes) {
        SHOPEASY_RETURN_IF_ERROR((*stmt)->bind_all(store_id, code, n, now_ms));
        SHOPEASY_RETURN_IF_ERROR((*stmt)->execute());
      }
    }
    if (!plan.kind_counts.empty()) {
      StatusOr<db::CachedStatement> stmt = db.cached(
          "INSERT INTO change_kind_counts (store_id, kind, count) VALUES (?, ?, ?) "
          "ON CONFLICT (store_id, kind) DO UPDATE SET count = count + excluded.count");
      if (!stmt.ok()) return stmt.status();
      for (const auto& [kind, n] : plan.kind_counts) {
        SHOPEASY_RETURN_IF_ERROR((*stmt)->bind_all(store_id, kind, n));
        SHOPEASY_RETURN_IF_ERROR((*stmt)->execute());
      }
    }
    for (const QuarantinedChange& c : plan.quarantined) {
      SHOPEASY_RETURN_IF_ERROR(db.run(
          "INSERT INTO quarantine (store_id, seq, kind, body, field, reason, at_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, seq) DO NOTHING",
          store_id, c.seq, c.kind, detail::quarantine_body(c.body), c.field, c.reason, c.at_ms));
    }
    // After the stock rows: rows the same batch re-sent carry seqs past from_seq.
    std::int64_t pruned = 0;
    for (const detail::Prune& prune : plan.prunes) {
      std::vector<std::string> gone;
      {
        db::Query q =
            db.query("SELECT sku, updated_seq FROM replica WHERE store_id = ? AND updated_seq < ?",
                     store_id, prune.from_seq);
        while (const db::Statement* row = q.next()) {
          std::string sku = row->column_text(0);
          if (detail::prune_covers(prune, sku, row->column_int64(1))) {
            gone.push_back(std::move(sku));
          }
        }
        if (!q.status().is_ok()) return q.status();
      }
      for (const std::string& sku : gone) {
        SHOPEASY_RETURN_IF_ERROR(
            db.run("DELETE FROM replica WHERE store_id = ? AND sku = ?", store_id, sku));
      }
      pruned += static_cast<std::int64_t>(gone.size());
    }
    return pruned;
  }

  // fn(db) on the writer connection, outside an explicit transaction (single statements).
  template <typename Fn>
  auto write(Fn&& fn) -> decltype(fn(std::declval<db::Database&>())) {
    sync::MutexLock lock(writer_mutex_);
    return fn(writer_);
  }

  // fn(db) inside an IMMEDIATE transaction on the writer; committed when fn succeeds.
  template <typename Fn>
  auto write_tx(Fn&& fn) -> decltype(fn(std::declval<db::Database&>())) {
    sync::MutexLock lock(writer_mutex_);
    StatusOr<db::Transaction> tx = writer_.begin(db::TxMode::kImmediate);
    if (!tx.ok()) return tx.status();
    auto result = fn(writer_);
    if (!status_of(result).is_ok()) return result;
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
    return result;
  }

  // fn(db) on a reader connection (the writer for in-memory databases).
  template <typename Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<db::Database&>())) {
    if (no_readers_) {
      sync::MutexLock lock(writer_mutex_);
      return fn(writer_);
    }
    sync::MutexLock lock(readers_mutex_);
    while (idle_readers_.empty()) readers_free_.wait(readers_mutex_);
    db::Database reader = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    lock.unlock();
    // Handing the connection back must happen even if fn throws.
    struct GiveBack {
      SqliteCloudStore* self;
      db::Database* reader;
      ~GiveBack() {
        {
          sync::MutexLock relock(self->readers_mutex_);
          self->idle_readers_.push_back(std::move(*reader));
        }
        self->readers_free_.notify_one();
      }
    } give_back{this, &reader};
    return fn(reader);
  }

  // fn(db) on a reader inside one read transaction, so multi-statement reads see one
  // snapshot.
  template <typename Fn>
  auto read_tx(Fn&& fn) -> decltype(fn(std::declval<db::Database&>())) {
    return read([&](db::Database& db) -> decltype(fn(db)) {
      StatusOr<db::Transaction> tx = db.begin(db::TxMode::kDeferred);
      if (!tx.ok()) return tx.status();
      auto result = fn(db);
      if (!status_of(result).is_ok()) return result;
      // A read transaction has nothing to lose; ending it releases the WAL snapshot.
      SHOPEASY_RETURN_IF_ERROR(tx->commit());
      return result;
    });
  }

  static const Status& status_of(const Status& s) { return s; }
  template <typename T>
  static const Status& status_of(const StatusOr<T>& s) {
    return s.status();
  }

  // Guards writer_: SQLite takes one writer at a time, and the connection is not shared
  // between threads.
  sync::Mutex writer_mutex_;
  db::Database writer_ GUARDED_BY(writer_mutex_);
  // Guards the reader connections not lent out; a read waits on readers_free_ for one.
  sync::Mutex readers_mutex_;
  sync::CondVar readers_free_;
  std::vector<db::Database> idle_readers_ GUARDED_BY(readers_mutex_);
  const bool no_readers_;
};

}  // namespace

namespace {
constexpr int kWriterCacheKib = 256 * 1024;
constexpr int kReaderCacheKib = 32 * 1024;
constexpr std::int64_t kMmapBytes = std::int64_t{1} << 30;
}  // namespace

StatusOr<std::unique_ptr<CloudStore>> open_sqlite_store(const std::string& path) {
  return detail::guarded([&]() -> StatusOr<std::unique_ptr<CloudStore>> {
    db::OpenOptions writer_options;
    writer_options.synchronous = db::Synchronous::kFull;
    // A fleet's replica is millions of rows: with SQLite's 2 MB default cache most order
    // placements read their index pages from the file. Memory is cheap on the cloud.
    writer_options.cache_size_kib = kWriterCacheKib;
    writer_options.mmap_size = kMmapBytes;
    StatusOr<db::Database> writer = db::Database::open(path, writer_options);
    if (!writer.ok()) return writer.status();
    std::vector<db::Database> readers;
    if (!is_memory_path(path)) {
      db::OpenOptions reader_options;
      reader_options.create = false;
      reader_options.cache_size_kib = kReaderCacheKib;
      reader_options.mmap_size = kMmapBytes;
      for (int i = 0; i < kReaderConnections; ++i) {
        StatusOr<db::Database> reader = db::Database::open(path, reader_options);
        if (!reader.ok()) return reader.status();
        readers.push_back(std::move(*reader));
      }
    }
    return std::unique_ptr<CloudStore>(
        std::make_unique<SqliteCloudStore>(std::move(*writer), std::move(readers)));
  });
}

}  // namespace shopeasy::cloud::storage
