// OrderBook: orders at the store, from routed to delivered (see order_book.hpp). This
// file holds construction, metrics and the reads; order_intake.cpp takes orders in,
// order_picking.cpp picks and packs them, order_runner_events.cpp hands them to runners.
#include "edge/orders/order_book.hpp"

#include "common/wire/order.hpp"
#include "edge/orders/order_book_detail.hpp"

namespace shopeasy::edge::orders {

namespace {

using detail::detail_json;
using detail::name_of;
using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

}  // namespace

OrderBook::OrderBook(store::EdgeStore& store, inventory::Inventory& inventory,
                     OrderBookOptions options, const Clock& clock, log::Logger logger,
                     metrics::Registry& metrics)
    : store_(store),
      inventory_(inventory),
      options_(std::move(options)),
      clock_(clock),
      logger_(std::move(logger)),
      transitions_(metrics.counter_family("edge_order_transitions_total",
                                          "Order status changes made at this store", {"status"})),
      pick_scans_(metrics.counter_family("edge_order_pick_scans_total",
                                         "Pick scans by result (anything but ok was refused)",
                                         {"result"})),
      claims_(metrics.counter_family("edge_order_claims_total",
                                     "Picker claims and releases by result", {"result"})),
      runner_events_refused_(
          metrics.counter("edge_order_runner_events_refused_total",
                          "Runner events for an order not assigned to that runner")),
      positions_dropped_(metrics.counter("edge_order_positions_dropped_total",
                                         "Runner positions not sent on (more often than the "
                                         "per-order interval, or order not out for delivery)")) {
  for (const auto& name : wire::EnumNames<OrderStatus>::kNames) {
    const std::string status(name);
    by_status_.push_back(
        metrics.gauge_fn("edge_orders", "Orders at this store by status",
                         [this, status] {
                           auto n = store_.read([&](db::Database& db) {
                             return db.query_one<std::int64_t>(
                                 "SELECT count(*) FROM orders WHERE status = ?", status);
                           });
                           return n.ok() ? static_cast<double>(n->value_or(0)) : -1.0;
                         },
                         {{"status", status}}));
  }
}

OrderBook::~OrderBook() { by_status_.clear(); }

StatusOr<json> OrderBook::get(const std::string& order_id) {
  return store_.read([&](db::Database& db) { return detail_json(db, order_id); });
}

StatusOr<json> OrderBook::list(const std::optional<std::string>& status,
                               const std::optional<std::string>& after, int limit) {
  if (status && !wire::from_string<OrderStatus>(*status)) {
    std::string names;
    for (const auto& n : wire::EnumNames<OrderStatus>::kNames) {
      names += (names.empty() ? "" : ", ") + std::string(n);
    }
    return invalid_argument("unknown status '" + *status + "'; expected one of " + names, "status");
  }
  if (limit < 1 || limit > 500) return invalid_argument("must be between 1 and 500", "limit");
  return store_.read([&](db::Database& db) -> StatusOr<json> {
    std::optional<std::int64_t> after_ts;
    if (after) {
      auto ts = db.query_one<std::int64_t>("SELECT received_at_ms FROM orders WHERE order_id = ?",
                                           *after);
      if (!ts.ok()) return ts.status();
      if (!ts->has_value()) return invalid_argument("unknown order '" + *after + "'", "cursor");
      after_ts = **ts;
    }
    auto q = db.query(
        "SELECT o.order_id, o.status, o.reason, o.promised_at_ms, o.accept_by_ms, o.runner_id, "
        "o.eta_ms, o.received_at_ms, o.updated_at_ms, (SELECT coalesce(sum(qty), 0) FROM "
        "order_lines l WHERE l.order_id = o.order_id), (SELECT coalesce(sum(picked), 0) FROM "
        "order_lines l WHERE l.order_id = o.order_id), o.picker, o.picker_seen_at_ms FROM orders o "
        "WHERE (?1 IS NULL OR o.status = ?1) AND (?2 IS NULL OR (o.received_at_ms, o.order_id) "
        "> (?2, ?3)) ORDER BY o.received_at_ms, o.order_id LIMIT ?4",
        status, after_ts, after, limit + 1);
    json items = json::array();
    bool more = false;
    while (const db::Statement* r = q.next()) {
      if (static_cast<int>(items.size()) == limit) {
        more = true;
        break;
      }
      json item = {{"order_id", r->column_text(0)},        {"status", r->column_text(1)},
                   {"promised_at_ms", r->column_int64(3)}, {"received_at_ms", r->column_int64(7)},
                   {"updated_at_ms", r->column_int64(8)},  {"units", r->column_int64(9)},
                   {"units_picked", r->column_int64(10)}};
      if (!r->column_is_null(2)) item["reason"] = r->column_text(2);
      if (!r->column_is_null(4)) item["accept_by_ms"] = r->column_int64(4);
      if (!r->column_is_null(5)) item["runner_id"] = r->column_text(5);
      if (!r->column_is_null(6)) item["eta_ms"] = r->column_int64(6);
      if (!r->column_is_null(11)) item["picker"] = r->column_text(11);
      if (!r->column_is_null(12)) item["picker_seen_at_ms"] = r->column_int64(12);
      items.push_back(std::move(item));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    json page = {{"items", items}};
    if (more) page["next_cursor"] = items.back()["order_id"];
    return page;
  });
}

}  // namespace shopeasy::edge::orders
