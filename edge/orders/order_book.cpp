// OrderBook: orders at the store, from routed to delivered (see order_book.hpp).
#include "edge/orders/order_book.hpp"

#include <algorithm>
#include <initializer_list>

#include "common/wire/json_fields.hpp"
#include "common/wire/order.hpp"

namespace shopeasy::edge::orders {

namespace {

using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

const inventory::Actor kCloudActor{"cloud", "sync"};

std::string name_of(OrderStatus s) { return std::string(wire::to_string(s)); }

struct OrderRow {
  std::string order_id;
  std::string customer_id;
  OrderStatus status = OrderStatus::kRouted;
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
};

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

StatusOr<std::optional<OrderRow>> find_order(db::Database& db, const std::string& id) {
  auto q = db.query(
      "SELECT order_id, customer_id, status, reason, lat, lon, promised_at_ms, accept_by_ms, "
      "total_cents, runner_id, assignment_id, eta_ms, received_at_ms, updated_at_ms "
      "FROM orders WHERE order_id = ?",
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

// What a picker should scan next: "MILK-1L x2, BREAD x1 (B-01)".
StatusOr<std::string> expected_items(db::Database& db, const std::string& order_id) {
  auto q = db.query(
      "SELECT l.sku, l.qty - l.picked, (SELECT group_concat(bin, '/') FROM (SELECT DISTINCT "
      "r.bin FROM reservations r JOIN bins b ON b.code = r.bin WHERE r.order_id = l.order_id "
      "AND r.sku = l.sku ORDER BY b.walk_order, r.bin)) FROM order_lines l WHERE l.order_id = ? "
      "AND l.state = 'open' AND l.qty > l.picked ORDER BY l.line_no",
      order_id);
  std::string out;
  while (const db::Statement* r = q.next()) {
    if (!out.empty()) out += ", ";
    out += r->column_text(0) + " x" + std::to_string(r->column_int64(1));
    if (!r->column_is_null(2)) out += " (" + r->column_text(2) + ")";
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return out.empty() ? std::string("nothing, the order is picked in full") : out;
}

// Moves the order to `to` with its history row and its order.status outbox event.
Status transition(WriteContext& ctx, OrderRow& o, OrderStatus to,
                  const std::optional<std::string>& reason, const inventory::Actor& actor,
                  std::int64_t at_ms, metrics::CounterFamily& counter,
                  json extra = json::object()) {
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
  return j;
}

// "order.lines": the lines the customer will get after a short pick (units still in the
// order only), so the cloud shows what the store will deliver.
Status emit_lines(WriteContext& ctx, const std::string& order_id) {
  auto lines = load_lines(ctx.db(), order_id);
  if (!lines.ok()) return lines.status();
  json out = json::array();
  for (const Line& l : *lines) {
    if (l.qty <= 0) continue;
    json line = {{"sku", l.sku}, {"qty", l.qty}, {"unit_price_cents", l.unit_price_cents}};
    if (l.substitute_for) line["substitute_for"] = *l.substitute_for;
    out.push_back(std::move(line));
  }
  if (out.empty()) return Status::ok();  // the order is cancelled instead
  auto seq = ctx.emit("order.lines",
                      {{"order_id", order_id}, {"lines", std::move(out)}, {"at_ms", ctx.now_ms()}});
  return seq.ok() ? Status::ok() : seq.status();
}

Status set_line_short(db::Database& db, const std::string& order_id, const Line& line) {
  // Units already picked stay in the bag; the line shrinks to them.
  return db.run("UPDATE order_lines SET state = ?, qty = picked WHERE order_id = ? AND line_no = ?",
                line.picked == 0 ? "cancelled" : "short", order_id, line.line_no);
}

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

bool OrderBook::handles(const std::string& kind) {
  return kind == "order" || kind == "order.cancel";
}

Status OrderBook::apply_downstream(WriteContext& ctx, const std::string& kind, const json& body) {
  if (kind == "order") return receive(ctx, body);
  if (kind == "order.cancel") return cancel_from_cloud(ctx, body);
  return failed_precondition("the order book does not handle '" + kind + "'");
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

StatusOr<json> OrderBook::pick(const std::string& order_id, const PickScan& scan,
                               const inventory::Actor& actor) {
  if (scan.code.empty()) return invalid_argument("must not be empty", "code");
  if (scan.qty < 1 || scan.qty > wire::kMaxLineQty) {
    return invalid_argument("must be between 1 and " + std::to_string(wire::kMaxLineQty), "qty");
  }
  std::string outcome = "ok";
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    if (scan.scan_id) {
      auto q = db.query("SELECT order_id, response FROM order_pick_scans WHERE scan_id = ?",
                        *scan.scan_id);
      if (const db::Statement* r = q.next()) {
        if (r->column_text(0) != order_id) {
          outcome = "bad_request";
          return invalid_argument("scan_id was already used for order " + r->column_text(0),
                                  "scan_id");
        }
        json first = json::parse(r->column_text(1), nullptr, false);
        first["duplicate"] = true;
        outcome = "duplicate";
        return first;
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    auto o = load_order(db, order_id);
    if (!o.ok()) {
      outcome = "unknown_order";
      return o.status();
    }
    if (Status st = require_status(*o, {OrderStatus::kAccepted, OrderStatus::kPicking}, "to pick");
        !st.is_ok()) {
      outcome = "wrong_state";
      return st;
    }
    auto expected = expected_items(db, order_id);
    if (!expected.ok()) return expected.status();
    auto product = inventory_.resolve_scan_code(db, scan.code);
    if (!product.ok()) {
      if (product.status().code() != StatusCode::kNotFound) {
        outcome = "bad_code";
        return product.status();
      }
      outcome = "wrong_item";
      return Status(StatusCode::kFailedPrecondition,
                    "wrong item: " + product.status().message() + " is not in order " + order_id +
                        "; expected " + *expected,
                    "code");
    }
    auto lines = load_lines(db, order_id);
    if (!lines.ok()) return lines.status();
    auto line = std::find_if(lines->begin(), lines->end(), [&](const Line& l) {
      return l.sku == product->sku && l.state == "open";
    });
    if (line == lines->end()) {
      outcome = "wrong_item";
      return Status(StatusCode::kFailedPrecondition,
                    "wrong item: " + product->sku + " (" + product->name + ") is not in order " +
                        order_id + "; expected " + *expected,
                    "code");
    }
    const std::int64_t units = scan.qty * product->units;
    if (units > line->remaining()) {
      outcome = "over_pick";
      return Status(StatusCode::kFailedPrecondition,
                    "too many: order " + order_id + " needs " + std::to_string(line->remaining()) +
                        " more of " + product->sku + ", this scan is " + std::to_string(units) +
                        "; expected " + *expected,
                    "qty");
    }
    auto slices = inventory_.pick_in(ctx, order_id, product->sku, units, scan.bin, actor);
    if (!slices.ok()) {
      outcome = "no_stock";
      return slices.status();
    }
    for (const auto& s : *slices) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO order_picks (order_id, sku, bin, lot_id, qty) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (order_id, sku, bin, lot_id) DO UPDATE SET qty = qty + excluded.qty",
                 order_id, product->sku, s.bin, s.lot_id, s.qty));
    }
    SHOPEASY_RETURN_IF_ERROR(
        db.run("UPDATE order_lines SET picked = picked + ? WHERE order_id = ? AND line_no = ?",
               units, order_id, line->line_no));
    if (o->status == OrderStatus::kAccepted) {
      SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, OrderStatus::kPicking, std::nullopt, actor,
                                          ctx.now_ms(), transitions_));
    }
    std::int64_t left = 0;
    for (const Line& l : *lines) left += l.remaining();
    left -= units;
    json bins = json::array();
    for (const auto& s : *slices) bins.push_back({{"bin", s.bin}, {"qty", s.qty}});
    json response = {{"order_id", order_id},
                     {"status", name_of(o->status)},
                     {"sku", product->sku},
                     {"name", product->name},
                     {"units", units},
                     {"from", std::move(bins)},
                     {"line", {{"qty", line->qty}, {"picked", line->picked + units}}},
                     {"units_left", left},
                     {"complete", left == 0}};
    if (scan.scan_id) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO order_pick_scans (scan_id, order_id, response) VALUES (?, ?, ?)",
                 *scan.scan_id, order_id, wire::dump_compact(response)));
    }
    return response;
  });
  if (!result.ok() && outcome == "ok") outcome = "error";
  pick_scans_.with({outcome}).inc();
  if (!result.ok()) {
    logger_.warn("pick_scan_refused", {{"order_id", order_id},
                                       {"code", scan.code},
                                       {"result", outcome},
                                       {"by", actor.name},
                                       {"error", result.status().message()}});
  }
  return result;
}

StatusOr<json> OrderBook::short_pick(const std::string& order_id, const ShortPick& request,
                                     const inventory::Actor& actor) {
  if (request.sku.empty()) return invalid_argument("must not be empty", "sku");
  if (request.substitute && (!request.substitute_sku || request.substitute_sku->empty())) {
    return invalid_argument("a substitution names the substitute SKU", "substitute_sku");
  }
  if (request.substitute && *request.substitute_sku == request.sku) {
    return invalid_argument("a SKU cannot substitute itself", "substitute_sku");
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    auto o = load_order(db, order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kAccepted, OrderStatus::kPicking},
                                            "to resolve a short pick"));
    auto lines = load_lines(db, order_id);
    if (!lines.ok()) return lines.status();
    auto line = std::find_if(lines->begin(), lines->end(),
                             [&](const Line& l) { return l.sku == request.sku; });
    if (line == lines->end()) {
      return Status(StatusCode::kFailedPrecondition, request.sku + " is not in order " + order_id,
                    "sku");
    }
    if (line->remaining() == 0) {
      return Status(StatusCode::kFailedPrecondition,
                    "the line of " + request.sku + " is already " +
                        (line->state == "open" ? std::string("picked in full") : line->state),
                    "sku");
    }
    const std::int64_t missing = line->remaining();

    if (request.substitute) {
      const std::string& sub = *request.substitute_sku;
      auto q = db.query(
          "SELECT s.category, s.price_cents, o.category FROM products s "
          "LEFT JOIN products o ON o.sku = ?2 WHERE s.sku = ?1 AND s.active = 1",
          sub, request.sku);
      const db::Statement* r = q.next();
      if (r == nullptr) {
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return Status(StatusCode::kNotFound, "unknown SKU '" + sub + "'", "substitute_sku");
      }
      const std::string sub_category = r->column_text(0);
      const std::int64_t sub_price = r->column_int64(1);
      const std::string category = r->column_is_null(2) ? std::string() : r->column_text(2);
      while (q.next()) {
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
      if (sub_category != category) {
        return Status(StatusCode::kFailedPrecondition,
                      sub + " is in category '" + sub_category + "', " + request.sku + " in '" +
                          category + "'; a substitute must be of the same category",
                      "substitute_sku");
      }
      if (sub_price > line->unit_price_cents) {
        return Status(StatusCode::kFailedPrecondition,
                      sub + " costs " + std::to_string(sub_price) + " cents, more than the " +
                          std::to_string(line->unit_price_cents) + " the customer pays for " +
                          request.sku,
                      "substitute_sku");
      }
      for (const Line& l : *lines) {
        if (l.sku == sub) {
          return Status(StatusCode::kFailedPrecondition,
                        sub + " is already in order " + order_id +
                            "; cancel the line instead or pick more of it",
                        "substitute_sku");
        }
      }
      Status st = inventory_.check_reservable(db, {{sub, missing}});
      if (!st.is_ok()) {
        return Status(
            st.code() == StatusCode::kNotFound ? StatusCode::kFailedPrecondition : st.code(),
            "cannot substitute: " + st.message(), "substitute_sku");
      }
      auto released = inventory_.release_in(ctx, order_id, request.sku, actor);
      if (!released.ok()) return released.status();
      auto reserved = inventory_.reserve_in(ctx, order_id, {{sub, missing}}, actor);
      if (!reserved.ok()) return reserved.status();
      SHOPEASY_RETURN_IF_ERROR(set_line_short(db, order_id, *line));
      SHOPEASY_RETURN_IF_ERROR(db.run(
          "INSERT INTO order_lines (order_id, line_no, sku, qty, original_qty, unit_price_cents, "
          "substitute_for) VALUES (?, (SELECT max(line_no) + 1 FROM order_lines WHERE order_id = "
          "?), ?, ?, ?, ?, ?)",
          order_id, order_id, sub, missing, missing, sub_price, request.sku));
      logger_.info("order_line_substituted", {{"order_id", order_id},
                                              {"sku", request.sku},
                                              {"substitute", sub},
                                              {"units", missing},
                                              {"by", actor.name}});
    } else {
      auto released = inventory_.release_in(ctx, order_id, request.sku, actor);
      if (!released.ok()) return released.status();
      SHOPEASY_RETURN_IF_ERROR(set_line_short(db, order_id, *line));
      logger_.info(
          "order_line_cancelled",
          {{"order_id", order_id}, {"sku", request.sku}, {"units", missing}, {"by", actor.name}});
      auto units = db.query_one<std::int64_t>(
          "SELECT coalesce(sum(qty), 0) FROM order_lines WHERE order_id = ?", order_id);
      if (!units.ok()) return units.status();
      if (units->value_or(0) == 0) {
        SHOPEASY_RETURN_IF_ERROR(give_back_everything(ctx, inventory_, order_id, actor));
        SHOPEASY_RETURN_IF_ERROR(transition(ctx, *o, OrderStatus::kCancelled,
                                            "out_of_stock: every line was short", actor,
                                            ctx.now_ms(), transitions_));
      }
    }
    SHOPEASY_RETURN_IF_ERROR(emit_lines(ctx, order_id));
    return detail_json(db, order_id);
  });
  return result;
}

StatusOr<json> OrderBook::pack(const std::string& order_id, const inventory::Actor& actor) {
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    auto o = load_order(db, order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kPicking}, "to be packed"));
    auto lines = load_lines(db, order_id);
    if (!lines.ok()) return lines.status();
    for (const Line& l : *lines) {
      if (l.remaining() > 0) {
        auto expected = expected_items(db, order_id);
        if (!expected.ok()) return expected.status();
        return failed_precondition("order " + order_id + " is not picked in full; still to pick: " +
                                   *expected + " (or resolve them as short)");
      }
    }
    SHOPEASY_RETURN_IF_ERROR(
        transition(ctx, *o, OrderStatus::kPacked, std::nullopt, actor, ctx.now_ms(), transitions_));
    return detail_json(db, order_id);
  });
  if (result.ok()) logger_.info("order_packed", {{"order_id", order_id}, {"by", actor.name}});
  return result;
}

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
        "order_lines l WHERE l.order_id = o.order_id) FROM orders o "
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
      items.push_back(std::move(item));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    json page = {{"items", items}};
    if (more) page["next_cursor"] = items.back()["order_id"];
    return page;
  });
}

StatusOr<json> OrderBook::picklist(const std::string& order_id) {
  return store_.read([&](db::Database& db) -> StatusOr<json> {
    auto o = load_order(db, order_id);
    if (!o.ok()) return o.status();
    auto lines = load_lines(db, order_id);
    if (!lines.ok()) return lines.status();
    json entries = json::array();
    {
      auto q = db.query(
          "SELECT r.sku, coalesce(p.name, ''), r.bin, b.zone, b.walk_order, r.lot_id, "
          "l.lot_code, l.expiry, r.qty FROM reservations r JOIN bins b ON b.code = r.bin "
          "JOIN lots l ON l.id = r.lot_id LEFT JOIN products p ON p.sku = r.sku "
          "WHERE r.order_id = ? ORDER BY b.walk_order, r.bin, l.expiry IS NULL, l.expiry, r.sku",
          order_id);
      while (const db::Statement* r = q.next()) {
        json e = {{"sku", r->column_text(0)},         {"name", r->column_text(1)},
                  {"bin", r->column_text(2)},         {"zone", r->column_text(3)},
                  {"walk_order", r->column_int64(4)}, {"qty", r->column_int64(8)}};
        if (r->column_int64(5) != 0) e["lot"] = r->column_text(6);
        if (!r->column_is_null(7)) e["expiry"] = r->column_text(7);
        entries.push_back(std::move(e));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    for (auto& e : entries) {
      json codes = json::array();
      auto q = db.query("SELECT gtin FROM barcodes WHERE sku = ? ORDER BY gtin",
                        e["sku"].get<std::string>());
      while (const db::Statement* r = q.next()) codes.push_back(r->column_text(0));
      SHOPEASY_RETURN_IF_ERROR(q.status());
      e["barcodes"] = std::move(codes);
    }
    json summary = json::array();
    std::int64_t left = 0;
    for (const Line& l : *lines) {
      summary.push_back({{"sku", l.sku},
                         {"qty", l.qty},
                         {"picked", l.picked},
                         {"remaining", l.remaining()},
                         {"state", l.state}});
      left += l.remaining();
    }
    return json{{"order_id", order_id},
                {"status", name_of(o->status)},
                {"entries", std::move(entries)},
                {"lines", std::move(summary)},
                {"units_left", left}};
  });
}

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
    std::lock_guard lock(position_mutex_);
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
    std::lock_guard lock(position_mutex_);
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
    std::lock_guard lock(position_mutex_);
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
