// Cycle counts: open (snapshot what the books say), scan (apply_scan, action count),
// close (each line's variance against on-hand at close becomes a "count" movement).
#include "edge/inventory/inventory.hpp"
#include "edge/inventory/ledger.hpp"

namespace shopeasy::edge::inventory {

using store::WriteContext;

StatusOr<nlohmann::json> Inventory::open_count(const std::optional<std::string>& bin,
                                               const std::vector<std::string>& skus,
                                               const Actor& actor) {
  if (bin.has_value() == !skus.empty()) {
    return invalid_argument("give either a bin or a list of SKUs", "bin");
  }
  if (bin) SHOPEASY_RETURN_IF_ERROR(validate_code(*bin, "bin"));
  if (skus.size() > 1000) return invalid_argument("at most 1000 SKUs per count", "skus");
  for (std::size_t i = 0; i < skus.size(); ++i) {
    SHOPEASY_RETURN_IF_ERROR(validate_code(skus[i], "skus[" + std::to_string(i) + "]"));
  }
  return store_.write([&](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    db::Database& db = ctx.db();
    if (bin) SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, *bin, "bin"));
    for (std::size_t i = 0; i < skus.size(); ++i) {
      auto p = detail::product_by_sku(db, skus[i]);
      if (!p.ok()) {
        return Status(StatusCode::kNotFound, p.status().message(),
                      "skus[" + std::to_string(i) + "]");
      }
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto n, db.query_one<std::int64_t>("SELECT count(*) FROM counts"));
    const std::string id = "count-" + std::to_string(n.value_or(0) + 1);
    nlohmann::json scope = bin ? nlohmann::json{{"bin", *bin}} : nlohmann::json{{"skus", skus}};
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT INTO counts (id, scope, status, opened_by, opened_at_ms) VALUES (?, ?, "
               "'open', ?, ?)",
               id, scope.dump(), actor.name, ctx.now_ms()));
    if (bin) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO count_lines (count_id, sku, bin, lot_id, expected) "
                 "SELECT ?, sku, bin, lot_id, on_hand FROM stock WHERE bin = ? AND on_hand <> 0",
                 id, *bin));
    } else {
      for (const auto& sku : skus) {
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO count_lines (count_id, sku, bin, lot_id, expected) "
                   "SELECT ?, sku, bin, lot_id, on_hand FROM stock WHERE sku = ? AND on_hand <> 0",
                   id, sku));
      }
    }
    SHOPEASY_RETURN_IF_ERROR(
        ctx.emit("count.opened", {{"count_id", id}, {"scope", scope}, {"actor", actor.name}})
            .status());
    return nlohmann::json{{"count_id", id}, {"status", "open"}, {"scope", scope}};
  });
}

namespace {

StatusOr<nlohmann::json> count_report(db::Database& db, const std::string& count_id) {
  auto q = db.query(
      "SELECT c.status, c.scope, c.opened_by, c.opened_at_ms, c.closed_at_ms FROM counts c "
      "WHERE c.id = ?",
      count_id);
  const db::Statement* head = q.next();
  if (!head) {
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return not_found("unknown count '" + count_id + "'");
  }
  nlohmann::json report = {{"count_id", count_id},
                           {"status", head->column_text(0)},
                           {"scope", nlohmann::json::parse(head->column_text(1), nullptr, false)},
                           {"opened_by", head->column_text(2)},
                           {"opened_at_ms", head->column_int64(3)}};
  if (!head->column_is_null(4)) report["closed_at_ms"] = head->column_int64(4);
  nlohmann::json lines = nlohmann::json::array();
  auto l = db.query(
      "SELECT cl.sku, cl.bin, lo.lot_code, lo.expiry, cl.expected, cl.counted, "
      "COALESCE(s.on_hand, 0) FROM count_lines cl JOIN lots lo ON lo.id = cl.lot_id "
      "LEFT JOIN stock s ON s.sku = cl.sku AND s.bin = cl.bin AND s.lot_id = cl.lot_id "
      "WHERE cl.count_id = ? ORDER BY cl.bin, cl.sku, lo.expiry",
      count_id);
  while (const db::Statement* row = l.next()) {
    nlohmann::json line = {{"sku", row->column_text(0)},
                           {"bin", row->column_text(1)},
                           {"expected", row->column_int64(4)},
                           {"counted", row->column_int64(5)},
                           {"on_hand", row->column_int64(6)},
                           {"variance", row->column_int64(5) - row->column_int64(6)}};
    if (!row->column_text(2).empty()) line["lot"] = row->column_text(2);
    if (!row->column_is_null(3)) line["expiry"] = row->column_text(3);
    lines.push_back(std::move(line));
  }
  SHOPEASY_RETURN_IF_ERROR(l.status());
  report["lines"] = std::move(lines);
  return report;
}

}  // namespace

StatusOr<nlohmann::json> Inventory::close_count(const std::string& count_id, const Actor& actor) {
  return store_.write([&](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    db::Database& db = ctx.db();
    SHOPEASY_ASSIGN_OR_RETURN(auto before, count_report(db, count_id));
    if (before["status"] != "open") {
      return failed_precondition("count " + count_id + " is already " +
                                 before["status"].get<std::string>());
    }
    struct Line {
      std::string sku, bin;
      std::int64_t lot_id, variance;
    };
    std::vector<Line> lines;
    {
      auto q = db.query(
          "SELECT cl.sku, cl.bin, cl.lot_id, cl.counted - COALESCE(s.on_hand, 0) "
          "FROM count_lines cl LEFT JOIN stock s ON s.sku = cl.sku AND s.bin = cl.bin AND "
          "s.lot_id = cl.lot_id WHERE cl.count_id = ?",
          count_id);
      while (const db::Statement* row = q.next()) {
        if (row->column_int64(3) != 0) {
          lines.push_back(Line{row->column_text(0), row->column_text(1), row->column_int64(2),
                               row->column_int64(3)});
        }
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    nlohmann::json report = before;
    for (const auto& line : lines) {
      SHOPEASY_RETURN_IF_ERROR(
          detail::apply_movement(ctx, store_id_, actor,
                                 detail::Movement{line.sku, line.bin, line.lot_id, line.variance, 0,
                                                  "count", count_id, std::nullopt})
              .status());
    }
    SHOPEASY_RETURN_IF_ERROR(
        db.run("UPDATE counts SET status = 'closed', closed_at_ms = ? WHERE id = ?", ctx.now_ms(),
               count_id));
    report["status"] = "closed";
    report["closed_at_ms"] = ctx.now_ms();
    report["adjustments"] = lines.size();
    SHOPEASY_RETURN_IF_ERROR(
        ctx.emit("count.closed",
                 {{"count_id", count_id}, {"adjustments", lines.size()}, {"actor", actor.name}})
            .status());
    return report;
  });
}

StatusOr<nlohmann::json> Inventory::get_count(const std::string& count_id) {
  return store_.read([&](db::Database& db) { return count_report(db, count_id); });
}

}  // namespace shopeasy::edge::inventory
