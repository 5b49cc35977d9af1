#include "cloud/storage/downstream_rules.hpp"

#include <algorithm>

#include "common/wire/order.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::cloud::storage::detail {

namespace {

// What a store that lost its copy must hear again, queued after everything already
// queued. The store applies each idempotently: a catalog item by version, an order it
// knows is left as it is, a cancellation of an order it never had is nothing.
StatusOr<std::int64_t> queue_replay(DownstreamTx& tx, const std::string& store_id,
                                    std::int64_t now_ms) {
  StatusOr<std::int64_t> catalog = queue_catalog(tx, store_id);
  if (!catalog.ok()) return catalog.status();
  std::int64_t queued = *catalog;
  StatusOr<std::vector<OrderRecord>> orders =
      tx.orders_for_replay(store_id, now_ms - kReplayCancelsWithinMs);
  if (!orders.ok()) return orders.status();
  for (const OrderRecord& record : *orders) {
    if (record.order.status == wire::OrderStatus::kCancelled) {
      SHOPEASY_RETURN_IF_ERROR(
          tx.enqueue(store_id, "order.cancel",
                     {{"order_id", record.order.order_id},
                      {"reason", record.reason.empty() ? "cancelled" : record.reason}}));
    } else {
      // A store takes an order only as it first arrives (routed). One it accepted before
      // the loss gets a fresh acceptance window: the customer is already waiting.
      wire::Order order = record.order;
      const bool routed = order.status == wire::OrderStatus::kRouted;
      order.status = wire::OrderStatus::kRouted;
      nlohmann::json body = wire::encode(order);
      body["accept_by_ms"] = routed
                                 ? record.accept_by_ms
                                 : std::max(record.accept_by_ms, now_ms + record.accept_window_ms);
      SHOPEASY_RETURN_IF_ERROR(tx.enqueue(store_id, "order", body));
    }
    ++queued;
  }
  return queued;
}

}  // namespace

nlohmann::json catalog_item_body(const CatalogItem& item) {
  return {{"sku", item.sku},           {"name", item.name},
          {"category", item.category}, {"price_cents", item.price_cents},
          {"unit", item.unit},         {"barcodes", item.barcodes},
          {"active", item.active},     {"version", item.version}};
}

StatusOr<std::int64_t> queue_catalog(DownstreamTx& tx, const std::string& store_id) {
  std::int64_t queued = 0;
  std::string after;
  for (;;) {
    StatusOr<std::vector<CatalogItem>> page = tx.catalog_page(after, kReplayCatalogPage);
    if (!page.ok()) return page.status();
    for (const CatalogItem& item : *page) {
      SHOPEASY_RETURN_IF_ERROR(tx.enqueue(store_id, "catalog_item", catalog_item_body(item)));
      ++queued;
    }
    if (page->size() < static_cast<std::size_t>(kReplayCatalogPage)) break;
    after = page->back().sku;
  }
  return queued;
}

StatusOr<std::int64_t> queue_initial_catalog(DownstreamTx& tx, const std::string& store_id) {
  StatusOr<std::optional<std::int64_t>> next = tx.lock_next_cursor(store_id);
  if (!next.ok()) return next.status();
  if (!next->has_value()) return Status(StatusCode::kNotFound, "no store '" + store_id + "'");
  if (**next > 1) return std::int64_t{0};
  return queue_catalog(tx, store_id);
}

StatusOr<DownstreamAlignment> align_downstream(DownstreamTx& tx, const std::string& store_id,
                                               std::int64_t store_cursor,
                                               const std::string& store_hash, std::int64_t now_ms) {
  if (store_cursor < 0) {
    return Status(StatusCode::kInvalidArgument, "a downstream cursor is never negative",
                  "downstream_cursor");
  }
  StatusOr<std::optional<std::int64_t>> next = tx.lock_next_cursor(store_id);
  if (!next.ok()) return next.status();
  if (!next->has_value()) {
    return Status(StatusCode::kNotFound, "no store '" + store_id + "'");
  }
  const std::int64_t next_cursor = **next;
  DownstreamAlignment out;
  bool reissued = false;  // this database gave the store's cursor to another item
  if (!store_hash.empty() && store_cursor > 0 && store_cursor < next_cursor) {
    StatusOr<std::optional<DownstreamItem>> mine = tx.item_at(store_id, store_cursor);
    if (!mine.ok()) return mine.status();
    reissued =
        mine->has_value() && wire::downstream_item_hash((*mine)->kind, (*mine)->body) != store_hash;
  }
  if (store_cursor < next_cursor && !reissued) {
    if (store_cursor + 1 == next_cursor) return out;  // nothing issued since
    StatusOr<std::optional<std::int64_t>> first = tx.first_item_after(store_id, store_cursor);
    if (!first.ok()) return first.status();
    if (first->has_value() && **first == store_cursor + 1) return out;  // in step
    // Items after the store's cursor were issued and trimmed: it applied them, then
    // lost them.
    out.gap = DownstreamGap::kStoreBehind;
    StatusOr<std::int64_t> queued = queue_replay(tx, store_id, now_ms);
    if (!queued.ok()) return queued.status();
    out.requeued = *queued;
  } else {
    // Ahead of what was issued here, or past a cursor issued again: what is queued
    // would be taken as applied.
    out.gap = DownstreamGap::kStoreAhead;
  }
  // Either way the queue is then renumbered to follow the store's cursor without a
  // hole, so the same cursor reported again (a lost reply) finds it in step and
  // nothing is queued twice.
  StatusOr<std::optional<std::int64_t>> lowest = tx.first_item_after(store_id, 0);
  if (!lowest.ok()) return lowest.status();
  const std::int64_t from = lowest->value_or(next_cursor);
  SHOPEASY_RETURN_IF_ERROR(tx.shift_items(store_id, store_cursor + 1 - from));
  if (out.gap == DownstreamGap::kStoreAhead) out.requeued = next_cursor - from;
  return out;
}

}  // namespace shopeasy::cloud::storage::detail
