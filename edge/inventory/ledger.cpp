#include "edge/inventory/ledger.hpp"

#include "common/wire/stock_change.hpp"
#include "edge/inventory/inventory_json.hpp"

namespace shopeasy::edge::inventory::detail {

StatusOr<StockMovement> apply_movement(store::WriteContext& ctx, const std::string& store_id,
                                       const Actor& actor, const Movement& m) {
  db::Database& db = ctx.db();
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  {
    auto q = db.query(
        "INSERT INTO stock (sku, bin, lot_id, on_hand, reserved) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (sku, bin, lot_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand, "
        "reserved = reserved + excluded.reserved RETURNING on_hand, reserved",
        m.sku, m.bin, m.lot_id, m.delta, m.reserved_delta);
    const db::Statement* row = q.next();
    if (!row)
      return q.status().is_ok() ? internal_error("stock upsert returned no row") : q.status();
    on_hand = row->column_int64(0);
    reserved = row->column_int64(1);
    while (q.next()) {
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  if (on_hand < 0) {
    return failed_precondition("not enough stock of " + m.sku + " in bin " + m.bin + ": " +
                               std::to_string(on_hand - m.delta) + " on hand, " +
                               std::to_string(-m.delta) + " asked");
  }
  if (reserved < 0 || reserved > on_hand) {
    return failed_precondition("stock of " + m.sku + " in bin " + m.bin +
                               " would have more reserved (" + std::to_string(reserved) +
                               ") than on hand (" + std::to_string(on_hand) + ")");
  }
  std::int64_t sku_on_hand = 0;
  std::int64_t sku_reserved = 0;
  std::int64_t version = 0;
  {
    auto q = db.query(
        "INSERT INTO sku_totals (sku, on_hand, reserved, version) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand, "
        "reserved = reserved + excluded.reserved, version = version + 1 "
        "RETURNING on_hand, reserved, version",
        m.sku, m.delta, m.reserved_delta);
    const db::Statement* row = q.next();
    if (!row)
      return q.status().is_ok() ? internal_error("totals upsert returned no row") : q.status();
    sku_on_hand = row->column_int64(0);
    sku_reserved = row->column_int64(1);
    version = row->column_int64(2);
    while (q.next()) {
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  SHOPEASY_RETURN_IF_ERROR(db.run(
      "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reserved_delta, reason, actor, source, "
      "ref, note, on_hand_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ctx.now_ms(), m.sku, m.bin, m.lot_id, m.delta, m.reserved_delta, m.reason, actor.name,
      actor.source, m.ref, m.note, on_hand));
  const std::int64_t ledger_id = db.last_insert_rowid();

  StockMovement out;
  if (m.lot_id != kNoLot) {
    auto q = db.query("SELECT lot_code, expiry FROM lots WHERE id = ?", m.lot_id);
    if (const db::Statement* row = q.next()) {
      out.lot = row->column_text(0);
      out.expiry = row->column<std::optional<std::string>>(1);
    }
    while (q.next()) {
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  out.store_id = store_id;
  out.sku = m.sku;
  out.bin = m.bin;
  out.delta = m.delta;
  out.reserved_delta = m.reserved_delta;
  out.reason = m.reason;
  out.actor = actor.name;
  out.source = actor.source;
  out.ref = m.ref;
  out.note = m.note;
  out.ts_ms = ctx.now_ms();
  out.on_hand_after = on_hand;
  out.reserved_after = reserved;
  out.sku_on_hand = sku_on_hand;
  out.sku_reserved = sku_reserved;
  out.version = version;
  out.ledger_id = ledger_id;
  SHOPEASY_ASSIGN_OR_RETURN(out.seq, ctx.emit("stock.changed", movement_json(out)));
  return out;
}

StatusOr<std::vector<Slice>> plan_fefo(db::Database& db, const std::string& sku, std::int64_t qty,
                                       const std::optional<std::string>& bin,
                                       const std::optional<std::int64_t>& lot_id) {
  auto q = db.query(
      "SELECT s.bin, s.lot_id, l.lot_code, l.expiry, s.on_hand - s.reserved AS free "
      "FROM stock s JOIN lots l ON l.id = s.lot_id JOIN bins b ON b.code = s.bin "
      "WHERE s.sku = ?1 AND (?2 IS NULL OR s.bin = ?2) AND (?3 IS NULL OR s.lot_id = ?3) "
      "AND s.on_hand - s.reserved > 0 "
      "ORDER BY l.expiry IS NULL, l.expiry, b.walk_order, s.bin, s.lot_id",
      sku, bin, lot_id);
  std::vector<Slice> plan;
  std::int64_t remaining = qty;
  std::int64_t available = 0;
  while (const db::Statement* row = q.next()) {
    const std::int64_t free = row->column_int64(4);
    available += free;
    if (remaining <= 0) continue;
    const std::int64_t take = std::min(free, remaining);
    plan.push_back(Slice{row->column_text(0), row->column_int64(1), row->column_text(2),
                         row->column<std::optional<std::string>>(3), take});
    remaining -= take;
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  if (remaining > 0) {
    std::string where = bin ? " in bin " + *bin : "";
    return failed_precondition("not enough stock of " + sku + where + ": " +
                               std::to_string(available) + " available, " + std::to_string(qty) +
                               " asked");
  }
  return plan;
}

StatusOr<std::int64_t> lot_id_for(db::Database& db, const std::string& sku,
                                  const std::optional<std::string>& lot_code,
                                  const std::optional<std::string>& expiry, bool create) {
  if (!lot_code && !expiry) return kNoLot;
  const std::string code = lot_code ? *lot_code : "exp:" + *expiry;
  auto q = db.query("SELECT id, expiry FROM lots WHERE sku = ? AND lot_code = ?", sku, code);
  if (const db::Statement* row = q.next()) {
    const std::int64_t id = row->column_int64(0);
    const auto stored = row->column<std::optional<std::string>>(1);
    while (q.next()) {
    }
    if (expiry && stored && *stored != *expiry) {
      return conflict("lot " + code + " of " + sku + " has expiry " + *stored + ", not " + *expiry);
    }
    if (expiry && !stored) {
      SHOPEASY_RETURN_IF_ERROR(db.run("UPDATE lots SET expiry = ? WHERE id = ?", *expiry, id));
    }
    return id;
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  if (!create) return not_found("no lot " + code + " of " + sku);
  SHOPEASY_RETURN_IF_ERROR(
      db.run("INSERT INTO lots (sku, lot_code, expiry) VALUES (?, ?, ?)", sku, code, expiry));
  return db.last_insert_rowid();
}

Status require_bin(db::Database& db, const std::string& bin, const std::string& field) {
  SHOPEASY_ASSIGN_OR_RETURN(auto found,
                            db.query_one<std::int64_t>("SELECT 1 FROM bins WHERE code = ?", bin));
  if (!found.has_value()) return invalid_argument("unknown bin '" + bin + "'", field);
  return Status::ok();
}

namespace {
StatusOr<ProductRef> product_where(db::Database& db, std::string_view sql, const std::string& key,
                                   const std::string& missing) {
  auto q = db.query(sql, key);
  if (const db::Statement* row = q.next()) {
    ProductRef p{row->column_text(0), row->column_text(1),
                 row->column<std::optional<std::string>>(2)};
    while (q.next()) {
    }
    return p;
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return not_found(missing);
}
}  // namespace

StatusOr<ProductRef> product_by_sku(db::Database& db, const std::string& sku) {
  return product_where(db, "SELECT sku, name, home_bin FROM products WHERE sku = ?", sku,
                       "unknown SKU '" + sku + "'");
}

StatusOr<ProductRef> product_by_gtin(db::Database& db, const std::string& gtin14) {
  return product_where(db,
                       "SELECT p.sku, p.name, p.home_bin FROM barcodes b JOIN products p "
                       "ON p.sku = b.sku WHERE b.gtin = ?",
                       gtin14, "unknown barcode " + gtin14);
}

}  // namespace shopeasy::edge::inventory::detail
