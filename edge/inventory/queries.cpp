// Read paths: stock lists, one SKU in full, the ledger, alerts and the event log. They
// run on the store's read connections, never blocking the writer.
#include "edge/barcode/barcode.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/inventory/inventory_json.hpp"
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

// A row of kStockColumns.
StockLevel stock_level(const db::Statement& row) {
  StockLevel level;
  level.sku = row.column_text(0);
  level.name = row.column_text(1);
  level.category = row.column_text(2);
  level.price_cents = row.column_int64(3);
  level.unit = row.column_text(4);
  level.home_bin = row.column<std::optional<std::string>>(5);
  level.reorder_point = row.column_int64(6);
  level.on_hand = row.column_int64(7);
  level.reserved = row.column_int64(8);
  level.version = row.column_int64(9);
  return level;
}

// A lot code as shown: stock without a lot has the empty code, shown as none.
std::optional<std::string> lot_code(const db::Statement& row, int column) {
  std::string code = row.column_text(column);
  if (code.empty()) return std::nullopt;
  return code;
}

constexpr const char* kStockColumns =
    "p.sku, p.name, p.category, p.price_cents, p.unit, p.home_bin, p.reorder_point, "
    "COALESCE(t.on_hand, 0), COALESCE(t.reserved, 0), COALESCE(t.version, 0)";

}  // namespace

StatusOr<nlohmann::json> Inventory::list_stock(const StockQuery& query) {
  SHOPEASY_ASSIGN_OR_RETURN(auto page, stock_page(query));
  return stock_page_json(page);
}

StatusOr<nlohmann::json> Inventory::get_sku(const std::string& sku, int recent_movements) {
  SHOPEASY_ASSIGN_OR_RETURN(auto item, stock_item(sku, recent_movements));
  return stock_item_json(item);
}

StatusOr<nlohmann::json> Inventory::ledger(const LedgerQuery& query) {
  SHOPEASY_ASSIGN_OR_RETURN(auto page, movements(query));
  return ledger_page_json(page);
}

StatusOr<StockPage> Inventory::stock_page(const StockQuery& query) {
  const int limit = clamp_limit(query.limit, 500);
  std::optional<std::string> like;
  std::optional<std::string> gtin;
  if (query.text && !query.text->empty()) {
    like = like_literal(*query.text);
    if (auto g = barcode::to_gtin14(*query.text); g.ok()) gtin = *g;
  }
  return store_.read([&](db::Database& db) -> StatusOr<StockPage> {
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
    StockPage page;
    while (const db::Statement* row = q.next()) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_cursor = page.items.back().sku;
        break;
      }
      page.items.push_back(stock_level(*row));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return page;
  });
}

StatusOr<StockItem> Inventory::stock_item(const std::string& sku, int recent_movements) {
  SHOPEASY_RETURN_IF_ERROR(validate_code(sku, "sku"));
  return store_.read([&](db::Database& db) -> StatusOr<StockItem> {
    StockItem out;
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
      out.level = stock_level(*row);
    }
    {
      auto q = db.query("SELECT gtin FROM barcodes WHERE sku = ? ORDER BY gtin", sku);
      while (const db::Statement* row = q.next()) out.barcodes.push_back(row->column_text(0));
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    {
      auto q = db.query(
          "SELECT s.bin, l.lot_code, l.expiry, s.on_hand, s.reserved FROM stock s "
          "JOIN lots l ON l.id = s.lot_id JOIN bins b ON b.code = s.bin "
          "WHERE s.sku = ? AND (s.on_hand <> 0 OR s.reserved <> 0) "
          "ORDER BY l.expiry IS NULL, l.expiry, b.walk_order, s.bin",
          sku);
      while (const db::Statement* row = q.next()) {
        out.stock.push_back(BinStock{row->column_text(0), lot_code(*row, 1),
                                     row->column<std::optional<std::string>>(2),
                                     row->column_int64(3), row->column_int64(4)});
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    {
      auto q = db.query(
          "SELECT g.id, g.ts_ms, g.bin, l.lot_code, g.delta, g.reserved_delta, g.reason, "
          "g.actor, g.source, g.ref, g.on_hand_after FROM ledger g JOIN lots l ON l.id = "
          "g.lot_id WHERE g.sku = ? ORDER BY g.id DESC LIMIT ?",
          sku, clamp_limit(recent_movements, 200));
      while (const db::Statement* row = q.next()) {
        LedgerEntry e;
        e.id = row->column_int64(0);
        e.ts_ms = row->column_int64(1);
        e.sku = sku;
        e.bin = row->column_text(2);
        e.lot = lot_code(*row, 3);
        e.delta = row->column_int64(4);
        e.reserved_delta = row->column_int64(5);
        e.reason = row->column_text(6);
        e.actor = row->column_text(7);
        e.source = row->column_text(8);
        e.ref = row->column<std::optional<std::string>>(9);
        e.on_hand_after = row->column_int64(10);
        out.recent_movements.push_back(std::move(e));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    return out;
  });
}

StatusOr<LedgerPage> Inventory::movements(const LedgerQuery& query) {
  if (query.sku) SHOPEASY_RETURN_IF_ERROR(validate_code(*query.sku, "sku"));
  const int limit = clamp_limit(query.limit, 1000);
  return store_.read([&](db::Database& db) -> StatusOr<LedgerPage> {
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
    LedgerPage page;
    while (const db::Statement* row = q.next()) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_cursor = page.items.back().id;
        break;
      }
      LedgerEntry e;
      e.id = row->column_int64(0);
      e.ts_ms = row->column_int64(1);
      e.sku = row->column_text(2);
      e.bin = row->column_text(3);
      e.lot = lot_code(*row, 4);
      e.delta = row->column_int64(5);
      e.reserved_delta = row->column_int64(6);
      e.reason = row->column_text(7);
      e.actor = row->column_text(8);
      e.source = row->column_text(9);
      e.ref = row->column<std::optional<std::string>>(10);
      e.note = row->column<std::optional<std::string>>(11);
      e.on_hand_after = row->column_int64(12);
      page.items.push_back(std::move(e));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
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
