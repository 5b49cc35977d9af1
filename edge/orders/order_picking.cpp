// Picking and packing: the pick list, pick scans checked against the order, short picks
// resolved by a substitute or by dropping the line, and packing.
#include "edge/orders/order_book.hpp"

#include <algorithm>

#include "common/wire/json_fields.hpp"
#include "common/wire/order.hpp"
#include "edge/orders/order_book_detail.hpp"

namespace shopeasy::edge::orders {

namespace {

using detail::detail_json;
using detail::give_back_everything;
using detail::Line;
using detail::load_lines;
using detail::load_order;
using detail::name_of;
using detail::require_status;
using detail::transition;
using nlohmann::json;
using store::WriteContext;
using wire::OrderStatus;

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

StatusOr<json> OrderBook::pick(const std::string& order_id, const PickScan& scan,
                               const inventory::Actor& actor, ClaimGuard guard) {
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
    if (Status st = hold_claim(ctx, order_id, o->picker, o->picker_seen_at_ms, actor, guard);
        !st.is_ok()) {
      outcome = kClaimedByOther;
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
                                     const inventory::Actor& actor, ClaimGuard guard) {
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
    SHOPEASY_RETURN_IF_ERROR(
        hold_claim(ctx, order_id, o->picker, o->picker_seen_at_ms, actor, guard));
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

StatusOr<json> OrderBook::pack(const std::string& order_id, const inventory::Actor& actor,
                               std::optional<std::int64_t> bags, ClaimGuard guard) {
  if (bags && (*bags < 1 || *bags > kMaxBags)) {
    return invalid_argument("must be between 1 and " + std::to_string(kMaxBags), "bags");
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    auto o = load_order(db, order_id);
    if (!o.ok()) return o.status();
    SHOPEASY_RETURN_IF_ERROR(require_status(*o, {OrderStatus::kPicking}, "to be packed"));
    SHOPEASY_RETURN_IF_ERROR(
        hold_claim(ctx, order_id, o->picker, o->picker_seen_at_ms, actor, guard));
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
    if (bags) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("UPDATE orders SET bags = ? WHERE order_id = ?", *bags, order_id));
    }
    SHOPEASY_RETURN_IF_ERROR(
        transition(ctx, *o, OrderStatus::kPacked, std::nullopt, actor, ctx.now_ms(), transitions_));
    return detail_json(db, order_id);
  });
  if (result.ok()) {
    logger_.info("order_packed",
                 {{"order_id", order_id}, {"by", actor.name}, {"bags", bags.value_or(0)}});
  }
  return result;
}

StatusOr<json> OrderBook::claim(const std::string& order_id, const inventory::Actor& actor,
                                bool take_over, std::optional<ClaimHolder>* held_by) {
  return set_picker(order_id, actor, take_over, /*claiming=*/true, held_by);
}

StatusOr<json> OrderBook::release(const std::string& order_id, const inventory::Actor& actor,
                                  bool take_over, std::optional<ClaimHolder>* held_by) {
  return set_picker(order_id, actor, take_over, /*claiming=*/false, held_by);
}

StatusOr<json> OrderBook::set_picker(const std::string& order_id, const inventory::Actor& actor,
                                     bool take_over, bool claiming,
                                     std::optional<ClaimHolder>* held_by) {
  if (held_by != nullptr) held_by->reset();
  if (actor.name.empty()) return invalid_argument("a claim needs a named picker", "picker");
  const std::int64_t timeout_ms = options_.claim_timeout.count();
  std::string outcome;
  std::optional<std::string> previous;
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<json> {
    db::Database& db = ctx.db();
    auto o = load_order(db, order_id);
    if (!o.ok()) {
      outcome = "unknown_order";
      return o.status();
    }
    if (claiming) {
      if (Status st =
              require_status(*o, {OrderStatus::kAccepted, OrderStatus::kPicking}, "to be claimed");
          !st.is_ok()) {
        outcome = "wrong_state";
        return st;
      }
    }
    const std::int64_t now = ctx.now_ms();
    const bool held_by_other = o->picker && *o->picker != actor.name;
    const std::int64_t seen = o->picker_seen_at_ms.value_or(0);
    const bool stale = now - seen >= timeout_ms;
    if (held_by_other && !stale && !take_over) {
      outcome = kClaimedByOther;
      if (held_by != nullptr) *held_by = ClaimHolder{*o->picker, seen, seen + timeout_ms};
      return Status(StatusCode::kFailedPrecondition,
                    "order " + order_id + " is being picked by " + *o->picker +
                        " (claim lapses unless they are seen within " +
                        std::to_string((seen + timeout_ms - now + 999) / 1000) + " s)",
                    "picker");
    }
    previous = o->picker;
    if (claiming) {
      outcome = !o->picker       ? "claimed"
                : !held_by_other ? "renewed"
                : stale          ? "stale_taken"
                                 : "taken_over";
      SHOPEASY_RETURN_IF_ERROR(
          db.run("UPDATE orders SET picker = ?, picker_seen_at_ms = ? WHERE order_id = ?",
                 actor.name, now, order_id));
    } else {
      outcome = !o->picker ? "not_claimed" : "released";
      SHOPEASY_RETURN_IF_ERROR(
          db.run("UPDATE orders SET picker = NULL, picker_seen_at_ms = NULL WHERE order_id = ?",
                 order_id));
    }
    if (outcome != "renewed" && outcome != "not_claimed") {
      ctx.publish_local("order.claim", {{"order_id", order_id},
                                        {"picker", claiming ? json(actor.name) : json(nullptr)},
                                        {"result", outcome}});
    }
    return detail_json(db, order_id);
  });
  // A write that failed after the decision (the commit) is an error, whatever was decided.
  if (outcome.empty() || (!result.ok() && outcome != kClaimedByOther &&
                          outcome != "unknown_order" && outcome != "wrong_state")) {
    outcome = "error";
  }
  claims_.with({outcome}).inc();
  if (outcome == "stale_taken" || outcome == "taken_over" ||
      (outcome == "released" && previous && *previous != actor.name)) {
    logger_.info("order_claim_taken", {{"order_id", order_id},
                                       {"from", previous.value_or("")},
                                       {"by", actor.name},
                                       {"result", outcome}});
  } else if (!result.ok() && outcome != kClaimedByOther) {
    logger_.warn("order_claim_refused", {{"order_id", order_id},
                                         {"by", actor.name},
                                         {"result", outcome},
                                         {"error", result.status().message()}});
  }
  return result;
}

Status OrderBook::hold_claim(WriteContext& ctx, const std::string& order_id,
                             const std::optional<std::string>& picker,
                             std::optional<std::int64_t> picker_seen_at_ms,
                             const inventory::Actor& actor, const ClaimGuard& guard) {
  if (guard.held_by != nullptr) guard.held_by->reset();
  const std::int64_t now = ctx.now_ms();
  const std::int64_t timeout_ms = options_.claim_timeout.count();
  const std::int64_t seen = picker_seen_at_ms.value_or(0);
  const bool held_by_other = picker && *picker != actor.name;
  const bool stale = now - seen >= timeout_ms;
  if (held_by_other && !stale && !guard.may_override) {
    if (guard.held_by != nullptr) *guard.held_by = ClaimHolder{*picker, seen, seen + timeout_ms};
    claims_.with({"refused_change"}).inc();
    logger_.warn("order_change_refused_claimed",
                 {{"order_id", order_id}, {"by", actor.name}, {"picker", *picker}});
    return Status(StatusCode::kFailedPrecondition,
                  "order " + order_id + " is being picked by " + *picker +
                      " (claim lapses unless they are seen within " +
                      std::to_string((seen + timeout_ms - now + 999) / 1000) + " s)",
                  "picker");
  }
  // A manager finishing someone's order leaves the claim where it is; anyone else now
  // holds it (an unclaimed or stale order is claimed, the holder's own claim renewed).
  if (held_by_other && !stale) return Status::ok();
  if (actor.name.empty()) return Status::ok();
  SHOPEASY_RETURN_IF_ERROR(
      ctx.db().run("UPDATE orders SET picker = ?, picker_seen_at_ms = ? WHERE order_id = ?",
                   actor.name, now, order_id));
  if (!picker || *picker != actor.name) {
    ctx.publish_local("order.claim",
                      {{"order_id", order_id}, {"picker", actor.name}, {"result", "claimed"}});
  }
  return Status::ok();
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

}  // namespace shopeasy::edge::orders
