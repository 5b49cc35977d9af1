#include "edge/replenish/replenishment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <set>
#include <tuple>

#include "edge/forecast/series.hpp"
#include "edge/inventory/ledger.hpp"

namespace shopeasy::edge::replenish {

namespace {

using store::WriteContext;

constexpr std::array<std::string_view, 5> kPoStatusNames = {"draft", "sent", "partially_received",
                                                            "received", "cancelled"};
constexpr std::int64_t kMaxPoQty = 1'000'000;
constexpr std::size_t kMaxPoLines = 500;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool valid_id(std::string_view v) {
  return !v.empty() && v.size() <= 64 && std::none_of(v.begin(), v.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}

Status failed(std::string message, std::string field) {
  return Status(StatusCode::kFailedPrecondition, std::move(message), std::move(field));
}

StatusOr<std::optional<SupplierRecord>> read_supplier(db::Database& db, const std::string& id) {
  auto q = db.query(
      "SELECT id, name, lead_time_days, order_days, min_order_qty, pack_size, active, "
      "updated_at_ms FROM suppliers WHERE id = ?",
      id);
  const db::Statement* row = q.next();
  if (row == nullptr) {
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return std::optional<SupplierRecord>();
  }
  SupplierRecord r;
  r.supplier.id = row->column_text(0);
  r.supplier.name = row->column_text(1);
  r.supplier.lead_time_days = row->column<int>(2);
  r.supplier.order_days = static_cast<std::uint8_t>(row->column_int64(3));
  r.supplier.min_order_qty = row->column_int64(4);
  r.supplier.pack_size = row->column_int64(5);
  r.supplier.active = row->column<bool>(6);
  r.updated_at_ms = row->column_int64(7);
  auto links = db.query(
      "SELECT sku, service_level, shelf_life_days, pack_size FROM sku_suppliers "
      "WHERE supplier_id = ? ORDER BY sku",
      id);
  while (const db::Statement* l = links.next()) {
    SkuSupply s;
    s.sku = l->column_text(0);
    s.supplier_id = id;
    s.service_level = l->column_double(1);
    s.shelf_life_days = l->column<std::optional<int>>(2);
    s.pack_size = l->column<std::optional<std::int64_t>>(3);
    r.skus.push_back(std::move(s));
  }
  SHOPEASY_RETURN_IF_ERROR(links.status());
  return std::optional<SupplierRecord>(std::move(r));
}

StatusOr<SupplierRecord> require_supplier(db::Database& db, const std::string& id) {
  SHOPEASY_ASSIGN_OR_RETURN(auto r, read_supplier(db, id));
  if (!r) return Status(StatusCode::kNotFound, "no supplier '" + id + "'", "supplier_id");
  return std::move(*r);
}

StatusOr<PurchaseOrder> read_po(db::Database& db, const std::string& po_id) {
  auto q = db.query(
      "SELECT po_id, supplier_id, status, request_id, created_by, created_at_ms, "
      "updated_at_ms, expected_at_ms, note FROM purchase_orders WHERE po_id = ?",
      po_id);
  const db::Statement* row = q.next();
  if (row == nullptr) {
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return not_found("no purchase order '" + po_id + "'");
  }
  PurchaseOrder po;
  po.po_id = row->column_text(0);
  po.supplier_id = row->column_text(1);
  SHOPEASY_ASSIGN_OR_RETURN(po.status, parse_po_status(row->column_text(2), "status"));
  po.request_id = row->column<std::optional<std::string>>(3);
  po.created_by = row->column_text(4);
  po.created_at_ms = row->column_int64(5);
  po.updated_at_ms = row->column_int64(6);
  po.expected_at_ms = row->column<std::optional<std::int64_t>>(7);
  po.note = row->column<std::optional<std::string>>(8);
  auto lines = db.query(
      "SELECT line_no, sku, qty, received, why FROM po_lines WHERE po_id = ? ORDER BY line_no",
      po_id);
  while (const db::Statement* l = lines.next()) {
    PoLine line;
    line.line_no = l->column<int>(0);
    line.sku = l->column_text(1);
    line.qty = l->column_int64(2);
    line.received = l->column_int64(3);
    if (!l->column_is_null(4)) {
      auto why = nlohmann::json::parse(l->column_text(4), nullptr, false);
      if (!why.is_discarded()) line.why = std::move(why);
    }
    po.lines.push_back(std::move(line));
  }
  SHOPEASY_RETURN_IF_ERROR(lines.status());
  auto history = db.query(
      "SELECT status, at_ms, actor, reason FROM po_history WHERE po_id = ? ORDER BY id", po_id);
  while (const db::Statement* h = history.next()) {
    po.history.push_back(PoEvent{h->column_text(0), h->column_int64(1), h->column_text(2),
                                 h->column<std::optional<std::string>>(3)});
  }
  SHOPEASY_RETURN_IF_ERROR(history.status());
  return po;
}

Status set_status(WriteContext& ctx, const std::string& po_id, PoStatus status,
                  const inventory::Actor& actor, const std::optional<std::string>& reason) {
  const std::string name(po_status_name(status));
  SHOPEASY_RETURN_IF_ERROR(
      ctx.db().run("UPDATE purchase_orders SET status = ?, updated_at_ms = ? WHERE po_id = ?", name,
                   ctx.now_ms(), po_id));
  return ctx.db().run(
      "INSERT INTO po_history (po_id, status, at_ms, actor, reason) VALUES (?, ?, ?, ?, ?)", po_id,
      name, ctx.now_ms(), actor.name, reason);
}

bool is_open(PoStatus s) {
  return s == PoStatus::kDraft || s == PoStatus::kSent || s == PoStatus::kPartiallyReceived;
}

// A purchase order as it now stands, into the outbox in the same transaction as the
// change: the cloud (and the live stream) learn of every creation, sending, receipt and
// cancellation. Only what buying needs: the reasons stay in the store.
Status emit_po_changed(WriteContext& ctx, const PurchaseOrder& po) {
  nlohmann::json lines = nlohmann::json::array();
  for (const PoLine& l : po.lines) {
    lines.push_back(
        {{"line_no", l.line_no}, {"sku", l.sku}, {"qty", l.qty}, {"received", l.received}});
  }
  nlohmann::json body = {{"po_id", po.po_id},
                         {"supplier_id", po.supplier_id},
                         {"status", std::string(po_status_name(po.status))},
                         {"created_by", po.created_by},
                         {"created_at_ms", po.created_at_ms},
                         {"updated_at_ms", po.updated_at_ms},
                         {"lines", std::move(lines)}};
  body["expected_at_ms"] =
      po.expected_at_ms ? nlohmann::json(*po.expected_at_ms) : nlohmann::json(nullptr);
  return ctx.emit("purchase_order.changed", std::move(body)).status();
}

}  // namespace

std::string_view po_status_name(PoStatus s) { return kPoStatusNames[static_cast<std::size_t>(s)]; }

StatusOr<PoStatus> parse_po_status(std::string_view text, std::string_view field) {
  for (std::size_t i = 0; i < kPoStatusNames.size(); ++i) {
    if (kPoStatusNames[i] == text) return static_cast<PoStatus>(i);
  }
  return invalid_argument(std::string(field) +
                              " must be one of draft, sent, partially_received, "
                              "received, cancelled",
                          std::string(field));
}

Replenishment::Replenishment(store::EdgeStore& store, inventory::Inventory& inventory,
                             const demand::DemandService& demand, const Clock& clock,
                             ReplenishOptions options, log::Logger logger,
                             metrics::Registry& metrics)
    : store_(store),
      inventory_(inventory),
      demand_(demand),
      clock_(clock),
      options_(std::move(options)),
      logger_(std::move(logger)),
      po_changes_(metrics.counter_family("edge_purchase_order_changes_total",
                                         "Purchase order changes by action and result",
                                         {"action", "result"})),
      receipts_(metrics.counter_family("edge_po_receipts_total",
                                       "Receipts scanned against purchase orders by result",
                                       {"result"})),
      forecast_cache_(options_.cache_forecasts
                          ? std::make_unique<ForecastCache>(options_.forecast_cache_bytes)
                          : nullptr) {}

ForecastCacheStats Replenishment::forecast_cache_stats() const {
  return forecast_cache_ ? forecast_cache_->stats() : ForecastCacheStats{};
}

std::optional<double> Replenishment::cached_daily_demand(const std::string& sku,
                                                         std::int64_t now_ms) const {
  if (!forecast_cache_) return std::nullopt;
  const std::shared_ptr<const DemandForecast> f =
      forecast_cache_->peek(sku, demand_.local_hour(now_ms));
  if (!f || f->step_hours <= 0 || f->mean.empty()) return std::nullopt;
  // A whole week, so the day of the week the sync runs on does not tilt the mean.
  return demand_mean(*f, 0, 7.0 * 24 / f->step_hours) / 7;
}

std::int64_t Replenishment::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
      .count();
}

// --- suppliers ---

StatusOr<SupplierRecord> Replenishment::create_supplier(const Supplier& s) {
  SHOPEASY_RETURN_IF_ERROR(validate_supplier(s));
  return store_.write([&](WriteContext& ctx) -> StatusOr<SupplierRecord> {
    SHOPEASY_ASSIGN_OR_RETURN(auto existing, read_supplier(ctx.db(), s.id));
    if (existing) {
      return Status(StatusCode::kAlreadyExists, "supplier '" + s.id + "' exists", "id");
    }
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "INSERT INTO suppliers (id, name, lead_time_days, order_days, min_order_qty, pack_size, "
        "active, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        s.id, s.name, s.lead_time_days, static_cast<std::int64_t>(s.order_days), s.min_order_qty,
        s.pack_size, s.active, ctx.now_ms()));
    return require_supplier(ctx.db(), s.id);
  });
}

StatusOr<SupplierRecord> Replenishment::update_supplier(const Supplier& s) {
  SHOPEASY_RETURN_IF_ERROR(validate_supplier(s));
  auto r = store_.write([&](WriteContext& ctx) -> StatusOr<SupplierRecord> {
    SHOPEASY_RETURN_IF_ERROR(require_supplier(ctx.db(), s.id).status());
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "UPDATE suppliers SET name = ?, lead_time_days = ?, order_days = ?, min_order_qty = ?, "
        "pack_size = ?, active = ?, updated_at_ms = ? WHERE id = ?",
        s.name, s.lead_time_days, static_cast<std::int64_t>(s.order_days), s.min_order_qty,
        s.pack_size, s.active, ctx.now_ms(), s.id));
    return require_supplier(ctx.db(), s.id);
  });
  if (r.ok()) forget_forecasts(*r);
  return r;
}

StatusOr<SupplierRecord> Replenishment::get_supplier(const std::string& id) {
  if (!valid_id(id)) return invalid_argument("supplier id must be 1..64 characters", "id");
  return store_.read([&](db::Database& db) { return require_supplier(db, id); });
}

StatusOr<std::vector<SupplierRecord>> Replenishment::list_suppliers() {
  return store_.read([&](db::Database& db) -> StatusOr<std::vector<SupplierRecord>> {
    std::vector<std::string> ids;
    auto q = db.query("SELECT id FROM suppliers ORDER BY id");
    while (const db::Statement* row = q.next()) ids.push_back(row->column_text(0));
    SHOPEASY_RETURN_IF_ERROR(q.status());
    std::vector<SupplierRecord> out;
    for (const std::string& id : ids) {
      SHOPEASY_ASSIGN_OR_RETURN(auto r, require_supplier(db, id));
      out.push_back(std::move(r));
    }
    return out;
  });
}

StatusOr<SupplierRecord> Replenishment::deactivate_supplier(const std::string& id) {
  if (!valid_id(id)) return invalid_argument("supplier id must be 1..64 characters", "id");
  auto r = store_.write([&](WriteContext& ctx) -> StatusOr<SupplierRecord> {
    SHOPEASY_RETURN_IF_ERROR(require_supplier(ctx.db(), id).status());
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "UPDATE suppliers SET active = 0, updated_at_ms = ? WHERE id = ?", ctx.now_ms(), id));
    return require_supplier(ctx.db(), id);
  });
  if (r.ok()) forget_forecasts(*r);
  return r;
}

StatusOr<SupplierRecord> Replenishment::link_sku(const SkuSupply& link) {
  SHOPEASY_RETURN_IF_ERROR(validate_sku_supply(link));
  auto r = store_.write([&](WriteContext& ctx) -> StatusOr<SupplierRecord> {
    db::Database& db = ctx.db();
    SHOPEASY_RETURN_IF_ERROR(require_supplier(db, link.supplier_id).status());
    SHOPEASY_ASSIGN_OR_RETURN(
        auto known, db.query_one<std::int64_t>("SELECT 1 FROM products WHERE sku = ?", link.sku));
    if (!known) return Status(StatusCode::kNotFound, "no product '" + link.sku + "'", "sku");
    SHOPEASY_RETURN_IF_ERROR(db.run(
        "INSERT INTO sku_suppliers (sku, supplier_id, service_level, shelf_life_days, pack_size, "
        "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
        "supplier_id = excluded.supplier_id, service_level = excluded.service_level, "
        "shelf_life_days = excluded.shelf_life_days, pack_size = excluded.pack_size, "
        "updated_at_ms = excluded.updated_at_ms",
        link.sku, link.supplier_id, link.service_level, link.shelf_life_days, link.pack_size,
        ctx.now_ms()));
    return require_supplier(db, link.supplier_id);
  });
  if (r.ok() && forecast_cache_) forecast_cache_->invalidate(link.sku);
  return r;
}

StatusOr<SupplierRecord> Replenishment::unlink_sku(const std::string& supplier_id,
                                                   const std::string& sku) {
  if (!valid_id(supplier_id)) {
    return invalid_argument("supplier id must be 1..64 characters", "supplier_id");
  }
  if (!valid_id(sku)) return invalid_argument("sku must be 1..64 characters", "sku");
  auto r = store_.write([&](WriteContext& ctx) -> StatusOr<SupplierRecord> {
    SHOPEASY_RETURN_IF_ERROR(require_supplier(ctx.db(), supplier_id).status());
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "DELETE FROM sku_suppliers WHERE sku = ? AND supplier_id = ?", sku, supplier_id));
    if (ctx.db().changes() == 0) {
      return Status(StatusCode::kNotFound, sku + " is not supplied by " + supplier_id, "sku");
    }
    return require_supplier(ctx.db(), supplier_id);
  });
  if (r.ok() && forecast_cache_) forecast_cache_->invalidate(sku);
  return r;
}

// --- proposal ---

StatusOr<DemandForecast> Replenishment::fit(const std::string& sku, std::int64_t now,
                                            const demand::StorePool* pool) const {
  auto f = pool != nullptr ? demand_.forecast(sku, now, options_.forecast_hours, *pool)
                           : demand_.forecast(sku, now, options_.forecast_hours);
  if (!f.ok()) return f.status();
  DemandForecast d;
  d.step_hours = 1;
  d.inv_k = f->inv_k;
  d.method = f->method;
  d.censored_steps = f->censored_hours;
  d.mean.reserve(f->hours.size());
  for (const auto& h : f->hours) d.mean.push_back(h.mean);
  return d;
}

Status Replenishment::sync_forecast_cache(std::int64_t now) {
  shopeasy::sync::MutexLock lock(ledger_seen_mu_);
  const std::int64_t hour_start_ms = demand_.hour_start_ms(now);
  bool all = false;
  std::vector<std::string> changed;
  std::int64_t seen = ledger_seen_;
  const Status read = store_.read([&](db::Database& db) -> Status {
    if (seen < 0) {
      SHOPEASY_ASSIGN_OR_RETURN(auto max_id,
                                db.query_one<std::int64_t>("SELECT MAX(id) FROM ledger"));
      seen = max_id.value_or(0);
      all = true;
      return Status();
    }
    auto q = db.query("SELECT id, sku, ts_ms, reason = 'pick' FROM ledger WHERE id > ? ORDER BY id",
                      seen);
    while (const db::Statement* row = q.next()) {
      seen = row->column_int64(0);
      if (row->column_int64(3) != 0 && row->column_int64(2) < hour_start_ms) all = true;
      if (!all) changed.push_back(row->column_text(1));
    }
    return q.status();
  });
  SHOPEASY_RETURN_IF_ERROR(read);
  if (all) {
    forecast_cache_->invalidate_all();
    shopeasy::sync::MutexLock pool_lock(pool_mu_);
    pool_.reset();
  } else {
    for (const std::string& sku : changed) forecast_cache_->invalidate(sku);
  }
  ledger_seen_ = seen;
  return Status();
}

StatusOr<std::shared_ptr<const demand::StorePool>> Replenishment::store_pool(std::int64_t now) {
  shopeasy::sync::MutexLock lock(pool_mu_);
  const std::int64_t end_local = demand_.local_hour(now) * 3600;
  if (pool_ && pool_->end_local == end_local) return pool_;
  SHOPEASY_ASSIGN_OR_RETURN(auto pool, demand_.store_pool(now));
  auto kept = std::make_shared<const demand::StorePool>(std::move(pool));
  pool_ = kept;
  return kept;
}

void Replenishment::forget_forecasts(const SupplierRecord& r) {
  if (!forecast_cache_) return;
  for (const SkuSupply& link : r.skus) forecast_cache_->invalidate(link.sku);
}

StatusOr<Proposal> Replenishment::propose_one(const Supplier& supplier, const SkuSupply& link,
                                              std::int64_t now, const DemandForecast& demand) {
  ProposalInput in;
  in.supplier = supplier;
  in.link = link;
  in.demand = demand;
  const std::int64_t local_s =
      floor_div(now, 1000) + std::int64_t{options_.utc_offset_minutes} * 60;
  in.weekday = static_cast<int>((floor_div(local_s, 86400) + 3) % 7);  // 1970-01-01: Thursday
  std::optional<std::string> draft_po_id;
  std::int64_t draft_qty = 0;
  const Status read = store_.read([&](db::Database& db) -> Status {
    auto lots = db.query(
        "SELECT s.on_hand, l.expiry FROM stock s JOIN lots l ON l.id = s.lot_id "
        "WHERE s.sku = ? AND s.on_hand > 0",
        link.sku);
    while (const db::Statement* row = lots.next()) {
      StockLot lot;
      lot.qty = row->column_int64(0);
      if (!row->column_is_null(1)) {
        auto day = forecast::parse_timestamp(row->column_text(1));
        // Sellable through its expiry date (store-local); unreadable dates count as
        // already expired rather than as cover.
        lot.expires_in_steps =
            day.ok() ? static_cast<double>(*day + 86400 - local_s) / 3600.0 : -1.0;
      }
      in.position.lots.push_back(lot);
    }
    SHOPEASY_RETURN_IF_ERROR(lots.status());
    SHOPEASY_ASSIGN_OR_RETURN(
        auto reserved,
        db.query_one<std::int64_t>("SELECT reserved FROM sku_totals WHERE sku = ?", link.sku));
    in.position.reserved = reserved.value_or(0);
    SHOPEASY_ASSIGN_OR_RETURN(
        auto on_order,
        db.query_one<std::int64_t>("SELECT COALESCE(SUM(l.qty - l.received), 0) FROM po_lines l "
                                   "JOIN purchase_orders p ON p.po_id = l.po_id WHERE l.sku = ? "
                                   "AND p.status IN ('draft', 'sent', 'partially_received')",
                                   link.sku));
    in.position.on_order = on_order.value_or(0);
    auto draft = db.query(
        "SELECT p.po_id, l.qty - l.received FROM po_lines l JOIN purchase_orders p "
        "ON p.po_id = l.po_id WHERE l.sku = ? AND p.supplier_id = ? AND p.status = 'draft'",
        link.sku, supplier.id);
    if (const db::Statement* row = draft.next()) {
      draft_po_id = row->column_text(0);
      draft_qty = row->column_int64(1);
    }
    return draft.status();
  });
  SHOPEASY_RETURN_IF_ERROR(read);
  Proposal p = propose(in);
  if (draft_po_id) {
    p.draft_po_id = draft_po_id;
    p.draft_qty = draft_qty;
    // Without the draft, would the SKU still need ordering?
    if (p.inventory_position - draft_qty >= p.order_up_to) {
      p.reasons.emplace_back("draft_no_longer_needed");
    }
  }
  return p;
}

StatusOr<ProposalReport> Replenishment::proposal(const ProposalQuery& query) {
  if (query.supplier_id && !valid_id(*query.supplier_id)) {
    return invalid_argument("supplier must be 1..64 characters", "supplier");
  }
  if (query.sku && !valid_id(*query.sku))
    return invalid_argument("sku must be 1..64 characters", "sku");
  std::vector<SupplierRecord> suppliers;
  if (query.supplier_id) {
    auto s = get_supplier(*query.supplier_id);
    if (!s.ok()) return Status(s.status().code(), s.status().message(), "supplier");
    suppliers.push_back(std::move(*s));
  } else {
    SHOPEASY_ASSIGN_OR_RETURN(suppliers, list_suppliers());
  }
  ProposalReport report;
  report.generated_at_ms = now_ms();
  const std::int64_t now = report.generated_at_ms;
  if (forecast_cache_) SHOPEASY_RETURN_IF_ERROR(sync_forecast_cache(now));
  // Read at the first SKU that needs a fit, and kept for the hour: every SKU's forecast
  // in the hour pools it.
  std::shared_ptr<const demand::StorePool> pool;
  auto fit_sku = [&](const std::string& sku) -> StatusOr<DemandForecast> {
    if (!pool) {
      SHOPEASY_ASSIGN_OR_RETURN(pool, store_pool(now));
    }
    return fit(sku, now, pool.get());
  };
  for (const SupplierRecord& s : suppliers) {
    if (!s.supplier.active) continue;
    for (const SkuSupply& link : s.skus) {
      if (query.sku && link.sku != *query.sku) continue;
      std::shared_ptr<const DemandForecast> demand;
      if (forecast_cache_) {
        SHOPEASY_ASSIGN_OR_RETURN(demand, forecast_cache_->get(link.sku, demand_.local_hour(now),
                                                               [&] { return fit_sku(link.sku); }));
      } else {
        // Uncached: each SKU's forecast reads the pooled shape itself, as before.
        SHOPEASY_ASSIGN_OR_RETURN(auto d, fit(link.sku, now, nullptr));
        demand = std::make_shared<const DemandForecast>(std::move(d));
      }
      SHOPEASY_ASSIGN_OR_RETURN(auto p, propose_one(s.supplier, link, now, *demand));
      if (query.only_to_order && p.qty == 0) continue;
      report.lines.push_back(std::move(p));
    }
  }
  return report;
}

// --- purchase orders ---

StatusOr<PurchaseOrder> Replenishment::create_po(const PoCreate& in,
                                                 const inventory::Actor& actor) {
  if (!valid_id(in.request_id)) {
    return invalid_argument("request_id must be 1..64 characters", "request_id");
  }
  if (!valid_id(in.supplier_id)) {
    return invalid_argument("supplier_id must be 1..64 characters", "supplier_id");
  }
  if (in.lines.size() > kMaxPoLines) {
    return invalid_argument("at most " + std::to_string(kMaxPoLines) + " lines", "lines");
  }
  struct Line {
    std::string sku;
    std::int64_t qty = 0;
    std::optional<nlohmann::json> why;
  };
  std::vector<Line> lines;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < in.lines.size(); ++i) {
    const std::string field = "lines[" + std::to_string(i) + "]";
    if (!valid_id(in.lines[i].sku)) {
      return invalid_argument(field + ".sku must be 1..64 characters", field + ".sku");
    }
    if (in.lines[i].qty < 1 || in.lines[i].qty > kMaxPoQty) {
      return invalid_argument(field + ".qty must be 1.." + std::to_string(kMaxPoQty),
                              field + ".qty");
    }
    if (!seen.insert(in.lines[i].sku).second) {
      return invalid_argument(field + ".sku " + in.lines[i].sku + " is on an earlier line",
                              field + ".sku");
    }
    lines.push_back(Line{in.lines[i].sku, in.lines[i].qty, std::nullopt});
  }
  // A repeat of a request must not need the proposal again (it may have changed).
  SHOPEASY_ASSIGN_OR_RETURN(auto earlier, store_.read([&](db::Database& db) {
    return db.query_one<std::string>("SELECT po_id FROM purchase_orders WHERE request_id = ?",
                                     in.request_id);
  }));
  if (lines.empty() && !earlier) {
    SHOPEASY_ASSIGN_OR_RETURN(
        auto report, proposal(ProposalQuery{in.supplier_id, std::nullopt, /*only_to_order=*/true}));
    for (const Proposal& p : report.lines) lines.push_back(Line{p.sku, p.qty, proposal_json(p)});
    if (lines.empty()) {
      return failed("nothing to order from " + in.supplier_id + " now", "lines");
    }
  }
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<PurchaseOrder> {
    db::Database& db = ctx.db();
    SHOPEASY_ASSIGN_OR_RETURN(
        auto existing,
        db.query_one<std::string>("SELECT po_id FROM purchase_orders WHERE request_id = ?",
                                  in.request_id));
    if (existing) {
      SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(db, *existing));
      po.duplicate = true;
      return po;
    }
    if (lines.empty()) return failed("nothing to order from " + in.supplier_id + " now", "lines");
    SHOPEASY_ASSIGN_OR_RETURN(auto supplier, require_supplier(db, in.supplier_id));
    if (!supplier.supplier.active) {
      return failed("supplier " + in.supplier_id + " is inactive", "supplier_id");
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string field = "lines[" + std::to_string(i) + "].sku";
      SHOPEASY_ASSIGN_OR_RETURN(
          auto known,
          db.query_one<std::int64_t>("SELECT 1 FROM products WHERE sku = ?", lines[i].sku));
      if (!known) return Status(StatusCode::kNotFound, "no product '" + lines[i].sku + "'", field);
      SHOPEASY_ASSIGN_OR_RETURN(
          auto draft, db.query_one<std::string>(
                          "SELECT p.po_id FROM po_lines l JOIN purchase_orders p ON p.po_id = "
                          "l.po_id WHERE l.sku = ? AND p.supplier_id = ? AND p.status = 'draft'",
                          lines[i].sku, in.supplier_id));
      if (draft) {
        return failed(lines[i].sku + " is already on draft " + *draft + " for " + in.supplier_id,
                      field);
      }
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto count,
                              db.query_one<std::int64_t>("SELECT COUNT(*) FROM purchase_orders"));
    char number[32];
    std::snprintf(number, sizeof number, "%06lld", static_cast<long long>(count.value_or(0) + 1));
    const std::string po_id = "PO-" + options_.store_id + "-" + number;
    SHOPEASY_RETURN_IF_ERROR(db.run(
        "INSERT INTO purchase_orders (po_id, supplier_id, status, request_id, created_by, "
        "created_at_ms, updated_at_ms, note) VALUES (?, ?, 'draft', ?, ?, ?, ?, ?)",
        po_id, in.supplier_id, in.request_id, actor.name, ctx.now_ms(), ctx.now_ms(), in.note));
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::optional<std::string> why;
      if (lines[i].why) why = lines[i].why->dump();
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO po_lines (po_id, line_no, sku, qty, why) VALUES (?, ?, ?, ?, ?)",
                 po_id, static_cast<std::int64_t>(i + 1), lines[i].sku, lines[i].qty, why));
    }
    SHOPEASY_RETURN_IF_ERROR(set_status(ctx, po_id, PoStatus::kDraft, actor, std::nullopt));
    SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(db, po_id));
    SHOPEASY_RETURN_IF_ERROR(emit_po_changed(ctx, po));
    return po;
  });
  po_changes_.with({"create", result.ok() ? "ok" : "refused"}).inc();
  if (result.ok() && !result->duplicate) {
    logger_.info("purchase_order.created", {{"po_id", result->po_id},
                                            {"supplier", result->supplier_id},
                                            {"lines", std::to_string(result->lines.size())},
                                            {"actor", actor.name}});
  }
  return result;
}

StatusOr<PurchaseOrder> Replenishment::get_po(const std::string& po_id) {
  if (!valid_id(po_id)) return invalid_argument("po_id must be 1..64 characters", "po_id");
  return store_.read([&](db::Database& db) { return read_po(db, po_id); });
}

StatusOr<std::vector<PurchaseOrder>> Replenishment::list_pos(std::optional<PoStatus> status,
                                                             int limit) {
  return store_.read([&](db::Database& db) -> StatusOr<std::vector<PurchaseOrder>> {
    std::vector<std::string> ids;
    auto q = status ? db.query(
                          "SELECT po_id FROM purchase_orders WHERE status = ? "
                          "ORDER BY created_at_ms DESC, po_id DESC LIMIT ?",
                          std::string(po_status_name(*status)), limit)
                    : db.query(
                          "SELECT po_id FROM purchase_orders "
                          "ORDER BY created_at_ms DESC, po_id DESC LIMIT ?",
                          limit);
    while (const db::Statement* row = q.next()) ids.push_back(row->column_text(0));
    SHOPEASY_RETURN_IF_ERROR(q.status());
    std::vector<PurchaseOrder> out;
    for (const std::string& id : ids) {
      SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(db, id));
      out.push_back(std::move(po));
    }
    return out;
  });
}

StatusOr<PurchaseOrder> Replenishment::send_po(const std::string& po_id,
                                               const inventory::Actor& actor) {
  if (!valid_id(po_id)) return invalid_argument("po_id must be 1..64 characters", "po_id");
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<PurchaseOrder> {
    SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(ctx.db(), po_id));
    if (po.status == PoStatus::kSent || po.status == PoStatus::kPartiallyReceived) return po;
    if (po.status != PoStatus::kDraft) {
      return failed(po_id + " is " + std::string(po_status_name(po.status)) + " and cannot be sent",
                    "status");
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto supplier, require_supplier(ctx.db(), po.supplier_id));
    SHOPEASY_RETURN_IF_ERROR(set_status(ctx, po_id, PoStatus::kSent, actor, std::nullopt));
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "UPDATE purchase_orders SET expected_at_ms = ? WHERE po_id = ?",
        ctx.now_ms() + std::int64_t{supplier.supplier.lead_time_days} * 86'400'000, po_id));
    SHOPEASY_ASSIGN_OR_RETURN(auto sent, read_po(ctx.db(), po_id));
    SHOPEASY_RETURN_IF_ERROR(emit_po_changed(ctx, sent));
    return sent;
  });
  po_changes_.with({"send", result.ok() ? "ok" : "refused"}).inc();
  return result;
}

StatusOr<PurchaseOrder> Replenishment::cancel_po(const std::string& po_id,
                                                 const std::string& reason,
                                                 const inventory::Actor& actor) {
  if (!valid_id(po_id)) return invalid_argument("po_id must be 1..64 characters", "po_id");
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<PurchaseOrder> {
    SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(ctx.db(), po_id));
    if (po.status == PoStatus::kCancelled) return po;
    if (!is_open(po.status)) {
      return failed(
          po_id + " is " + std::string(po_status_name(po.status)) + " and cannot be cancelled",
          "status");
    }
    SHOPEASY_RETURN_IF_ERROR(
        set_status(ctx, po_id, PoStatus::kCancelled, actor,
                   reason.empty() ? std::nullopt : std::optional<std::string>(reason)));
    SHOPEASY_ASSIGN_OR_RETURN(auto cancelled, read_po(ctx.db(), po_id));
    SHOPEASY_RETURN_IF_ERROR(emit_po_changed(ctx, cancelled));
    return cancelled;
  });
  po_changes_.with({"cancel", result.ok() ? "ok" : "refused"}).inc();
  return result;
}

StatusOr<PoReceipt> Replenishment::receive(const std::string& po_id, const PoReceive& in,
                                           const inventory::Actor& actor) {
  if (!valid_id(po_id)) return invalid_argument("po_id must be 1..64 characters", "po_id");
  if (!valid_id(in.receipt_id)) {
    return invalid_argument("receipt_id must be 1..64 characters", "receipt_id");
  }
  if (in.qty < 1 || in.qty > kMaxPoQty) {
    return invalid_argument("qty must be 1.." + std::to_string(kMaxPoQty), "qty");
  }
  if (!in.line_no && !in.code) return invalid_argument("give line_no or code", "line_no");
  auto result = store_.write([&](WriteContext& ctx) -> StatusOr<PoReceipt> {
    db::Database& db = ctx.db();
    {
      auto q = db.query(
          "SELECT po_id, line_no, qty, ledger_id, response FROM po_receipts WHERE receipt_id = ?",
          in.receipt_id);
      if (const db::Statement* row = q.next()) {
        PoReceipt r;
        r.receipt_id = in.receipt_id;
        r.po_id = row->column_text(0);
        r.line_no = row->column<int>(1);
        r.qty = row->column_int64(2);
        r.ledger_id = row->column_int64(3);
        const auto stored = nlohmann::json::parse(row->column_text(4), nullptr, false);
        if (stored.is_object()) {
          r.sku = stored.value("sku", "");
          r.bin = stored.value("bin", "");
          r.sku_on_hand = stored.value("sku_on_hand", std::int64_t{0});
        }
        if (r.po_id != po_id) {
          return Status(StatusCode::kConflict,
                        "receipt " + in.receipt_id + " was recorded against " + r.po_id,
                        "receipt_id");
        }
        r.duplicate = true;
        SHOPEASY_ASSIGN_OR_RETURN(r.order, read_po(db, po_id));
        return r;
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto po, read_po(db, po_id));
    if (po.status == PoStatus::kDraft) {
      return failed(po_id + " is a draft: send it before receiving against it", "status");
    }
    if (!is_open(po.status)) {
      return failed(po_id + " is " + std::string(po_status_name(po.status)) +
                        ": nothing more can be received against it",
                    "status");
    }
    std::int64_t units = in.qty;
    std::optional<std::string> scanned_sku;
    std::optional<std::string> lot = in.lot;
    std::optional<std::string> expiry = in.expiry;
    if (in.code) {
      auto scanned = inventory_.resolve_scan_code(db, *in.code);
      if (!scanned.ok()) {
        return Status(scanned.status().code(), scanned.status().message(), "code");
      }
      scanned_sku = scanned->sku;
      units = in.qty * scanned->units;  // a case label counts its trade items
      // A GS1-128 label carries the lot and expiry: they fill what the request left out,
      // and a request that says otherwise is a mistake, not a choice.
      for (auto [field, given, label] : {std::tuple{"lot", &lot, &scanned->lot},
                                         std::tuple{"expiry", &expiry, &scanned->expiry}}) {
        if (!label->has_value()) continue;
        if (given->has_value() && **given != **label) {
          return invalid_argument(
              std::string(field) + " " + **given + " differs from the label's " + **label, field);
        }
        *given = *label;
      }
    }
    const PoLine* line = nullptr;
    for (const PoLine& l : po.lines) {
      if (in.line_no ? l.line_no == *in.line_no : l.sku == *scanned_sku) line = &l;
    }
    if (line == nullptr) {
      if (in.line_no) {
        return Status(StatusCode::kNotFound, po_id + " has no line " + std::to_string(*in.line_no),
                      "line_no");
      }
      return invalid_argument("wrong item: " + *scanned_sku + " is not on " + po_id, "code");
    }
    if (scanned_sku && *scanned_sku != line->sku) {
      return invalid_argument("wrong item: scanned " + *scanned_sku + ", line " +
                                  std::to_string(line->line_no) + " is " + line->sku,
                              "code");
    }
    const std::int64_t open = line->qty - line->received;
    if (units > open) {
      return failed("over receipt: " + std::to_string(units) + " units scanned, line " +
                        std::to_string(line->line_no) + " (" + line->sku + ") has " +
                        std::to_string(open) + " open",
                    "qty");
    }
    SHOPEASY_ASSIGN_OR_RETURN(auto product, inventory::detail::product_by_sku(db, line->sku));
    std::string bin;
    if (in.bin) {
      bin = *in.bin;
    } else if (product.home_bin) {
      bin = *product.home_bin;
    } else {
      return invalid_argument(line->sku + " has no home bin; give a bin", "bin");
    }
    SHOPEASY_RETURN_IF_ERROR(inventory::detail::require_bin(db, bin, "bin"));
    SHOPEASY_ASSIGN_OR_RETURN(auto lot_id,
                              inventory::detail::lot_id_for(db, line->sku, lot, expiry, true));
    SHOPEASY_ASSIGN_OR_RETURN(
        auto moved, inventory::detail::apply_movement(
                        ctx, options_.store_id, actor,
                        inventory::detail::Movement{line->sku, bin, lot_id, units, 0, "receive",
                                                    po_id, "receipt " + in.receipt_id}));
    SHOPEASY_RETURN_IF_ERROR(
        db.run("UPDATE po_lines SET received = received + ? WHERE po_id = ? AND line_no = ?", units,
               po_id, static_cast<std::int64_t>(line->line_no)));
    bool complete = true;
    for (const PoLine& l : po.lines) {
      const std::int64_t received = l.received + (l.line_no == line->line_no ? units : 0);
      if (received < l.qty) complete = false;
    }
    const PoStatus next = complete ? PoStatus::kReceived : PoStatus::kPartiallyReceived;
    if (next != po.status) {
      SHOPEASY_RETURN_IF_ERROR(set_status(ctx, po_id, next, actor, std::nullopt));
    } else {
      SHOPEASY_RETURN_IF_ERROR(db.run(
          "UPDATE purchase_orders SET updated_at_ms = ? WHERE po_id = ?", ctx.now_ms(), po_id));
    }
    PoReceipt r;
    r.receipt_id = in.receipt_id;
    r.po_id = po_id;
    r.line_no = line->line_no;
    r.sku = line->sku;
    r.qty = units;
    r.bin = bin;
    r.ledger_id = moved.ledger_id;
    r.sku_on_hand = moved.sku_on_hand;
    const nlohmann::json stored = {{"sku", r.sku}, {"bin", r.bin}, {"sku_on_hand", r.sku_on_hand}};
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT INTO po_receipts (receipt_id, po_id, line_no, qty, ledger_id, at_ms, actor, "
               "response) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               r.receipt_id, po_id, static_cast<std::int64_t>(r.line_no), units, r.ledger_id,
               ctx.now_ms(), actor.name, stored.dump()));
    SHOPEASY_ASSIGN_OR_RETURN(r.order, read_po(db, po_id));
    SHOPEASY_RETURN_IF_ERROR(emit_po_changed(ctx, r.order));
    return r;
  });
  receipts_.with({result.ok() ? (result->duplicate ? "duplicate" : "ok") : "refused"}).inc();
  if (!result.ok()) {
    logger_.info(
        "purchase_order.receipt_refused",
        {{"po_id", po_id}, {"receipt_id", in.receipt_id}, {"error", result.status().message()}});
  }
  return result;
}

// --- JSON ---

nlohmann::json supplier_json(const SupplierRecord& r) {
  nlohmann::json skus = nlohmann::json::array();
  for (const SkuSupply& s : r.skus) {
    nlohmann::json j = {{"sku", s.sku}, {"service_level", s.service_level}};
    j["shelf_life_days"] = s.shelf_life_days ? nlohmann::json(*s.shelf_life_days) : nullptr;
    j["pack_size"] = s.pack_size ? nlohmann::json(*s.pack_size) : nullptr;
    skus.push_back(std::move(j));
  }
  return {{"id", r.supplier.id},
          {"name", r.supplier.name},
          {"lead_time_days", r.supplier.lead_time_days},
          {"order_days", format_order_days(r.supplier.order_days)},
          {"min_order_qty", r.supplier.min_order_qty},
          {"pack_size", r.supplier.pack_size},
          {"active", r.supplier.active},
          {"updated_at_ms", r.updated_at_ms},
          {"skus", std::move(skus)}};
}

nlohmann::json proposal_json(const Proposal& p) {
  return {{"sku", p.sku},
          {"supplier_id", p.supplier_id},
          {"qty", p.qty},
          {"order_day", p.order_day},
          {"lead_time_days", p.lead_time_days},
          {"review_days", p.review_days},
          {"service_level", p.service_level},
          {"forecast_lead_time", p.demand_lead_time},
          {"forecast_protection", p.demand_protection},
          {"forecast_shelf_life", p.demand_shelf_life},
          {"reorder_point", p.reorder_point},
          {"order_up_to", p.order_up_to},
          {"safety_stock", p.safety_stock},
          {"on_hand", p.on_hand},
          {"usable_on_hand", p.usable_on_hand},
          {"reserved", p.reserved},
          {"on_order", p.on_order},
          {"inventory_position", p.inventory_position},
          {"shortfall", p.shortfall},
          {"pack_size", p.pack_size},
          {"method", p.method},
          {"censored_hours", p.censored_steps},
          {"reasons", p.reasons},
          {"draft_po_id", p.draft_po_id ? nlohmann::json(*p.draft_po_id) : nlohmann::json(nullptr)},
          {"draft_qty", p.draft_qty}};
}

nlohmann::json proposal_report_json(const ProposalReport& r) {
  nlohmann::json lines = nlohmann::json::array();
  for (const Proposal& p : r.lines) lines.push_back(proposal_json(p));
  return {{"generated_at_ms", r.generated_at_ms}, {"lines", std::move(lines)}};
}

nlohmann::json purchase_order_json(const PurchaseOrder& po) {
  nlohmann::json lines = nlohmann::json::array();
  for (const PoLine& l : po.lines) {
    nlohmann::json j = {{"line_no", l.line_no},
                        {"sku", l.sku},
                        {"qty", l.qty},
                        {"received", l.received},
                        {"open", std::max<std::int64_t>(0, l.qty - l.received)}};
    j["why"] = l.why ? *l.why : nlohmann::json(nullptr);
    lines.push_back(std::move(j));
  }
  nlohmann::json history = nlohmann::json::array();
  for (const PoEvent& e : po.history) {
    nlohmann::json j = {{"status", e.status}, {"at_ms", e.at_ms}, {"actor", e.actor}};
    j["reason"] = e.reason ? nlohmann::json(*e.reason) : nlohmann::json(nullptr);
    history.push_back(std::move(j));
  }
  nlohmann::json out = {{"po_id", po.po_id},
                        {"supplier_id", po.supplier_id},
                        {"status", std::string(po_status_name(po.status))},
                        {"created_by", po.created_by},
                        {"created_at_ms", po.created_at_ms},
                        {"updated_at_ms", po.updated_at_ms},
                        {"lines", std::move(lines)},
                        {"history", std::move(history)},
                        {"duplicate", po.duplicate}};
  out["request_id"] = po.request_id ? nlohmann::json(*po.request_id) : nlohmann::json(nullptr);
  out["expected_at_ms"] =
      po.expected_at_ms ? nlohmann::json(*po.expected_at_ms) : nlohmann::json(nullptr);
  out["note"] = po.note ? nlohmann::json(*po.note) : nlohmann::json(nullptr);
  return out;
}

nlohmann::json po_receipt_json(const PoReceipt& r) {
  return {{"receipt_id", r.receipt_id},
          {"po_id", r.po_id},
          {"line_no", r.line_no},
          {"sku", r.sku},
          {"qty", r.qty},
          {"bin", r.bin},
          {"ledger_id", r.ledger_id},
          {"sku_on_hand", r.sku_on_hand},
          {"duplicate", r.duplicate},
          {"order", purchase_order_json(r.order)}};
}

}  // namespace shopeasy::edge::replenish
