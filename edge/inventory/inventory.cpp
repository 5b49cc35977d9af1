#include "edge/inventory/inventory.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/wire/json_fields.hpp"
#include "edge/barcode/barcode.hpp"
#include "edge/inventory/inventory_json.hpp"
#include "edge/inventory/ledger.hpp"

namespace shopeasy::edge::inventory {

using detail::Movement;
using store::WriteContext;

Status validate_code(std::string_view value, std::string_view field) {
  if (value.empty() || value.size() > 64) {
    return invalid_argument("must be 1 to 64 characters", std::string(field));
  }
  for (char c : value) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return invalid_argument("may contain only letters, digits, '.', '_' and '-'",
                              std::string(field));
    }
  }
  return Status::ok();
}

namespace {

// Reasons a person may give for a manual change, mapped to ledger reasons.
bool is_manual_reason(std::string_view r) {
  return r == "adjust" || r == "damage" || r == "expire" || r == "return" || r == "count";
}

struct Resolved {
  detail::ProductRef product;
  std::optional<std::string> lot;
  std::optional<std::string> expiry;
  std::int64_t unit_multiplier = 1;  // a GS1 case label's count of trade items
  std::string symbology;
};

// kNotFound means exactly "this code names no product in the catalog" (whatever the
// code's text says), kInvalidArgument a malformed code; callers branch on the code.
StatusOr<Resolved> resolve_code(db::Database& db, std::string_view code) {
  SHOPEASY_ASSIGN_OR_RETURN(auto parsed, barcode::parse_scan(code));
  Resolved r;
  r.symbology = std::string(barcode::symbology_name(parsed.symbology));
  if (!parsed.gtin14.empty()) {
    SHOPEASY_ASSIGN_OR_RETURN(auto p, detail::product_by_gtin(db, parsed.gtin14));
    r.product = std::move(p);
  } else if (!parsed.raw.empty()) {
    // Plain Code 128 labels carry the store's own SKU.
    auto p = detail::product_by_sku(db, parsed.raw);
    if (!p.ok()) return not_found("unknown code '" + parsed.raw + "'");
    r.product = std::move(*p);
  } else {
    return invalid_argument("the GS1 code carries no product number (AI 01 or 02)", "code");
  }
  r.lot = parsed.lot;
  r.expiry = parsed.expiry;
  if (parsed.count) r.unit_multiplier = std::max<std::int64_t>(1, *parsed.count);
  return r;
}

StatusOr<std::string> bin_or_home(db::Database& db, const std::optional<std::string>& bin,
                                  const detail::ProductRef& product, const std::string& field) {
  std::string chosen;
  if (bin) {
    chosen = *bin;
  } else if (product.home_bin) {
    chosen = *product.home_bin;
  } else {
    return invalid_argument(product.sku + " has no home bin; give a bin", field);
  }
  SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, chosen, field));
  return chosen;
}

// Takes `qty` out of an order's reservations of `sku`, earliest expiry first.
StatusOr<std::int64_t> pick_reserved(WriteContext& ctx, const std::string& store_id,
                                     const Actor& actor, const std::string& order_id,
                                     const std::string& sku, std::int64_t qty,
                                     std::vector<StockMovement>& movements) {
  struct Row {
    std::string bin;
    std::int64_t lot_id;
    std::int64_t qty;
  };
  std::vector<Row> rows;
  {
    auto q = ctx.db().query(
        "SELECT r.bin, r.lot_id, r.qty FROM reservations r JOIN lots l ON l.id = r.lot_id "
        "WHERE r.order_id = ? AND r.sku = ? ORDER BY l.expiry IS NULL, l.expiry, r.bin",
        order_id, sku);
    while (const db::Statement* row = q.next()) {
      rows.push_back(Row{row->column_text(0), row->column_int64(1), row->column_int64(2)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  std::int64_t remaining = qty;
  for (const Row& r : rows) {
    if (remaining == 0) break;
    const std::int64_t take = std::min(r.qty, remaining);
    SHOPEASY_ASSIGN_OR_RETURN(
        auto moved, detail::apply_movement(ctx, store_id, actor,
                                           Movement{sku, r.bin, r.lot_id, -take, -take, "pick",
                                                    order_id, std::nullopt}));
    movements.push_back(std::move(moved));
    if (take == r.qty) {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "DELETE FROM reservations WHERE order_id = ? AND sku = ? AND bin = ? AND lot_id = ?",
          order_id, sku, r.bin, r.lot_id));
    } else {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "UPDATE reservations SET qty = qty - ? WHERE order_id = ? AND sku = ? AND bin = ? "
          "AND lot_id = ?",
          take, order_id, sku, r.bin, r.lot_id));
    }
    remaining -= take;
  }
  return qty - remaining;
}

// Takes `qty` of free stock FEFO (within `bin`/`lot_id` when given) as movements of
// `reason`, optionally putting the same lots into `to_bin`.
Status take_fefo(WriteContext& ctx, const std::string& store_id, const Actor& actor,
                 const std::string& sku, std::int64_t qty, const std::optional<std::string>& bin,
                 const std::optional<std::int64_t>& lot_id, const std::string& reason,
                 const std::optional<std::string>& ref, const std::optional<std::string>& note,
                 const std::optional<std::string>& to_bin, std::vector<StockMovement>& movements) {
  SHOPEASY_ASSIGN_OR_RETURN(auto plan, detail::plan_fefo(ctx.db(), sku, qty, bin, lot_id));
  for (const auto& slice : plan) {
    SHOPEASY_ASSIGN_OR_RETURN(
        auto out, detail::apply_movement(
                      ctx, store_id, actor,
                      Movement{sku, slice.bin, slice.lot_id, -slice.qty, 0, reason, ref, note}));
    movements.push_back(std::move(out));
    if (to_bin) {
      SHOPEASY_ASSIGN_OR_RETURN(
          auto in, detail::apply_movement(
                       ctx, store_id, actor,
                       Movement{sku, *to_bin, slice.lot_id, slice.qty, 0, reason, ref, note}));
      movements.push_back(std::move(in));
    }
  }
  return Status::ok();
}

}  // namespace

Inventory::Inventory(store::EdgeStore& store, std::string store_id, log::Logger logger,
                     metrics::Registry& metrics)
    : store_(store),
      store_id_(std::move(store_id)),
      logger_(std::move(logger)),
      scans_(metrics.counter_family("edge_scans_total", "Scans by action and result",
                                    {"action", "result"})),
      unknown_codes_(metrics.counter("edge_unknown_codes_total",
                                     "Scans of codes that are not in the catalog")) {}

StatusOr<nlohmann::json> Inventory::apply_scan(const wire::Scan& scan, const Actor& actor) {
  SHOPEASY_ASSIGN_OR_RETURN(auto result, this->scan(scan, actor));
  return scan_result_json(result);
}

StatusOr<ScanResult> Inventory::scan(const wire::Scan& scan, const Actor& actor) {
  const std::string action(
      wire::EnumNames<wire::ScanAction>::kNames[static_cast<std::size_t>(scan.action)]);
  if (scan.action == wire::ScanAction::kLookup) {
    auto product = store_.read([&](db::Database& db) { return resolve_code(db, scan.code); });
    if (!product.ok()) {
      scans_.with({action, std::string(status_code_name(product.status().code()))}).inc();
      return product.status();
    }
    scans_.with({action, "ok"}).inc();
    SHOPEASY_ASSIGN_OR_RETURN(auto item, stock_item(product->product.sku, 5));
    ScanResult looked_up;
    looked_up.looked_up = std::move(item);
    return looked_up;
  }

  // Set inside the write when the scanned code names no product, so the caller records
  // the unknown code by what failed rather than by what the error text happens to say.
  bool code_not_in_catalog = false;
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<ScanResult> {
    code_not_in_catalog = false;
    db::Database& db = ctx.db();
    SHOPEASY_ASSIGN_OR_RETURN(
        auto seen, db.query_one<std::string>("SELECT response FROM applied_scans WHERE scan_id = ?",
                                             scan.scan_id));
    if (seen.has_value()) {
      auto first = scan_result_from_json(nlohmann::json::parse(*seen, nullptr, false));
      if (!first.ok()) {
        return internal_error("the stored result of scan " + scan.scan_id +
                              " is unreadable: " + first.status().message());
      }
      first->duplicate = true;
      return first;
    }
    auto resolved = resolve_code(db, scan.code);
    if (!resolved.ok()) {
      code_not_in_catalog = resolved.status().code() == StatusCode::kNotFound;
      return resolved.status();
    }
    const auto& product = resolved->product;
    const std::optional<std::string> lot = scan.lot ? scan.lot : resolved->lot;
    const std::optional<std::string> expiry = scan.expiry ? scan.expiry : resolved->expiry;
    const std::int64_t qty = scan.qty * resolved->unit_multiplier;
    ScanResult out;
    out.scan_id = scan.scan_id;
    out.action = action;
    out.sku = product.sku;
    out.name = product.name;
    out.qty = qty;
    std::vector<StockMovement>& movements = out.movements;

    switch (scan.action) {
      case wire::ScanAction::kReceive: {
        SHOPEASY_ASSIGN_OR_RETURN(auto bin, bin_or_home(db, scan.bin, product, "bin"));
        SHOPEASY_ASSIGN_OR_RETURN(auto lot_id,
                                  detail::lot_id_for(db, product.sku, lot, expiry, true));
        SHOPEASY_ASSIGN_OR_RETURN(
            auto moved,
            detail::apply_movement(
                ctx, store_id_, actor,
                Movement{product.sku, bin, lot_id, qty, 0, "receive",
                         scan.order_id ? scan.order_id : std::optional<std::string>(scan.scan_id),
                         std::nullopt}));
        movements.push_back(std::move(moved));
        break;
      }
      case wire::ScanAction::kPick: {
        std::int64_t remaining = qty;
        if (scan.order_id) {
          SHOPEASY_ASSIGN_OR_RETURN(
              const std::int64_t picked,
              pick_reserved(ctx, store_id_, actor, *scan.order_id, product.sku, qty, movements));
          remaining -= picked;
        }
        if (remaining > 0) {
          if (scan.bin) SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, *scan.bin, "bin"));
          std::optional<std::int64_t> lot_id;
          if (lot || expiry) {
            SHOPEASY_ASSIGN_OR_RETURN(auto id,
                                      detail::lot_id_for(db, product.sku, lot, expiry, false));
            lot_id = id;
          }
          SHOPEASY_RETURN_IF_ERROR(
              take_fefo(ctx, store_id_, actor, product.sku, remaining, scan.bin, lot_id, "pick",
                        scan.order_id ? scan.order_id : std::optional<std::string>(scan.scan_id),
                        std::nullopt, std::nullopt, movements));
        }
        break;
      }
      case wire::ScanAction::kAdjust: {
        SHOPEASY_ASSIGN_OR_RETURN(auto bin, bin_or_home(db, scan.bin, product, "bin"));
        const std::string reason =
            is_manual_reason(scan.reason.value_or("")) ? *scan.reason : std::string("adjust");
        if (qty > 0) {
          SHOPEASY_ASSIGN_OR_RETURN(auto lot_id,
                                    detail::lot_id_for(db, product.sku, lot, expiry, true));
          SHOPEASY_ASSIGN_OR_RETURN(
              auto moved, detail::apply_movement(ctx, store_id_, actor,
                                                 Movement{product.sku, bin, lot_id, qty, 0, reason,
                                                          scan.scan_id, scan.reason}));
          movements.push_back(std::move(moved));
        } else {
          std::optional<std::int64_t> lot_id;
          if (lot || expiry) {
            SHOPEASY_ASSIGN_OR_RETURN(auto id,
                                      detail::lot_id_for(db, product.sku, lot, expiry, false));
            lot_id = id;
          }
          SHOPEASY_RETURN_IF_ERROR(take_fefo(ctx, store_id_, actor, product.sku, -qty, bin, lot_id,
                                             reason, scan.scan_id, scan.reason, std::nullopt,
                                             movements));
        }
        break;
      }
      case wire::ScanAction::kMove: {
        SHOPEASY_ASSIGN_OR_RETURN(auto from, bin_or_home(db, scan.bin, product, "bin"));
        SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, *scan.to_bin, "to_bin"));
        if (from == *scan.to_bin) return invalid_argument("to_bin is the same as bin", "to_bin");
        std::optional<std::int64_t> lot_id;
        if (lot || expiry) {
          SHOPEASY_ASSIGN_OR_RETURN(auto id,
                                    detail::lot_id_for(db, product.sku, lot, expiry, false));
          lot_id = id;
        }
        SHOPEASY_RETURN_IF_ERROR(take_fefo(ctx, store_id_, actor, product.sku, qty, from, lot_id,
                                           "move", scan.scan_id, std::nullopt, scan.to_bin,
                                           movements));
        break;
      }
      case wire::ScanAction::kCount: {
        SHOPEASY_ASSIGN_OR_RETURN(
            const std::optional<std::string> status,
            db.query_one<std::string>("SELECT status FROM counts WHERE id = ?", *scan.count_id));
        if (!status) return not_found("unknown count '" + *scan.count_id + "'");
        if (*status != "open") {
          return failed_precondition("count " + *scan.count_id + " is " + *status);
        }
        SHOPEASY_ASSIGN_OR_RETURN(auto bin, bin_or_home(db, scan.bin, product, "bin"));
        SHOPEASY_ASSIGN_OR_RETURN(auto lot_id,
                                  detail::lot_id_for(db, product.sku, lot, expiry, true));
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO count_lines (count_id, sku, bin, lot_id, expected, counted) "
                   "VALUES (?1, ?2, ?3, ?4, COALESCE((SELECT on_hand FROM stock WHERE sku = ?2 AND "
                   "bin = ?3 AND lot_id = ?4), 0), ?5) ON CONFLICT (count_id, sku, bin, lot_id) "
                   "DO UPDATE SET counted = counted + excluded.counted",
                   *scan.count_id, product.sku, bin, lot_id, qty));
        break;
      }
      case wire::ScanAction::kLookup:
        break;
    }
    // Kept as the API answers it, so a repeat of this scan_id answers the same.
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT INTO applied_scans (scan_id, ts_ms, response) VALUES (?, ?, ?)",
               scan.scan_id, ctx.now_ms(), scan_result_json(out).dump()));
    return out;
  });

  if (code_not_in_catalog && !result.ok() && result.status().code() == StatusCode::kNotFound) {
    // Recorded so someone fixes the catalog; the scan itself changed nothing.
    unknown_codes_.inc();
    Status recorded = store_.write([&](WriteContext& ctx) -> Status {
      return ctx
          .emit("scan.unknown_code", {{"code", scan.code},
                                      {"scan_id", scan.scan_id},
                                      {"scanner_id", scan.scanner_id},
                                      {"action", action},
                                      {"actor", actor.name},
                                      {"source", actor.source}})
          .status();
    });
    if (!recorded.is_ok()) {
      logger_.warn("unknown_code_not_recorded", {{"error", recorded.to_string()}});
    }
  }
  scans_
      .with({action, result.ok() ? std::string("ok")
                                 : std::string(status_code_name(result.status().code()))})
      .inc();
  return result;
}

StatusOr<std::size_t> Inventory::upsert_bins(const std::vector<BinInput>& bins,
                                             const Actor& actor) {
  for (std::size_t i = 0; i < bins.size(); ++i) {
    SHOPEASY_RETURN_IF_ERROR(validate_code(bins[i].code, "bins[" + std::to_string(i) + "].code"));
  }
  return store_.write([&](WriteContext& ctx) -> StatusOr<std::size_t> {
    for (const auto& b : bins) {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "INSERT INTO bins (code, walk_order, zone) VALUES (?, ?, ?) ON CONFLICT (code) DO "
          "UPDATE SET walk_order = excluded.walk_order, zone = excluded.zone",
          b.code, b.walk_order, b.zone));
    }
    SHOPEASY_RETURN_IF_ERROR(
        ctx.emit("bins.updated", {{"count", bins.size()}, {"actor", actor.name}}).status());
    return bins.size();
  });
}

namespace {

Status validate_product(const ProductInput& p) {
  SHOPEASY_RETURN_IF_ERROR(validate_code(p.sku, "sku"));
  if (p.name.empty() || p.name.size() > 200) {
    return invalid_argument("must be 1 to 200 characters", "name");
  }
  if (p.category.size() > 64) return invalid_argument("must be at most 64 characters", "category");
  if (p.price_cents < 0 || p.price_cents > 100'000'000) {
    return invalid_argument("must be between 0 and 100000000", "price_cents");
  }
  if (p.reorder_point < 0 || p.reorder_point > 1'000'000) {
    return invalid_argument("must be between 0 and 1000000", "reorder_point");
  }
  if (p.unit.empty() || p.unit.size() > 16)
    return invalid_argument("must be 1 to 16 characters", "unit");
  if (p.home_bin) SHOPEASY_RETURN_IF_ERROR(validate_code(*p.home_bin, "home_bin"));
  return Status::ok();
}

Status write_product(WriteContext& ctx, const ProductInput& p, bool emit_event = true) {
  db::Database& db = ctx.db();
  if (p.home_bin) {
    // A home bin named in the catalog is created if the store has not mapped it yet.
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT INTO bins (code) VALUES (?) ON CONFLICT (code) DO NOTHING", *p.home_bin));
  }
  SHOPEASY_RETURN_IF_ERROR(db.run(
      "INSERT INTO products (sku, name, category, price_cents, unit, home_bin, reorder_point, "
      "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
      "name = excluded.name, category = excluded.category, price_cents = excluded.price_cents, "
      "unit = excluded.unit, home_bin = excluded.home_bin, reorder_point = "
      "excluded.reorder_point, updated_at_ms = excluded.updated_at_ms",
      p.sku, p.name, p.category, p.price_cents, p.unit, p.home_bin, p.reorder_point, ctx.now_ms()));
  std::vector<std::string> gtins;
  for (std::size_t i = 0; i < p.barcodes.size(); ++i) {
    auto gtin = barcode::to_gtin14(p.barcodes[i]);
    if (!gtin.ok()) {
      return invalid_argument(gtin.status().message(), "barcodes[" + std::to_string(i) + "]");
    }
    SHOPEASY_ASSIGN_OR_RETURN(
        auto owner, db.query_one<std::string>("SELECT sku FROM barcodes WHERE gtin = ?", *gtin));
    if (owner.has_value() && *owner != p.sku) {
      return Status(StatusCode::kConflict,
                    "barcode " + p.barcodes[i] + " already belongs to " + *owner,
                    "barcodes[" + std::to_string(i) + "]");
    }
    gtins.push_back(*gtin);
  }
  SHOPEASY_RETURN_IF_ERROR(db.run("DELETE FROM barcodes WHERE sku = ?", p.sku));
  for (const auto& g : gtins) {
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT OR IGNORE INTO barcodes (gtin, sku) VALUES (?, ?)", g, p.sku));
  }
  nlohmann::json body = {{"sku", p.sku},
                         {"name", p.name},
                         {"category", p.category},
                         {"price_cents", p.price_cents},
                         {"unit", p.unit},
                         {"barcodes", gtins},
                         {"reorder_point", p.reorder_point}};
  if (p.home_bin) body["home_bin"] = *p.home_bin;
  if (!emit_event) return Status::ok();
  auto seq = ctx.emit("product.upserted", body);
  return seq.ok() ? Status::ok() : seq.status();
}

}  // namespace

StatusOr<nlohmann::json> Inventory::upsert_products(const std::vector<StatusOr<ProductInput>>& rows,
                                                    bool atomic, const Actor& actor) {
  return store_.write([&](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    nlohmann::json errors = nlohmann::json::array();
    std::size_t applied = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Status st = rows[i].ok() ? validate_product(*rows[i]) : rows[i].status();
      if (st.is_ok()) {
        SHOPEASY_ASSIGN_OR_RETURN(auto savepoint, ctx.db().begin());
        st = write_product(ctx, *rows[i]);
        if (st.is_ok()) st = savepoint.commit();
        if (!st.is_ok()) (void)savepoint.rollback();
      }
      if (st.is_ok()) {
        ++applied;
      } else {
        nlohmann::json e = {
            {"row", i}, {"code", status_code_name(st.code())}, {"message", st.message()}};
        if (!st.field().empty()) e["field"] = st.field();
        errors.push_back(std::move(e));
      }
    }
    nlohmann::json report = {{"rows", rows.size()}, {"applied", applied}, {"errors", errors}};
    if (atomic && !errors.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    std::to_string(errors.size()) + " of " + std::to_string(rows.size()) +
                        " rows are invalid; nothing was imported: " + errors.dump(),
                    "rows[" + std::to_string(errors[0]["row"].get<std::size_t>()) + "]");
    }
    logger_.info("catalog_imported", {{"rows", rows.size()},
                                      {"applied", applied},
                                      {"errors", errors.size()},
                                      {"actor", actor.name}});
    return report;
  });
}

Status Inventory::apply_cloud_catalog_item(WriteContext& ctx, const nlohmann::json& body) {
  ProductInput p;
  wire::FieldReader r(body, "");
  r.required_string("sku", &p.sku, {.max_len = 64, .non_empty = true});
  r.required_string("name", &p.name, {.max_len = 200, .non_empty = true});
  std::optional<std::string> category, unit;
  r.optional_string("category", &category, {.max_len = 64});
  r.optional_string("unit", &unit, {.max_len = 16});
  r.optional_int("price_cents", &p.price_cents, std::int64_t{0}, std::int64_t{100'000'000});
  if (!r.ok()) return r.status();
  p.category = category.value_or("");
  p.unit = unit.value_or("each");
  if (body.contains("barcodes") && body["barcodes"].is_array()) {
    for (const auto& code : body["barcodes"]) {
      if (code.is_string()) p.barcodes.push_back(code.get<std::string>());
    }
  }
  SHOPEASY_RETURN_IF_ERROR(validate_product(p));
  // The store's own placement and reorder point survive a catalog update.
  auto q = ctx.db().query("SELECT home_bin, reorder_point FROM products WHERE sku = ?", p.sku);
  if (const db::Statement* row = q.next()) {
    p.home_bin = row->column<std::optional<std::string>>(0);
    p.reorder_point = row->column_int64(1);
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return write_product(ctx, p, /*emit_event=*/false);
}

StatusOr<StockEdited> Inventory::edit_stock(const StockEdit& edit, const Actor& actor) {
  SHOPEASY_RETURN_IF_ERROR(validate_code(edit.sku, "sku"));
  SHOPEASY_RETURN_IF_ERROR(validate_code(edit.bin, "bin"));
  if (edit.set.has_value() == edit.adjust.has_value()) {
    return invalid_argument("give exactly one of set and adjust", "set");
  }
  if (edit.set && (*edit.set < 0 || *edit.set > 10'000'000)) {
    return invalid_argument("must be between 0 and 10000000", "set");
  }
  if (edit.adjust && (*edit.adjust == 0 || std::llabs(*edit.adjust) > 10'000'000)) {
    return invalid_argument("must be non-zero and at most 10000000 either way", "adjust");
  }
  if (!is_manual_reason(edit.reason)) {
    return invalid_argument("must be one of adjust, damage, expire, return, count", "reason");
  }
  return store_.write([&](WriteContext& ctx) -> StatusOr<StockEdited> {
    db::Database& db = ctx.db();
    SHOPEASY_ASSIGN_OR_RETURN(auto product, detail::product_by_sku(db, edit.sku));
    SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, edit.bin, "bin"));
    if (edit.expected_version) {
      SHOPEASY_ASSIGN_OR_RETURN(
          const std::optional<std::int64_t> version,
          db.query_one<std::int64_t>("SELECT version FROM sku_totals WHERE sku = ?", edit.sku));
      const std::int64_t current = version.value_or(0);
      if (current != *edit.expected_version) {
        return conflict("stale version of " + edit.sku + ": yours " +
                        std::to_string(*edit.expected_version) + ", current " +
                        std::to_string(current) + "; re-read and retry");
      }
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto lot_id,
                              detail::lot_id_for(db, edit.sku, edit.lot, std::nullopt,
                                                 edit.adjust.has_value() && *edit.adjust > 0));
    std::int64_t delta = edit.adjust.value_or(0);
    if (edit.set) {
      SHOPEASY_ASSIGN_OR_RETURN(
          auto current, db.query_one<std::int64_t>(
                            "SELECT on_hand FROM stock WHERE sku = ? AND bin = ? AND lot_id = ?",
                            edit.sku, edit.bin, lot_id));
      delta = *edit.set - current.value_or(0);
    }
    StockEdited out;
    out.sku = edit.sku;
    if (delta != 0) {
      SHOPEASY_ASSIGN_OR_RETURN(
          auto moved, detail::apply_movement(ctx, store_id_, actor,
                                             Movement{edit.sku, edit.bin, lot_id, delta, 0,
                                                      edit.reason, std::nullopt, edit.note}));
      out.movements.push_back(std::move(moved));
    }
    SHOPEASY_ASSIGN_OR_RETURN(
        const std::optional<std::int64_t> totals,
        db.query_one<std::int64_t>("SELECT version FROM sku_totals WHERE sku = ?", edit.sku));
    out.version = totals.value_or(0);
    return out;
  });
}

StatusOr<Reservation> Inventory::reserve(const std::string& order_id,
                                         const std::vector<OrderLine>& lines, const Actor& actor) {
  if (order_id.empty() || order_id.size() > 64) {
    return invalid_argument("must be 1 to 64 characters", "order_id");
  }
  if (lines.empty()) return invalid_argument("an order needs at least one line", "lines");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].qty <= 0 || lines[i].qty > 100000) {
      return invalid_argument("must be between 1 and 100000",
                              "lines[" + std::to_string(i) + "].qty");
    }
  }
  return store_.write([&](WriteContext& ctx) -> StatusOr<Reservation> {
    SHOPEASY_ASSIGN_OR_RETURN(
        auto existing, ctx.db().query_one<std::int64_t>(
                           "SELECT count(*) FROM reservations WHERE order_id = ?", order_id));
    if (existing.value_or(0) > 0) {
      return Reservation{order_id, {}, /*already_reserved=*/true};
    }
    return reserve_in(ctx, order_id, lines, actor);
  });
}

StatusOr<Reservation> Inventory::release(const std::string& order_id, const Actor& actor) {
  return store_.write([&](WriteContext& ctx) -> StatusOr<Reservation> {
    return release_in(ctx, order_id, std::nullopt, actor);
  });
}

Status Inventory::check_reservable(db::Database& db, const std::vector<OrderLine>& lines) const {
  std::map<std::string, std::int64_t> asked;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    auto product = detail::product_by_sku(db, line.sku);
    if (!product.ok()) {
      return Status(StatusCode::kNotFound, product.status().message(),
                    "lines[" + std::to_string(i) + "].sku");
    }
    const std::int64_t total = asked[line.sku] += line.qty;
    auto plan = detail::plan_fefo(db, line.sku, total, std::nullopt, std::nullopt);
    if (!plan.ok()) {
      return Status(plan.status().code(), plan.status().message(),
                    "lines[" + std::to_string(i) + "]");
    }
  }
  return Status::ok();
}

StatusOr<Reservation> Inventory::reserve_in(WriteContext& ctx, const std::string& order_id,
                                            const std::vector<OrderLine>& lines,
                                            const Actor& actor) {
  db::Database& db = ctx.db();
  SHOPEASY_RETURN_IF_ERROR(check_reservable(db, lines));
  Reservation out{order_id, {}, false};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    auto plan = detail::plan_fefo(db, line.sku, line.qty, std::nullopt, std::nullopt);
    if (!plan.ok()) {
      return Status(plan.status().code(), plan.status().message(),
                    "lines[" + std::to_string(i) + "]");
    }
    for (const auto& slice : *plan) {
      SHOPEASY_ASSIGN_OR_RETURN(
          auto moved,
          detail::apply_movement(ctx, store_id_, actor,
                                 Movement{line.sku, slice.bin, slice.lot_id, 0, slice.qty,
                                          "reserve", order_id, std::nullopt}));
      out.movements.push_back(std::move(moved));
      SHOPEASY_RETURN_IF_ERROR(db.run(
          "INSERT INTO reservations (order_id, sku, bin, lot_id, qty) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (order_id, sku, bin, lot_id) DO UPDATE SET qty = qty + excluded.qty",
          order_id, line.sku, slice.bin, slice.lot_id, slice.qty));
    }
  }
  return out;
}

StatusOr<Reservation> Inventory::release_in(WriteContext& ctx, const std::string& order_id,
                                            const std::optional<std::string>& sku,
                                            const Actor& actor) {
  struct Row {
    std::string sku, bin;
    std::int64_t lot_id, qty;
  };
  std::vector<Row> rows;
  {
    auto q = ctx.db().query(
        "SELECT sku, bin, lot_id, qty FROM reservations WHERE order_id = ?1 AND "
        "(?2 IS NULL OR sku = ?2)",
        order_id, sku);
    while (const db::Statement* row = q.next()) {
      rows.push_back(Row{row->column_text(0), row->column_text(1), row->column_int64(2),
                         row->column_int64(3)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  Reservation out{order_id, {}, false};
  for (const auto& r : rows) {
    SHOPEASY_ASSIGN_OR_RETURN(
        auto moved, detail::apply_movement(ctx, store_id_, actor,
                                           Movement{r.sku, r.bin, r.lot_id, 0, -r.qty, "release",
                                                    order_id, std::nullopt}));
    out.movements.push_back(std::move(moved));
  }
  SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
      "DELETE FROM reservations WHERE order_id = ?1 AND (?2 IS NULL OR sku = ?2)", order_id, sku));
  return out;
}

StatusOr<std::vector<PickedSlice>> Inventory::pick_in(WriteContext& ctx,
                                                      const std::string& order_id,
                                                      const std::string& sku, std::int64_t qty,
                                                      const std::optional<std::string>& bin,
                                                      const Actor& actor) {
  db::Database& db = ctx.db();
  if (qty <= 0) return invalid_argument("must be positive", "qty");
  struct Row {
    std::string bin;
    std::int64_t lot_id;
    std::int64_t qty;
  };
  std::vector<Row> rows;
  {
    auto q = db.query(
        "SELECT r.bin, r.lot_id, r.qty FROM reservations r JOIN lots l ON l.id = r.lot_id "
        "JOIN bins b ON b.code = r.bin WHERE r.order_id = ?1 AND r.sku = ?2 "
        "ORDER BY r.bin IS NOT ?3, l.expiry IS NULL, l.expiry, b.walk_order, r.bin, r.lot_id",
        order_id, sku, bin);
    while (const db::Statement* row = q.next()) {
      rows.push_back(Row{row->column_text(0), row->column_int64(1), row->column_int64(2)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  std::int64_t reserved = 0;
  std::int64_t reserved_in_bin = 0;
  for (const Row& r : rows) {
    reserved += r.qty;
    if (bin && r.bin == *bin) reserved_in_bin += r.qty;
  }
  if (reserved < qty) {
    return failed_precondition("order " + order_id + " holds " + std::to_string(reserved) + " of " +
                               sku + ", " + std::to_string(qty) + " asked");
  }
  // Units the picker took from a bin other than the reserved ones: they must be free
  // there, and the same number of reserved units elsewhere is given back.
  const std::int64_t from_free = bin ? std::max<std::int64_t>(0, qty - reserved_in_bin) : 0;
  std::vector<detail::Slice> free_plan;
  if (from_free > 0) {
    SHOPEASY_RETURN_IF_ERROR(detail::require_bin(db, *bin, "bin"));
    auto plan = detail::plan_fefo(db, sku, from_free, bin, std::nullopt);
    if (!plan.ok()) {
      return failed_precondition("bin " + *bin + " has no unreserved " + sku +
                                 " to spare; pick it from the bins on the pick list");
    }
    free_plan = std::move(*plan);
  }

  std::vector<PickedSlice> picked;
  auto shrink = [&](const Row& r, std::int64_t take) -> Status {
    if (take == r.qty) {
      return db.run(
          "DELETE FROM reservations WHERE order_id = ? AND sku = ? AND bin = ? AND lot_id = ?",
          order_id, sku, r.bin, r.lot_id);
    }
    return db.run(
        "UPDATE reservations SET qty = qty - ? WHERE order_id = ? AND sku = ? AND bin = ? AND "
        "lot_id = ?",
        take, order_id, sku, r.bin, r.lot_id);
  };
  std::int64_t from_reserved = qty - from_free;
  std::int64_t to_release = from_free;
  for (const Row& r : rows) {
    std::int64_t left = r.qty;
    if (from_reserved > 0) {
      const std::int64_t take = std::min(left, from_reserved);
      SHOPEASY_RETURN_IF_ERROR(detail::apply_movement(ctx, store_id_, actor,
                                                      Movement{sku, r.bin, r.lot_id, -take, -take,
                                                               "pick", order_id, std::nullopt})
                                   .status());
      picked.push_back(PickedSlice{r.bin, r.lot_id, take});
      SHOPEASY_RETURN_IF_ERROR(shrink(Row{r.bin, r.lot_id, left}, take));
      left -= take;
      from_reserved -= take;
    }
    if (left > 0 && to_release > 0 && !(bin && r.bin == *bin)) {
      const std::int64_t give = std::min(left, to_release);
      SHOPEASY_RETURN_IF_ERROR(detail::apply_movement(ctx, store_id_, actor,
                                                      Movement{sku, r.bin, r.lot_id, 0, -give,
                                                               "release", order_id, std::nullopt})
                                   .status());
      SHOPEASY_RETURN_IF_ERROR(shrink(Row{r.bin, r.lot_id, left}, give));
      to_release -= give;
    }
  }
  for (const auto& slice : free_plan) {
    SHOPEASY_RETURN_IF_ERROR(
        detail::apply_movement(
            ctx, store_id_, actor,
            Movement{sku, slice.bin, slice.lot_id, -slice.qty, 0, "pick", order_id, std::nullopt})
            .status());
    picked.push_back(PickedSlice{slice.bin, slice.lot_id, slice.qty});
  }
  return picked;
}

Status Inventory::put_back_in(WriteContext& ctx, const std::string& order_id,
                              const std::string& sku, const PickedSlice& slice,
                              const Actor& actor) {
  if (slice.qty <= 0) return Status::ok();
  auto moved = detail::apply_movement(
      ctx, store_id_, actor,
      Movement{sku, slice.bin, slice.lot_id, slice.qty, 0, "return", order_id, std::nullopt});
  return moved.ok() ? Status::ok() : moved.status();
}

StatusOr<ScannedProduct> Inventory::resolve_scan_code(db::Database& db,
                                                      std::string_view code) const {
  SHOPEASY_ASSIGN_OR_RETURN(auto resolved, resolve_code(db, code));
  return ScannedProduct{.sku = resolved.product.sku,
                        .name = resolved.product.name,
                        .units = resolved.unit_multiplier,
                        .lot = resolved.lot,
                        .expiry = resolved.expiry};
}

}  // namespace shopeasy::edge::inventory
