// Dispatch and runner events: packed orders waiting for a runner, assignment and
// unassignment, the runner's pick-up, delivery and failure, and live positions.
#include "edge/orders/order_book.hpp"

#include "common/wire/order.hpp"
#include "edge/orders/order_book_detail.hpp"

namespace shopeasy::edge::orders {

namespace {

using detail::load_order;
using detail::name_of;
using detail::require_status;
using detail::transition;
using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

}  // namespace

StatusOr<std::vector<PackedOrder>> OrderBook::packed_awaiting_dispatch() {
  return store_.read([&](db::Database& db) -> StatusOr<std::vector<PackedOrder>> {
    std::vector<PackedOrder> out;
    auto q = db.query(
        "SELECT o.order_id, o.lat, o.lon, o.promised_at_ms, (SELECT min(at_ms) FROM "
        "order_history h WHERE h.order_id = o.order_id AND h.status = 'packed') AS packed_at, "
        "(SELECT coalesce(sum(picked), 0) FROM order_lines l WHERE l.order_id = o.order_id) "
        "FROM orders o WHERE o.status = 'packed' AND o.runner_id IS NULL "
        "ORDER BY packed_at, o.order_id");
    while (const db::Statement* r = q.next()) {
      out.push_back(PackedOrder{r->column_text(0), r->column_double(1), r->column_double(2),
                                r->column_int64(3), r->column_int64(4),
                                static_cast<int>(r->column_int64(5))});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  });
}

Status OrderBook::mark_assigned(const std::string& order_id, const std::string& runner_id,
                                const std::string& assignment_id, std::int64_t eta_ms) {
  if (runner_id.empty() || runner_id.size() > 64) {
    return invalid_argument("must be 1 to 64 characters", "runner_id");
  }
  if (assignment_id.empty() || assignment_id.size() > 64) {
    return invalid_argument("must be 1 to 64 characters", "assignment_id");
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    auto o = load_order(ctx.db(), order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kPacked}, "to be assigned"));
    if (o->runner_id && *o->runner_id != runner_id) {
      return failed_precondition("order " + order_id + " is already assigned to runner " +
                                 *o->runner_id);
    }
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("UPDATE orders SET runner_id = ?, assignment_id = ?, eta_ms = ?, "
                     "updated_at_ms = ? WHERE order_id = ?",
                     runner_id, assignment_id, eta_ms, ctx.now_ms(), order_id));
    auto seq = ctx.emit("order.status", {{"order_id", order_id},
                                         {"status", "packed"},
                                         {"runner_id", runner_id},
                                         {"eta_ms", eta_ms},
                                         {"at_ms", ctx.now_ms()}});
    if (!seq.ok()) return seq.status();
    return json(*seq);
  });
  if (!result.ok()) return result.status();
  logger_.info("order_assigned", {{"order_id", order_id},
                                  {"runner_id", runner_id},
                                  {"assignment_id", assignment_id},
                                  {"eta_ms", eta_ms}});
  return Status::ok();
}

Status OrderBook::on_runner_event(const std::string& runner_id, const std::string& type,
                                  const std::string& order_id, std::int64_t at_ms,
                                  const std::string& reason) {
  OrderStatus to = OrderStatus::kOutForDelivery;
  if (type == "picked_up") {
    to = OrderStatus::kOutForDelivery;
  } else if (type == "delivered") {
    to = OrderStatus::kDelivered;
  } else if (type == "failed") {
    to = OrderStatus::kFailed;
  } else {
    return Status::ok();
  }
  bool refused = false;
  const inventory::Actor actor{runner_id, "runner"};
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    auto o = load_order(ctx.db(), order_id);
    if (!o.ok()) return o.status();
    if (!o->runner_id || *o->runner_id != runner_id) {
      refused = true;
      return failed_precondition("order " + order_id + " is not assigned to runner " + runner_id);
    }
    if (o->status == to) return json(false);  // a repeated event
    const std::int64_t at = at_ms > 0 ? at_ms : ctx.now_ms();
    const json extra = {{"runner_id", runner_id}};
    if (to == OrderStatus::kDelivered && o->status == OrderStatus::kPacked) {
      // The pick-up event was lost; the hand-over proves it happened.
      SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, OrderStatus::kOutForDelivery, std::nullopt,
                                          actor, at, transitions_, extra));
    }
    std::optional<std::string> why;
    if (to == OrderStatus::kFailed) {
      why = reason.empty() ? std::string("runner_failed") : "runner_failed: " + reason;
    }
    SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, to, why, actor, at, transitions_, extra));
    return json(true);
  });
  if (!result.ok()) {
    if (refused) runner_events_refused_.inc();
    logger_.warn("runner_event_refused", {{"runner_id", runner_id},
                                          {"type", type},
                                          {"order_id", order_id},
                                          {"error", result.status().message()}});
    return result.status();
  }
  if (to != OrderStatus::kOutForDelivery) {
    shopeasy::sync::MutexLock lock(position_mutex_);
    last_position_.erase(order_id);
  }
  if (result->get<bool>()) {
    logger_.info("order_runner_event",
                 {{"order_id", order_id}, {"runner_id", runner_id}, {"status", name_of(to)}});
  }
  return Status::ok();
}

Status OrderBook::on_position(const std::string& order_id, const std::string& runner_id, double lat,
                              double lon, std::int64_t eta_ms, std::int64_t at_ms) {
  if (!(lat >= -90 && lat <= 90)) return invalid_argument("must be within [-90, 90]", "lat");
  if (!(lon >= -180 && lon <= 180)) return invalid_argument("must be within [-180, 180]", "lon");
  const MonoTime now = clock_.mono_now();
  std::optional<MonoTime> previous;
  {
    // The slot is taken before writing, so two positions at once cannot both pass.
    shopeasy::sync::MutexLock lock(position_mutex_);
    auto it = last_position_.find(order_id);
    if (it != last_position_.end()) {
      if (now - it->second < options_.position_interval) {
        positions_dropped_.inc();
        return Status::ok();
      }
      previous = it->second;
    }
    last_position_[order_id] = now;
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    auto o = load_order(ctx.db(), order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kOutForDelivery}, "to be tracked"));
    if (!o->runner_id || *o->runner_id != runner_id) {
      return failed_precondition("order " + order_id + " is not assigned to runner " + runner_id);
    }
    auto seq = ctx.emit("order.position", {{"order_id", order_id},
                                           {"runner_id", runner_id},
                                           {"lat", lat},
                                           {"lon", lon},
                                           {"eta_ms", eta_ms},
                                           {"at_ms", at_ms > 0 ? at_ms : ctx.now_ms()}});
    if (!seq.ok()) return seq.status();
    return json(*seq);
  });
  if (!result.ok()) {
    positions_dropped_.inc();
    shopeasy::sync::MutexLock lock(position_mutex_);
    if (previous) {
      last_position_[order_id] = *previous;
    } else {
      last_position_.erase(order_id);
    }
    return result.status();
  }
  return Status::ok();
}

void OrderBook::unassign(const std::string& order_id) {
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    auto o = load_order(ctx.db(), order_id);
    if (!o.ok()) return o.status();
    if (o->status != OrderStatus::kPacked || !o->runner_id) return json(false);
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("UPDATE orders SET runner_id = NULL, assignment_id = NULL, eta_ms = NULL, "
                     "updated_at_ms = ? WHERE order_id = ?",
                     ctx.now_ms(), order_id));
    // Still packed, now without a runner or ETA: the cloud stops showing the runner
    // that gave the order back (see the cloud/edge orders contract).
    auto seq = ctx.emit("order.status", {{"order_id", order_id},
                                         {"status", "packed"},
                                         {"reason", "unassigned"},
                                         {"at_ms", ctx.now_ms()}});
    if (!seq.ok()) return seq.status();
    return json(true);
  });
  if (!result.ok()) {
    logger_.warn("order_unassign_failed",
                 {{"order_id", order_id}, {"error", result.status().to_string()}});
  } else if (result->get<bool>()) {
    logger_.info("order_unassigned", {{"order_id", order_id}});
  }
}

}  // namespace shopeasy::edge::orders
