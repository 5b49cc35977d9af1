// PostgresCloudStore: CloudStore on a PostgreSQL server through libpq, for several
// stateless cloud instances sharing one database. A small pool of connections serves
// calls; each connection prepares the statements it uses on first use (the pool, the
// session and error classification are in postgres_session.*, the statements in
// postgres_statements.hpp, the schema and its migrations in postgres_schema.*). A connection the
// server dropped is replaced on its next use, and a call whose very first command found its pooled
// connection dead is retried on another one (nothing of it can have reached the server), so a
// server restart costs no errors once the server is back.
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

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "cloud/storage/cloud_store.hpp"
#include "cloud/storage/downstream_rules.hpp"
#include "cloud/storage/order_rules.hpp"
#include "cloud/storage/postgres_schema.hpp"
#include "cloud/storage/postgres_session.hpp"
#include "cloud/storage/postgres_statements.hpp"
#include "cloud/storage/store_rules.hpp"

namespace shopeasy::cloud::storage {
namespace {

// The store is written in terms of its libpq layer and its statements.
using namespace pg;

constexpr int kMaxPoolSize = 100;
// A placement's transaction starts with the savepoint its failed tries roll back to.
constexpr const char* kBeginPlacement = "BEGIN; SAVEPOINT placement_try";
// Runs of one call after a deadlock, serialization failure or lost connection.
constexpr int kMaxRetries = 5;

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
  record.oldest_unsynced_ms = rows.int64(r, 16);
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
                               .text(detail::order_doc(o))
                               .text(o.order.customer_id))
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
  StatusOr<std::vector<std::string>> customer_order_ids(const std::string& customer_id) override {
    StatusOr<Result> result = s_.run(kCustomerOrderIds, Params().text(customer_id));
    if (!result.ok()) return result.status();
    Rows rows(result->get());
    std::vector<std::string> ids;
    for (int r = 0; r < rows.count(); ++r) ids.push_back(rows.text(r, 0));
    return ids;
  }
  Status erase_customer_traces(const std::string& customer_id,
                               const std::vector<std::string>& order_ids) override {
    auto same = [](const std::string& v) -> std::string_view { return v; };
    SHOPEASY_RETURN_IF_ERROR(
        s_.run(kDeleteOrderPositions, Params()
                                          .text_array(order_ids, same)
                                          .text(std::string(detail::kOrderEventPositionKind)))
            .status());
    SHOPEASY_RETURN_IF_ERROR(s_.run(kDeleteCustomerReplies, Params().text(customer_id)).status());
    SHOPEASY_RETURN_IF_ERROR(
        s_.run(kDeleteCustomerNotifications, Params().text(customer_id)).status());
    return s_.run(kDeleteCustomerPrefs, Params().text(customer_id)).status();
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
    return call([&](Session& s) -> Status { return migrate_schema(s); });
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
                                    .int64(decision.resync ? 1 : 0)
                                    .int64(detail::oldest_unsynced_after(meta, plan)));
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
                                                       const std::string& after_sku, int limit,
                                                       const std::string& category) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<StoreCatalogRow>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result =
          s.run(kStoreCatalog, Params().text(store_id).text(after_sku).int64(limit).text(category));
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

  StatusOr<std::vector<StorePurchaseOrder>> purchase_orders(const std::string& store_id,
                                                            const std::string& status,
                                                            int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<StorePurchaseOrder>> {
      SHOPEASY_RETURN_IF_ERROR(require_store(s, store_id));
      StatusOr<Result> result =
          s.run(kPurchaseOrders, Params().text(store_id).text(status).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<StorePurchaseOrder> out;
      for (int r = 0; r < rows.count(); ++r) {
        SHOPEASY_ASSIGN_OR_RETURN(nlohmann::json body,
                                  detail::parse_stored_json(rows.text(r, 5), "purchase order"));
        out.push_back(StorePurchaseOrder{.po_id = rows.text(r, 0),
                                         .supplier_id = rows.text(r, 1),
                                         .status = rows.text(r, 2),
                                         .updated_at_ms = rows.int64(r, 3),
                                         .updated_seq = rows.int64(r, 4),
                                         .body = std::move(body)});
      }
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

  StatusOr<ForgetResult> forget_customer(const std::string& customer_id,
                                         const std::string& tombstone,
                                         std::int64_t now_ms) override {
    return call([&](Session& s) -> StatusOr<ForgetResult> {
      return s.transaction([&]() -> StatusOr<ForgetResult> {
        PgOrderTx tx(s, notification_channels());
        return detail::forget_customer(tx, customer_id, tombstone, now_ms);
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

  Status add_sku_sales(std::int64_t day,
                       const std::map<std::string, std::int64_t>& units) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_sku_sales(units));
    if (units.empty()) return Status::ok();
    return call([&](Session& s) -> Status {
      return s
          .run(kAddSkuSales,
               Params()
                   .int64(day)
                   .text_array(units, [](const auto& e) -> std::string_view { return e.first; })
                   .int64_array(units, [](const auto& e) { return e.second; }))
          .status();
    });
  }
  StatusOr<std::map<std::string, std::int64_t>> sku_popularity(std::int64_t since_day) override {
    return call([&](Session& s) -> StatusOr<std::map<std::string, std::int64_t>> {
      StatusOr<Result> result = s.run(kSkuPopularity, Params().int64(since_day));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::map<std::string, std::int64_t> out;
      for (int r = 0; r < rows.count(); ++r) out[rows.text(r, 0)] = rows.int64(r, 1);
      return out;
    });
  }
  StatusOr<std::int64_t> purge_sku_sales(std::int64_t before_day) override {
    return call([&](Session& s) -> StatusOr<std::int64_t> {
      StatusOr<Result> result = s.run(kPurgeSkuSales, Params().int64(before_day));
      if (!result.ok()) return result.status();
      return static_cast<std::int64_t>(std::atoll(PQcmdTuples(result->get())));
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
      for (int r = 0; r < rows.count(); ++r) out.push_back(read_price_model(rows, r));
      return out;
    });
  }

  static PriceModelRow read_price_model(const Rows& rows, int r) {
    PriceModelRow m{.sku = rows.text(r, 0),
                    .store_id = rows.text(r, 1),
                    .base_cents = rows.int64(r, 2),
                    .mrp_cents = rows.int64(r, 3),
                    .cost_cents = std::nullopt,
                    .min_margin_bp = static_cast<std::int32_t>(rows.int64(r, 5)),
                    .updated_at_ms = rows.int64(r, 6)};
    if (rows.int64(r, 4) > 0) m.cost_cents = rows.int64(r, 4);
    return m;
  }

  StatusOr<std::vector<PriceModelRow>> store_price_models(const std::string& store_id,
                                                          int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<PriceModelRow>> {
      StatusOr<Result> result = s.run(kStorePriceModels, Params().text(store_id).int64(limit));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      std::vector<PriceModelRow> out;
      for (int r = 0; r < rows.count(); ++r) out.push_back(read_price_model(rows, r));
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

  static StatusOr<std::vector<PriceChange>> read_price_changes(const Rows& rows) {
    std::vector<PriceChange> out;
    for (int r = 0; r < rows.count(); ++r) {
      SHOPEASY_ASSIGN_OR_RETURN(PriceChange c, read_price_change(rows, r));
      out.push_back(std::move(c));
    }
    return out;
  }

  StatusOr<std::vector<PriceChange>> price_history(const std::string& sku,
                                                   const std::string& store_id,
                                                   std::int64_t after_id, int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<PriceChange>> {
      StatusOr<Result> result =
          s.run(kPriceHistory, Params().int64(after_id).text(sku).text(store_id).int64(limit));
      if (!result.ok()) return result.status();
      return read_price_changes(Rows(result->get()));
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

  StatusOr<std::vector<PriceChange>> latest_price_changes(const std::string& store_id,
                                                          const std::string& kind,
                                                          int limit) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_limit(limit));
    return call([&](Session& s) -> StatusOr<std::vector<PriceChange>> {
      StatusOr<Result> result =
          s.run(kLatestPriceChanges, Params().text(store_id).text(kind).int64(limit));
      if (!result.ok()) return result.status();
      return read_price_changes(Rows(result->get()));
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

  Status put_store_lots(const StoreLots& lots) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_store_lots(lots));
    const std::string text = detail::encode_store_lots(lots.lots);
    return call([&](Session& s) -> Status {
      StatusOr<Result> result =
          s.run(kPutStoreLots, Params().text(lots.store_id).text(text).int64(lots.at_ms));
      if (!result.ok()) return result.status();
      if (std::string_view(PQcmdTuples(result->get())) == "0") return unknown_store(lots.store_id);
      return Status::ok();
    });
  }

  StatusOr<std::optional<StoreLots>> store_lots(const std::string& store_id) override {
    return call([&](Session& s) -> StatusOr<std::optional<StoreLots>> {
      StatusOr<Result> result = s.run(kStoreLots, Params().text(store_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<StoreLots>();
      SHOPEASY_ASSIGN_OR_RETURN(std::vector<wire::NearExpiryLot> lots,
                                detail::decode_store_lots(rows.text(0, 0)));
      return std::optional<StoreLots>(
          StoreLots{.store_id = store_id, .lots = std::move(lots), .at_ms = rows.int64(0, 1)});
    });
  }

  Status put_store_cover(const StoreCover& cover) override {
    SHOPEASY_RETURN_IF_ERROR(detail::validate_store_cover(cover));
    const std::string text = detail::encode_store_cover(cover.cover);
    return call([&](Session& s) -> Status {
      StatusOr<Result> result =
          s.run(kPutStoreCover, Params().text(cover.store_id).text(text).int64(cover.at_ms));
      if (!result.ok()) return result.status();
      if (std::string_view(PQcmdTuples(result->get())) == "0") return unknown_store(cover.store_id);
      return Status::ok();
    });
  }

  StatusOr<std::optional<StoreCover>> store_cover(const std::string& store_id) override {
    return call([&](Session& s) -> StatusOr<std::optional<StoreCover>> {
      StatusOr<Result> result = s.run(kStoreCover, Params().text(store_id));
      if (!result.ok()) return result.status();
      Rows rows(result->get());
      if (rows.count() == 0) return std::optional<StoreCover>();
      SHOPEASY_ASSIGN_OR_RETURN(std::vector<wire::StockCover> cover,
                                detail::decode_store_cover(rows.text(0, 0)));
      return std::optional<StoreCover>(
          StoreCover{.store_id = store_id, .cover = std::move(cover), .at_ms = rows.int64(0, 1)});
    });
  }

  // A quote id is new: a repeat after a lost COMMIT would fail on the key, so not repeated.
  // As on SQLite, a quote's commit does not wait for the server's disk
  // (synchronous_commit off for this transaction only): a crash of the server may lose
  // the last quotes, which the app asks for again, never anything else.
  Status put_quote(const StoredQuote& quote) override {
    return call(
        [&](Session& s) -> Status {
          return s.transaction(
              [&]() -> Status {
                StatusOr<Result> result = s.run(kPutQuote, Params()
                                                               .text(quote.quote_id)
                                                               .int64(quote.created_at_ms)
                                                               .int64(quote.expires_at_ms)
                                                               .text(quote.body.dump()));
                return result.ok() ? Status::ok() : result.status();
              },
              "BEGIN; SET LOCAL synchronous_commit = off");
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
    for (const StorePurchaseOrder& po : plan.purchase_orders) {
      SHOPEASY_RETURN_IF_ERROR(s.run(kApplyPurchaseOrder, Params()
                                                              .text(store_id)
                                                              .text(po.po_id)
                                                              .text(po.supplier_id)
                                                              .text(po.status)
                                                              .int64(po.updated_at_ms)
                                                              .int64(po.updated_seq)
                                                              .text(detail::dump_json(po.body)))
                                   .status());
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
