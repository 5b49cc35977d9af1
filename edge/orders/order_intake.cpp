// Order intake: orders routed here by the cloud (and cancelled by it), and the staff's
// accept or refuse decision on a routed order.
#include "edge/orders/order_book.hpp"

#include <algorithm>

#include "common/wire/json_fields.hpp"
#include "common/wire/order.hpp"
#include "edge/orders/order_book_detail.hpp"

namespace shopeasy::edge::orders {

namespace {

using detail::detail_json;
using detail::find_order;
using detail::give_back_everything;
using detail::Line;
using detail::load_lines;
using detail::load_order;
using detail::name_of;
using detail::OrderRow;
using detail::require_status;
using detail::transition;
using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

const inventory::Actor kCloudActor{"cloud", "sync"};

}  // namespace

bool OrderBook::handles(const std::string& kind) {
  return kind == "order" || kind == "order.cancel" || kind == "customer.forget";
}

Status OrderBook::apply_downstream(WriteContext& ctx, const std::string& kind, const json& body) {
  if (kind == "order") return receive(ctx, body);
  if (kind == "order.cancel") return cancel_from_cloud(ctx, body);
  if (kind == "customer.forget") return forget_customer(ctx, body);
  return failed_precondition("the order book does not handle '" + kind + "'");
}

Status OrderBook::forget_customer(WriteContext& ctx, const json& body) {
  std::string customer;
  std::string tombstone;
  {
    wire::FieldReader r(body, "");
    r.required_string("customer_id", &customer, {.max_len = 128, .non_empty = true});
    r.required_string("tombstone", &tombstone, {.max_len = 128, .non_empty = true});
    if (!r.ok()) return r.status();
  }
  if (customer == tombstone) return invalid_argument("must differ from customer_id", "tombstone");
  // The cloud keeps the orders for accounting with the delivery point coarsened to two
  // decimals (about 1 km); the store's copy follows it.
  SHOPEASY_RETURN_IF_ERROR(
      ctx.db().run("UPDATE orders SET customer_id = ?, lat = round(lat, 2), lon = round(lon, 2) "
                   "WHERE customer_id = ?",
                   tombstone, customer));
  logger_.info("customer_forgotten", {{"tombstone", tombstone}, {"orders", ctx.db().changes()}});
  return Status::ok();
}

Status OrderBook::receive(WriteContext& ctx, const json& body) {
  // Every check comes before the first change: an item that fails here is rolled back
  // by the sync client, and nothing of it may have been emitted.
  auto order = wire::decode_order(body);
  if (!order.ok()) return order.status();
  std::optional<std::int64_t> accept_by;
  {
    wire::FieldReader r(body, "");
    r.optional_int("accept_by_ms", &accept_by, wire::kMinTimestampMs, wire::kMaxInt64);
    if (!r.ok()) return r.status();
  }
  if (order->status != OrderStatus::kRouted) {
    return invalid_argument("an order sent to a store must be routed", "status");
  }
  if (order->store_id && *order->store_id != options_.store_id) {
    return failed_precondition("order " + order->order_id + " is for store " + *order->store_id +
                               ", this is " + options_.store_id);
  }
  db::Database& db = ctx.db();
  auto existing = find_order(db, order->order_id);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    logger_.info("order_repeated",
                 {{"order_id", order->order_id}, {"status", name_of((*existing)->status)}});
    return Status::ok();
  }
  // One line per SKU: reservations and scans are per SKU.
  std::vector<Line> lines;
  for (const auto& l : order->lines) {
    auto same =
        std::find_if(lines.begin(), lines.end(), [&](const Line& x) { return x.sku == l.sku; });
    if (same != lines.end()) {
      same->qty += l.qty;
      same->original_qty += l.qty;
      continue;
    }
    lines.push_back(Line{static_cast<std::int64_t>(lines.size() + 1), l.sku, l.qty, l.qty,
                         l.unit_price_cents, 0, "open", std::nullopt});
  }

  const std::int64_t now = ctx.now_ms();
  SHOPEASY_RETURN_IF_ERROR(db.run(
      "INSERT INTO orders (order_id, customer_id, status, lat, lon, promised_at_ms, "
      "accept_by_ms, total_cents, received_at_ms, updated_at_ms, body) "
      "VALUES (?, ?, 'routed', ?, ?, ?, ?, ?, ?, ?, ?)",
      order->order_id, order->customer_id, order->delivery.lat, order->delivery.lon,
      order->promised_at_ms, accept_by, order->total_cents, now, now, wire::dump_compact(body)));
  for (const Line& l : lines) {
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT INTO order_lines (order_id, line_no, sku, qty, original_qty, "
               "unit_price_cents) VALUES (?, ?, ?, ?, ?, ?)",
               order->order_id, l.line_no, l.sku, l.qty, l.original_qty, l.unit_price_cents));
  }
  SHOPEASY_RETURN_IF_ERROR(db.run(
      "INSERT INTO order_history (order_id, status, at_ms, actor) VALUES (?, 'routed', ?, ?)",
      order->order_id, now, kCloudActor.name));
  transitions_.with({"routed"}).inc();

  OrderRow row;
  row.order_id = order->order_id;
  row.status = OrderStatus::kRouted;
  if (!options_.auto_accept) {
    logger_.info("order_received", {{"order_id", row.order_id},
                                    {"lines", lines.size()},
                                    {"accept_by_ms", accept_by.value_or(0)}});
    return Status::ok();
  }
  std::optional<std::string> refusal;
  std::string detail;
  if (accept_by && now > *accept_by) {
    refusal = "refused: accept deadline passed";
  }
  for (const Line& l : lines) {
    if (refusal) break;
    Status st = inventory_.check_reservable(db, {{l.sku, l.qty}});
    if (st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kNotFound) {
      refusal = "refused: out_of_stock " + l.sku;
      detail = st.message();
    } else if (!st.is_ok()) {
      return st;
    }
  }
  if (refusal) {
    SHOPEASY_RETURN_IF_ERROR(
        transition(ctx, row, OrderStatus::kCancelled, refusal, kCloudActor, now, transitions_));
    logger_.info("order_refused",
                 {{"order_id", row.order_id}, {"reason", *refusal}, {"detail", detail}});
    return Status::ok();
  }
  std::vector<inventory::OrderLine> wanted;
  for (const Line& l : lines) wanted.push_back({l.sku, l.qty});
  auto reserved = inventory_.reserve_in(ctx, row.order_id, wanted, kCloudActor);
  if (!reserved.ok()) return reserved.status();
  SHOPEASY_RETURN_IF_ERROR(
      transition(ctx, row, OrderStatus::kAccepted, std::nullopt, kCloudActor, now, transitions_));
  logger_.info("order_accepted", {{"order_id", row.order_id}, {"lines", lines.size()}});
  return Status::ok();
}

Status OrderBook::cancel_from_cloud(WriteContext& ctx, const json& body) {
  std::string order_id;
  std::optional<std::string> reason;
  wire::FieldReader r(body, "");
  r.required_string("order_id", &order_id, wire::kIdRule);
  r.optional_string("reason", &reason, wire::kTextRule);
  if (!r.ok()) return r.status();
  auto found = find_order(ctx.db(), order_id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    // Re-routed before it ever reached this store: nothing to undo.
    logger_.info("order_cancel_unknown", {{"order_id", order_id}});
    return Status::ok();
  }
  OrderRow o = std::move(**found);
  if (o.status == OrderStatus::kCancelled) return Status::ok();
  if (!wire::is_legal_transition(o.status, OrderStatus::kCancelled)) {
    return failed_precondition("order " + order_id + " is " + name_of(o.status) +
                               " and can no longer be cancelled");
  }
  SHOPEASY_RETURN_IF_ERROR(give_back_everything(ctx, inventory_, order_id, kCloudActor));
  SHOPEASY_RETURN_IF_ERROR(transition(ctx, o, OrderStatus::kCancelled,
                                      reason.value_or("cancelled by the cloud"), kCloudActor,
                                      ctx.now_ms(), transitions_));
  logger_.info("order_cancelled", {{"order_id", order_id}, {"reason", reason.value_or("")}});
  return Status::ok();
}

StatusOr<json> OrderBook::accept(const std::string& order_id, const inventory::Actor& actor) {
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    auto o = load_order(db, order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kRouted}, "to be accepted"));
    if (o->accept_by_ms && ctx.now_ms() > *o->accept_by_ms) {
      return failed_precondition("the accept deadline of order " + order_id +
                                 " has passed; the cloud routes it elsewhere");
    }
    auto lines = load_lines(db, order_id);
    if (!lines.ok()) return lines.status();
    std::vector<inventory::OrderLine> wanted;
    for (const Line& l : *lines) {
      if (l.remaining() > 0) wanted.push_back({l.sku, l.remaining()});
    }
    Status st = inventory_.check_reservable(db, wanted);
    if (!st.is_ok()) {
      if (st.code() != StatusCode::kFailedPrecondition && st.code() != StatusCode::kNotFound) {
        return st;
      }
      return failed_precondition("cannot accept order " + order_id + ": " + st.message() +
                                 "; refuse it instead");
    }
    auto reserved = inventory_.reserve_in(ctx, order_id, wanted, actor);
    if (!reserved.ok()) return reserved.status();
    SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, OrderStatus::kAccepted, std::nullopt, actor,
                                        ctx.now_ms(), transitions_));
    return detail_json(db, order_id);
  });
  if (result.ok()) logger_.info("order_accepted", {{"order_id", order_id}, {"by", actor.name}});
  return result;
}

StatusOr<json> OrderBook::refuse(const std::string& order_id, const std::string& reason,
                                 const inventory::Actor& actor) {
  if (reason.empty() || reason.size() > 200) {
    return invalid_argument("must be 1 to 200 characters", "reason");
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    auto o = load_order(ctx.db(), order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(
        require_status(*o, {OrderStatus::kRouted, OrderStatus::kAccepted}, "to be refused"));
    SHOPEASY_RETURN_IF_ERROR(give_back_everything(ctx, inventory_, order_id, actor));
    SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, OrderStatus::kCancelled, "refused: " + reason,
                                        actor, ctx.now_ms(), transitions_));
    return detail_json(ctx.db(), order_id);
  });
  if (result.ok()) {
    logger_.info("order_refused", {{"order_id", order_id}, {"by", actor.name}, {"reason", reason}});
  }
  return result;
}

}  // namespace shopeasy::edge::orders
