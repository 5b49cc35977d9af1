// Read paths: stock lists, one SKU in full, the ledger, alerts and the event log. They
// run on the store's read connections, never blocking the writer.
#include "edge/barcode/barcode.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/inventory/ledger.hpp"

namespace shopeasy::edge::inventory {

namespace {

// Escapes LIKE wildcards so user text matches literally (ESCAPE '\').
std::string like_literal(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

int clamp_limit(int limit, int max) { return std::max(1, std::min(limit, max)); }

nlohmann::json stock_item(const db::Statement& row) {
  const std::int64_t on_hand = row.column_int64(7);
  const std::int64_t reserved = row.column_int64(8);
  const std::int64_t reorder = row.column_int64(6);
  nlohmann::json item = {{"sku", row.column_text(0)},
                         {"name", row.column_text(1)},
                         {"category", row.column_text(2)},
                         {"price_cents", row.column_int64(3)},
                         {"unit", row.column_text(4)},
                         {"reorder_point", reorder},
                         {"on_hand", on_hand},
                         {"reserved", reserved},
                         {"available", on_hand - reserved},
                         {"version", row.column_int64(9)},
                         {"low", reorder > 0 && on_hand - reserved < reorder}};
  if (!row.column_is_null(5)) item["home_bin"] = row.column_text(5);
  return item;
}

constexpr const char* kStockColumns =
    "p.sku, p.name, p.category, p.price_cents, p.unit, p.home_bin, p.reorder_point, "
    "COALESCE(t.on_hand, 0), COALESCE(t.reserved, 0), COALESCE(t.version, 0)";

}  // namespace

StatusOr<nlohmann::json> Inventory::list_stock(const StockQuery& query) {
  const int limit = clamp_limit(query.limit, 500);
  std::optional<std::string> like;
  std::optional<std::string> gtin;
  if (query.text && !query.text->empty()) {
    like = like_literal(*query.text);
    if (auto g = barcode::to_gtin14(*query.text); g.ok()) gtin = *g;
  }
  return store_.read([&](db::Database& db) -> StatusOr<nlohmann::json> {
    const std::string sql =
        std::string("SELECT ") + kStockColumns +
        " FROM products p LEFT JOIN sku_totals t ON t.sku = p.sku "
        "WHERE " +
        std::string(query.after_sku ? "p.sku > ?1" : "?1 IS NULL") +
        " AND (?2 IS NULL OR p.category = ?2) "
        "AND (?3 IS NULL OR p.sku LIKE ?3 || '%' ESCAPE '\\' "
        "OR p.name LIKE '%' || ?3 || '%' ESCAPE '\\' "
        "OR p.sku IN (SELECT sku FROM barcodes WHERE gtin = ?4)) "
        "AND (?5 IS NULL OR EXISTS (SELECT 1 FROM stock s WHERE s.sku = p.sku AND s.bin = ?5 "
        "AND s.on_hand <> 0)) "
        "AND (?6 = 0 OR (p.reorder_point > 0 AND "
        "COALESCE(t.on_hand, 0) - COALESCE(t.reserved, 0) < p.reorder_point)) "
        "ORDER BY p.sku LIMIT ?7";
    auto q = db.query(sql, query.after_sku, query.category, like, gtin, query.bin,
                      query.low_only ? 1 : 0, limit + 1);
    nlohmann::json items = nlohmann::json::array();
    std::optional<std::string> next;
    while (const db::Statement* row = q.next()) {
      if (static_cast<int>(items.size()) == limit) {
        next = items.back()["sku"].get<std::string>();
        break;
      }
      items.push_back(stock_item(*row));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    nlohmann::json page = {{"items", std::move(items)}};
    page["next_cursor"] = next ? nlohmann::json(*next) : nlohmann::json(nullptr);
    return page;
  });
}

StatusOr<nlohmann::json> Inventory::get_sku(const std::string& sku, int recent_movements) {
  SHOPEASY_RETURN_IF_ERROR(validate_code(sku, "sku"));
  return store_.read([&](db::Database& db) -> StatusOr<nlohmann::json> {
    nlohmann::json out;
    {
      auto q = db.query(std::string("SELECT ") + kStockColumns +
                            " FROM products p LEFT JOIN sku_totals t ON t.sku = p.sku "
                            "WHERE p.sku = ?",
                        sku);
      const db::Statement* row = q.next();
      if (!row) {
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return not_found("unknown SKU '" + sku + "'");
      }
      out = stock_item(*row);
    }
    nlohmann::json codes = nlohmann::json::array();
    {
      auto q = db.query("SELECT gtin FROM barcodes WHERE sku = ? ORDER BY gtin", sku);
      while (const db::Statement* row = q.next()) codes.push_back(row->column_text(0));
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    out["barcodes"] = std::move(codes);
    nlohmann::json stock = nlohmann::json::array();
    {
      auto q = db.query(
          "SELECT s.bin, l.lot_code, l.expiry, s.on_hand, s.reserved FROM stock s "
          "JOIN lots l ON l.id = s.lot_id JOIN bins b ON b.code = s.bin "
          "WHERE s.sku = ? AND (s.on_hand <> 0 OR s.reserved <> 0) "
          "ORDER BY l.expiry IS NULL, l.expiry, b.walk_order, s.bin",
          sku);
      while (const db::Statement* row = q.next()) {
        nlohmann::json part = {{"bin", row->column_text(0)},
                               {"on_hand", row->column_int64(3)},
                               {"reserved", row->column_int64(4)}};
        if (!row->column_text(1).empty()) part["lot"] = row->column_text(1);
        if (!row->column_is_null(2)) part["expiry"] = row->column_text(2);
        stock.push_back(std::move(part));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    out["stock"] = std::move(stock);
    nlohmann::json recent = nlohmann::json::array();
    {
      auto q = db.query(
          "SELECT g.id, g.ts_ms, g.bin, l.lot_code, g.delta, g.reserved_delta, g.reason, "
          "g.actor, g.source, g.ref, g.on_hand_after FROM ledger g JOIN lots l ON l.id = "
          "g.lot_id WHERE g.sku = ? ORDER BY g.id DESC LIMIT ?",
          sku, clamp_limit(recent_movements, 200));
      while (const db::Statement* row = q.next()) {
        nlohmann::json m = {{"id", row->column_int64(0)},
                            {"ts_ms", row->column_int64(1)},
                            {"bin", row->column_text(2)},
                            {"delta", row->column_int64(4)},
                            {"reserved_delta", row->column_int64(5)},
                            {"reason", row->column_text(6)},
                            {"actor", row->column_text(7)},
                            {"source", row->column_text(8)},
                            {"on_hand_after", row->column_int64(10)}};
        if (!row->column_text(3).empty()) m["lot"] = row->column_text(3);
        if (!row->column_is_null(9)) m["ref"] = row->column_text(9);
        recent.push_back(std::move(m));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    out["recent_movements"] = std::move(recent);
    return out;
  });
}

StatusOr<nlohmann::json> Inventory::ledger(const LedgerQuery& query) {
  if (query.sku) SHOPEASY_RETURN_IF_ERROR(validate_code(*query.sku, "sku"));
  const int limit = clamp_limit(query.limit, 1000);
  return store_.read([&](db::Database& db) -> StatusOr<nlohmann::json> {
    // Only the filters given go into the SQL, so SQLite can use the (sku, id) index;
    // "?1 IS NULL OR ..." terms would make it scan the whole ledger.
    std::string sql =
        "SELECT g.id, g.ts_ms, g.sku, g.bin, l.lot_code, g.delta, g.reserved_delta, g.reason, "
        "g.actor, g.source, g.ref, g.note, g.on_hand_after FROM ledger g "
        "JOIN lots l ON l.id = g.lot_id WHERE 1";
    sql += query.sku ? " AND g.sku = ?1" : " AND ?1 IS NULL";
    sql += query.since_ms ? " AND g.ts_ms >= ?2" : " AND ?2 IS NULL";
    sql += query.until_ms ? " AND g.ts_ms < ?3" : " AND ?3 IS NULL";
    sql += query.reason ? " AND g.reason = ?4" : " AND ?4 IS NULL";
    sql += query.before_id ? " AND g.id < ?5" : " AND ?5 IS NULL";
    sql += " ORDER BY g.id DESC LIMIT ?6";
    auto q = db.query(sql, query.sku, query.since_ms, query.until_ms, query.reason, query.before_id,
                      limit + 1);
    nlohmann::json rows = nlohmann::json::array();
    std::optional<std::int64_t> next;
    while (const db::Statement* row = q.next()) {
      if (static_cast<int>(rows.size()) == limit) {
        next = rows.back()["id"].get<std::int64_t>();
        break;
      }
      nlohmann::json m = {
          {"id", row->column_int64(0)},    {"ts_ms", row->column_int64(1)},
          {"sku", row->column_text(2)},    {"bin", row->column_text(3)},
          {"delta", row->column_int64(5)}, {"reserved_delta", row->column_int64(6)},
          {"reason", row->column_text(7)}, {"actor", row->column_text(8)},
          {"source", row->column_text(9)}, {"on_hand_after", row->column_int64(12)}};
      if (!row->column_text(4).empty()) m["lot"] = row->column_text(4);
      if (!row->column_is_null(10)) m["ref"] = row->column_text(10);
      if (!row->column_is_null(11)) m["note"] = row->column_text(11);
      rows.push_back(std::move(m));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    nlohmann::json page = {{"items", std::move(rows)}};
    page["next_cursor"] = next ? nlohmann::json(*next) : nlohmann::json(nullptr);
    return page;
  });
}

StatusOr<nlohmann::json> Inventory::alerts(const std::string& today, int default_expiry_days) {
  return store_.read([&](db::Database& db) -> StatusOr<nlohmann::json> {
    nlohmann::json out = nlohmann::json::array();
    {
      auto q = db.query(
          "SELECT p.sku, p.name, p.reorder_point, COALESCE(t.on_hand, 0) - "
          "COALESCE(t.reserved, 0) FROM products p LEFT JOIN sku_totals t ON t.sku = p.sku "
          "WHERE p.reorder_point > 0 AND COALESCE(t.on_hand, 0) - COALESCE(t.reserved, 0) < "
          "p.reorder_point ORDER BY p.sku");
      while (const db::Statement* row = q.next()) {
        out.push_back({{"type", "below_reorder_point"},
                       {"severity", row->column_int64(3) <= 0 ? "critical" : "warning"},
                       {"sku", row->column_text(0)},
                       {"name", row->column_text(1)},
                       {"reorder_point", row->column_int64(2)},
                       {"available", row->column_int64(3)}});
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    {
      auto q = db.query(
          "SELECT s.sku, p.name, s.bin, l.lot_code, l.expiry, s.on_hand, "
          "COALESCE(c.expiry_warn_days, ?2) FROM stock s JOIN lots l ON l.id = s.lot_id "
          "JOIN products p ON p.sku = s.sku LEFT JOIN category_settings c ON c.category = "
          "p.category WHERE s.on_hand > 0 AND l.expiry IS NOT NULL AND "
          "l.expiry <= date(?1, '+' || COALESCE(c.expiry_warn_days, ?2) || ' days') "
          "ORDER BY l.expiry, s.sku",
          today, default_expiry_days);
      while (const db::Statement* row = q.next()) {
        const std::string expiry = row->column_text(4);
        const bool expired = expiry < today;
        nlohmann::json a = {{"type", expired ? "expired_on_hand" : "expiring_soon"},
                            {"severity", expired ? "critical" : "warning"},
                            {"sku", row->column_text(0)},
                            {"name", row->column_text(1)},
                            {"bin", row->column_text(2)},
                            {"expiry", expiry},
                            {"on_hand", row->column_int64(5)},
                            {"warn_days", row->column_int64(6)}};
        if (!row->column_text(3).empty()) a["lot"] = row->column_text(3);
        out.push_back(std::move(a));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    {
      auto q = db.query(
          "SELECT sku, bin, lot_id, on_hand, reserved FROM stock WHERE on_hand < 0 OR "
          "reserved < 0 OR reserved > on_hand");
      while (const db::Statement* row = q.next()) {
        out.push_back({{"type", "impossible_stock"},
                       {"severity", "critical"},
                       {"sku", row->column_text(0)},
                       {"bin", row->column_text(1)},
                       {"on_hand", row->column_int64(3)},
                       {"reserved", row->column_int64(4)}});
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    return nlohmann::json{{"today", today}, {"alerts", std::move(out)}};
  });
}

StatusOr<std::vector<events::Event>> Inventory::events_after(std::int64_t after_seq, int limit) {
  return store_.read([&](db::Database& db) -> StatusOr<std::vector<events::Event>> {
    std::vector<events::Event> out;
    auto q = db.query(
        "SELECT seq, ts_ms, type, body FROM events WHERE seq > ? ORDER BY seq "
        "LIMIT ?",
        after_seq, clamp_limit(limit, 10000));
    while (const db::Statement* row = q.next()) {
      out.push_back(events::Event{row->column_int64(0), row->column_text(2),
                                  nlohmann::json::parse(row->column_text(3), nullptr, false),
                                  row->column_int64(1)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  });
}

}  // namespace shopeasy::edge::inventory
