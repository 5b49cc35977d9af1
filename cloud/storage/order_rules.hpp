// The backend-independent half of the order methods of CloudStore: the order state
// machine as the cloud drives it (placement with holds, payment, cancellation,
// re-routing, deadlines) and the application of a store's order events. Each backend
// implements OrderTx on its open transaction (SQLite: the IMMEDIATE writer transaction;
// PostgreSQL: a transaction whose order reads lock the row), and these functions do the
// rest, so the two backends cannot disagree on what an order may do. Internal to the
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

inline constexpr std::string_view kOrderStatusKind = "order.status";
inline constexpr std::string_view kOrderPositionKind = "order.position";
inline constexpr std::string_view kOrderLinesKind = "order.lines";
inline constexpr std::string_view kOrderIgnoredKind = "order.status.ignored";
inline constexpr std::string_view kOrderMalformedKind = "order.malformed";
inline constexpr std::size_t kMaxCandidates = 64;
// The kind of an order event carrying the runner's position (OrderEvent::kind).
inline constexpr std::string_view kOrderEventPositionKind = "position";

// The database work behind the order logic, on one open transaction.
class OrderTx {
 public:
  virtual ~OrderTx() = default;
  // The order, locked against concurrent changes until the transaction ends.
  virtual StatusOr<std::optional<OrderRecord>> load_order(const std::string& order_id) = 0;
  virtual Status insert_order(const OrderRecord& order) = 0;
  virtual Status update_order(const OrderRecord& order) = 0;
  // held += qty if on_hand - reserved - held >= qty for (store, sku); false when not.
  virtual StatusOr<bool> try_hold(const std::string& store_id, const std::string& sku,
                                  std::int64_t qty) = 0;
  // Locks the stock rows of these stores and SKUs, in (store id, SKU) byte order, before
  // a transaction that already holds other rows (an order's) releases and holds stock at
  // several stores or SKUs: taken in this one order, such transactions wait for each
  // other instead of deadlocking. A backend with a single writer has no row locks to
  // order: the default does nothing.
  virtual Status lock_stock(const std::vector<std::string>& store_ids,
                            const std::vector<std::string>& skus) {
    (void)store_ids;
    (void)skus;
    return Status::ok();
  }
  // Placement tries one candidate store at a time: begin_try marks where a try starts,
  // abandon_try undoes a failed one and gives back the row locks it took (PostgreSQL: a
  // savepoint), so a placement only has the rows of the store it is trying. A backend
  // with a single writer has no row locks: the defaults do nothing.
  virtual Status begin_try() { return Status::ok(); }
  virtual Status abandon_try() { return Status::ok(); }
  // held -= qty (never below zero).
  virtual Status release_hold(const std::string& store_id, const std::string& sku,
                              std::int64_t qty) = 0;
  // on_hand - reserved - held of (store, sku); 0 when the store never reported it.
  virtual StatusOr<std::int64_t> free_stock(const std::string& store_id,
                                            const std::string& sku) = 0;
  virtual Status append_event(const std::string& order_id, const OrderEvent& event) = 0;
  // Queues the notification rows of one order event (one per configured channel),
  // skipping any whose key is already there.
  virtual Status add_notifications(const NotificationEvent& event) = 0;
  virtual Status enqueue(const std::string& store_id, std::string_view kind,
                         const nlohmann::json& body) = 0;
  virtual StatusOr<std::optional<IdempotentReply>> find_reply(const std::string& customer_id,
                                                              const std::string& key) = 0;
  // kAlreadyExists if (customer, key) is taken.
  virtual Status insert_reply(const IdempotentReply& reply, std::int64_t now_ms) = 0;
  virtual Status count_kind(const std::string& store_id, std::string_view kind) = 0;
  // Orders of `customer_id` still waiting for payment (each holds its stock).
  virtual StatusOr<std::int64_t> unpaid_orders(const std::string& customer_id) = 0;
  // The ids of `customer_id`'s orders in byte order, each locked as load_order would.
  virtual StatusOr<std::vector<std::string>> customer_order_ids(const std::string& customer_id) = 0;
  // Deletes what is kept about `customer_id` beside the orders themselves: idempotency
  // records, notification rows and preferences, and the position events of `order_ids`.
  virtual Status erase_customer_traces(const std::string& customer_id,
                                       const std::vector<std::string>& order_ids) = 0;
};

// Checks what place_order is given: the order as wire::decode_order would accept it,
// status pending_payment without a store, 1..kMaxCandidates valid store ids, a key of
// 0..128 printable characters. kInvalidArgument naming the field.
Status validate_new_order(const NewOrder& order);

StatusOr<PlaceResult> place_order(OrderTx& tx, const NewOrder& order, std::int64_t now_ms);
StatusOr<OrderRecord> act_on_order(OrderTx& tx, const std::string& order_id,
                                   const OrderActionRequest& request, std::int64_t now_ms);
// One "order.status", "order.position" or "order.lines" change from `store_id`.
Status apply_order_change(OrderTx& tx, const std::string& store_id, const Change& change,
                          std::int64_t now_ms);
bool is_order_kind(std::string_view kind);
// The notification kind of a change into `to` from `from`; empty when customers are not
// told of it (payment pending, routing, accepted, picking, an unchanged status).
std::string_view notification_kind(wire::OrderStatus from, wire::OrderStatus to);
// What the customer is told of it: notify::notification_text.

inline constexpr std::string_view kCustomerForgetKind = "customer.forget";
// See CloudStore::forget_customer.
StatusOr<ForgetResult> forget_customer(OrderTx& tx, const std::string& customer_id,
                                       const std::string& tombstone, std::int64_t now_ms);

// The stored text form of an order record, and back (kInternal if corrupt).
std::string order_doc(const OrderRecord& order);
StatusOr<OrderRecord> parse_order_doc(std::string_view text);

}  // namespace shopeasy::cloud::storage::detail
