// The backend-independent half of CloudStore::align_downstream: how a store's reported
// downstream cursor is checked against the queue, and what is queued again when the two
// no longer line up (one side restored from a backup). Each backend implements
// DownstreamTx on one open transaction that holds the store's row. Internal to the
// storage module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::storage::detail {

// Cancelled orders this recent are told to a store that fell behind the queue again: it
// may still hold them open from before the cancellation.
inline constexpr std::int64_t kReplayCancelsWithinMs = 7LL * 24 * 3600 * 1000;
inline constexpr int kReplayCatalogPage = 1000;

// The database work behind align_downstream, on one open transaction.
class DownstreamTx {
 public:
  virtual ~DownstreamTx() = default;
  // The store's next cursor, its row locked until the transaction ends; nullopt for an
  // unknown store.
  virtual StatusOr<std::optional<std::int64_t>> lock_next_cursor(const std::string& store_id) = 0;
  // The lowest queued cursor above `after` (nullopt when none is queued).
  virtual StatusOr<std::optional<std::int64_t>> first_item_after(const std::string& store_id,
                                                                 std::int64_t after) = 0;
  // The queued item at `cursor` (nullopt when none is).
  virtual StatusOr<std::optional<DownstreamItem>> item_at(const std::string& store_id,
                                                          std::int64_t cursor) = 0;
  // Adds `by` to the cursor of every queued item of the store and to its next cursor.
  virtual Status shift_items(const std::string& store_id, std::int64_t by) = 0;
  // Catalog items with sku > after_sku in SKU order, inactive ones included.
  virtual StatusOr<std::vector<CatalogItem>> catalog_page(const std::string& after_sku,
                                                          int limit) = 0;
  // The store's orders that are at the store (routed to picked-up) or were cancelled at
  // or after `cancelled_since_ms`.
  virtual StatusOr<std::vector<OrderRecord>> orders_for_replay(const std::string& store_id,
                                                               std::int64_t cancelled_since_ms) = 0;
  virtual Status enqueue(const std::string& store_id, std::string_view kind,
                         const nlohmann::json& body) = 0;
};

// The body of a "catalog_item" downstream item.
nlohmann::json catalog_item_body(const CatalogItem& item);

// Queues every catalog item for the store; the number queued.
StatusOr<std::int64_t> queue_catalog(DownstreamTx& tx, const std::string& store_id);

// CloudStore::queue_initial_catalog: the catalog, unless the store's queue ever issued
// a cursor.
StatusOr<std::int64_t> queue_initial_catalog(DownstreamTx& tx, const std::string& store_id);

// Compares the cursor a store reports (the last item it applied) with the queue and
// repairs what does not line up:
// - The store is behind what was trimmed (the item after its cursor was issued and is
//   gone): it was restored from a backup or started on a new disk, and lost items it
//   had applied. Its whole catalog, every order at it and its recent cancellations are
//   queued again; the store applies them idempotently.
// - The store is ahead of every cursor this queue issued, or the item queued at its
//   cursor is not the one it applied (`store_hash`): the cloud was restored from a
//   backup and hands out cursors the store takes as already applied. Every queued item
//   (and the next cursor) moves past the store's cursor.
StatusOr<DownstreamAlignment> align_downstream(DownstreamTx& tx, const std::string& store_id,
                                               std::int64_t store_cursor,
                                               const std::string& store_hash, std::int64_t now_ms);

}  // namespace shopeasy::cloud::storage::detail
