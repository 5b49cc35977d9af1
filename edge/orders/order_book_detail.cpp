// Shared by the order book's parts: loading orders and lines, state checks, status
// transitions with their outbox event, giving stock back, and the detail JSON.
#include "edge/orders/order_book_detail.hpp"

#include "common/wire/json_fields.hpp"

namespace shopeasy::edge::orders::detail {

using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

StatusOr<std::optional<OrderRow>> find_order(db::Database& db, const std::string& id) {
  auto q = db.query(
      "SELECT order_id, customer_id, status, reason, lat, lon, promised_at_ms, accept_by_ms, "
      "total_cents, runner_id, assignment_id, eta_ms, received_at_ms, updated_at_ms, picker, "
      "picker_seen_at_ms, bags FROM orders WHERE order_id = ?",
      id);
  const db::Statement* r = q.next();
  if (r == nullptr) {
    if (!q.status().is_ok()) return q.status();
    return std::optional<OrderRow>();
  }
  OrderRow o;
  o.order_id = r->column_text(0);
  o.customer_id = r->column_text(1);
  auto status = wire::from_string<OrderStatus>(r->column_text(2));
  if (!status) return internal_error("order " + id + " has an unknown status " + r->column_text(2));
  o.status = *status;
  o.reason = r->column<std::optional<std::string>>(3);
  o.lat = r->column_double(4);
  o.lon = r->column_double(5);
  o.promised_at_ms = r->column_int64(6);
  o.accept_by_ms = r->column<std::optional<std::int64_t>>(7);
  o.total_cents = r->column_int64(8);
  o.runner_id = r->column<std::optional<std::string>>(9);
  o.assignment_id = r->column<std::optional<std::string>>(10);
  o.eta_ms = r->column<std::optional<std::int64_t>>(11);
  o.received_at_ms = r->column_int64(12);
  o.updated_at_ms = r->column_int64(13);
  o.picker = r->column<std::optional<std::string>>(14);
  o.picker_seen_at_ms = r->column<std::optional<std::int64_t>>(15);
  o.bags = r->column<std::optional<std::int64_t>>(16);
  while (q.next()) {
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return std::optional<OrderRow>(std::move(o));
}

StatusOr<OrderRow> load_order(db::Database& db, const std::string& id) {
  auto found = find_order(db, id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return not_found("unknown order '" + id + "'");
  return std::move(**found);
}

StatusOr<std::vector<Line>> load_lines(db::Database& db, const std::string& id) {
  std::vector<Line> lines;
  auto q = db.query(
      "SELECT line_no, sku, qty, original_qty, unit_price_cents, picked, state, substitute_for "
      "FROM order_lines WHERE order_id = ? ORDER BY line_no",
      id);
  while (const db::Statement* r = q.next()) {
    lines.push_back(Line{r->column_int64(0), r->column_text(1), r->column_int64(2),
                         r->column_int64(3), r->column_int64(4), r->column_int64(5),
                         r->column_text(6), r->column<std::optional<std::string>>(7)});
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return lines;
}

// "order o-1 is packed; to pick it must be accepted or picking"
Status require_status(const OrderRow& o, std::initializer_list<OrderStatus> allowed,
                      std::string_view doing) {
  for (OrderStatus s : allowed) {
    if (o.status == s) return Status::ok();
  }
  std::string names;
  for (OrderStatus s : allowed) {
    if (!names.empty()) names += " or ";
    names += name_of(s);
  }
  return failed_precondition("order " + o.order_id + " is " + name_of(o.status) + "; " +
                             std::string(doing) + " it must be " + names);
}

// Moves the order to `to` with its history row and its order.status outbox event.
Status transition(WriteContext& ctx, OrderRow& o, OrderStatus to,
                  const std::optional<std::string>& reason, const inventory::Actor& actor,
                  std::int64_t at_ms, metrics::CounterFamily& counter, json extra) {
  if (!wire::is_legal_transition(o.status, to)) {
    return failed_precondition("order " + o.order_id + " is " + name_of(o.status) +
                               " and cannot become " + name_of(to));
  }
  db::Database& db = ctx.db();
  SHOPEASY_RETURN_IF_ERROR(
      db.run("UPDATE orders SET status = ?, reason = ?, updated_at_ms = ? WHERE order_id = ?",
             name_of(to), reason, ctx.now_ms(), o.order_id));
  SHOPEASY_RETURN_IF_ERROR(db.run(
      "INSERT INTO order_history (order_id, status, at_ms, reason, actor) VALUES (?, ?, ?, ?, ?)",
      o.order_id, name_of(to), at_ms, reason, actor.name));
  json body = {{"order_id", o.order_id}, {"status", name_of(to)}, {"at_ms", at_ms}};
  if (reason) body["reason"] = *reason;
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  auto seq = ctx.emit("order.status", std::move(body));
  if (!seq.ok()) return seq.status();
  o.status = to;
  o.reason = reason;
  counter.with({name_of(to)}).inc();
  return Status::ok();
}

// Releases the order's reservation and puts every picked unit back where it came from.
Status give_back_everything(WriteContext& ctx, inventory::Inventory& inv,
                            const std::string& order_id, const inventory::Actor& actor) {
  auto released = inv.release_in(ctx, order_id, std::nullopt, actor);
  if (!released.ok()) return released.status();
  struct Pick {
    std::string sku;
    inventory::PickedSlice slice;
  };
  std::vector<Pick> picks;
  {
    auto q = ctx.db().query("SELECT sku, bin, lot_id, qty FROM order_picks WHERE order_id = ?",
                            order_id);
    while (const db::Statement* r = q.next()) {
      picks.push_back(
          Pick{r->column_text(0), {r->column_text(1), r->column_int64(2), r->column_int64(3)}});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  for (const auto& p : picks) {
    SHOPEASY_RETURN_IF_ERROR(inv.put_back_in(ctx, order_id, p.sku, p.slice, actor));
  }
  return ctx.db().run("DELETE FROM order_picks WHERE order_id = ?", order_id);
}

StatusOr<json> detail_json(db::Database& db, const std::string& order_id) {
  auto o = load_order(db, order_id);
  if (!o.ok()) return o.status();
  auto lines = load_lines(db, order_id);
  if (!lines.ok()) return lines.status();
  json jl = json::array();
  std::int64_t units = 0;
  std::int64_t picked = 0;
  for (const Line& l : *lines) {
    auto name = db.query_one<std::string>("SELECT name FROM products WHERE sku = ?", l.sku);
    if (!name.ok()) return name.status();
    json line = {{"line_no", l.line_no},
                 {"sku", l.sku},
                 {"name", name->value_or("")},
                 {"qty", l.qty},
                 {"original_qty", l.original_qty},
                 {"picked", l.picked},
                 {"unit_price_cents", l.unit_price_cents},
                 {"state", l.state}};
    if (l.substitute_for) line["substitute_for"] = *l.substitute_for;
    jl.push_back(std::move(line));
    units += l.qty;
    picked += l.picked;
  }
  json history = json::array();
  json timestamps = json::object();
  {
    auto q = db.query(
        "SELECT status, at_ms, reason, actor FROM order_history WHERE order_id = ? ORDER BY id",
        order_id);
    while (const db::Statement* r = q.next()) {
      json h = {{"status", r->column_text(0)}, {"at_ms", r->column_int64(1)}};
      if (!r->column_is_null(2)) h["reason"] = r->column_text(2);
      h["actor"] = r->column_text(3);
      if (!timestamps.contains(r->column_text(0))) timestamps[r->column_text(0)] = h["at_ms"];
      history.push_back(std::move(h));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  json j = {{"order_id", o->order_id},
            {"customer_id", o->customer_id},
            {"status", name_of(o->status)},
            {"delivery", {{"lat", o->lat}, {"lon", o->lon}}},
            {"promised_at_ms", o->promised_at_ms},
            {"total_cents", o->total_cents},
            {"received_at_ms", o->received_at_ms},
            {"updated_at_ms", o->updated_at_ms},
            {"units", units},
            {"units_picked", picked},
            {"lines", std::move(jl)},
            {"history", std::move(history)},
            {"timestamps", std::move(timestamps)}};
  if (o->reason) j["reason"] = *o->reason;
  if (o->accept_by_ms) j["accept_by_ms"] = *o->accept_by_ms;
  if (o->runner_id) j["runner_id"] = *o->runner_id;
  if (o->assignment_id) j["assignment_id"] = *o->assignment_id;
  if (o->eta_ms) j["eta_ms"] = *o->eta_ms;
  if (o->picker) j["picker"] = *o->picker;
  if (o->picker_seen_at_ms) j["picker_seen_at_ms"] = *o->picker_seen_at_ms;
  if (o->bags) j["bags"] = *o->bags;
  return j;
}

}  // namespace shopeasy::edge::orders::detail
