// The order book's private helpers, shared by its source files (order_book.cpp,
// order_intake.cpp, order_picking.cpp, order_runner_events.cpp). Not part of the
// module's interface: nothing outside edge/orders includes this.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/wire/order.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::orders::detail {

inline std::string name_of(wire::OrderStatus s) { return std::string(wire::to_string(s)); }

// One row of the orders table.
struct OrderRow {
  std::string order_id;
  std::string customer_id;
  wire::OrderStatus status = wire::OrderStatus::kRouted;
  std::optional<std::string> reason;
  double lat = 0;
  double lon = 0;
  std::int64_t promised_at_ms = 0;
  std::optional<std::int64_t> accept_by_ms;
  std::int64_t total_cents = 0;
  std::optional<std::string> runner_id;
  std::optional<std::string> assignment_id;
  std::optional<std::int64_t> eta_ms;
  std::int64_t received_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::string> picker;  // who holds the pick (see OrderBook::claim)
  std::optional<std::int64_t> picker_seen_at_ms;
  std::optional<std::int64_t> bags;  // given at packing
};

// One line of an order: one per SKU, since reservations and scans are per SKU.
struct Line {
  std::int64_t line_no = 0;
  std::string sku;
  std::int64_t qty = 0;
  std::int64_t original_qty = 0;
  std::int64_t unit_price_cents = 0;
  std::int64_t picked = 0;
  std::string state;
  std::optional<std::string> substitute_for;
  std::int64_t remaining() const { return state == "open" ? qty - picked : 0; }
};

// The order, or nullopt when there is none.
StatusOr<std::optional<OrderRow>> find_order(db::Database& db, const std::string& id);
// The order; kNotFound when there is none.
StatusOr<OrderRow> load_order(db::Database& db, const std::string& id);
// The order's lines by line number.
StatusOr<std::vector<Line>> load_lines(db::Database& db, const std::string& id);

// "order o-1 is packed; to pick it must be accepted or picking"
Status require_status(const OrderRow& o, std::initializer_list<wire::OrderStatus> allowed,
                      std::string_view doing);

// Moves the order to `to` with its history row and its order.status outbox event.
Status transition(store::WriteContext& ctx, OrderRow& o, wire::OrderStatus to,
                  const std::optional<std::string>& reason, const inventory::Actor& actor,
                  std::int64_t at_ms, metrics::CounterFamily& counter,
                  nlohmann::json extra = nlohmann::json::object());

// Releases the order's reservation and puts every picked unit back where it came from.
Status give_back_everything(store::WriteContext& ctx, inventory::Inventory& inv,
                            const std::string& order_id, const inventory::Actor& actor);

// GET /api/orders/{id}: the order with its lines, history and first time in each status.
StatusOr<nlohmann::json> detail_json(db::Database& db, const std::string& order_id);

}  // namespace shopeasy::edge::orders::detail
