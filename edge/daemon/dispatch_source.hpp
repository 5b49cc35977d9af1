// Connects the dispatcher to the store's order book: the dispatcher asks for packed
// orders and reports assignments, runner milestones and positions through its own small
// interface (so it builds and is tested without the order book); this adapter forwards
// each call.
#pragma once

#include "edge/dispatch/order_source.hpp"
#include "edge/orders/order_book.hpp"

namespace shopeasy::edge {

class OrderBookDispatchSource final : public dispatch::OrderSource {
 public:
  explicit OrderBookDispatchSource(orders::OrderBook& book) : book_(book) {}

  StatusOr<std::vector<dispatch::PackedOrder>> packed_awaiting_dispatch() override;
  Status mark_assigned(const std::string& order_id, const std::string& runner_id,
                       const std::string& assignment_id, std::int64_t eta_ms) override {
    return book_.mark_assigned(order_id, runner_id, assignment_id, eta_ms);
  }
  Status on_runner_event(const std::string& runner_id, wire::RunnerEventType type,
                         const std::string& order_id, std::int64_t at_ms,
                         const std::string& reason) override {
    return book_.on_runner_event(runner_id, std::string(wire::to_string(type)), order_id, at_ms,
                                 reason);
  }
  Status on_position(const std::string& order_id, const std::string& runner_id, double lat,
                     double lon, std::int64_t eta_ms, std::int64_t at_ms) override {
    return book_.on_position(order_id, runner_id, lat, lon, eta_ms, at_ms);
  }
  void unassign(const std::string& order_id) override { book_.unassign(order_id); }

 private:
  orders::OrderBook& book_;
};

}  // namespace shopeasy::edge
