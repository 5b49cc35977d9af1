#include "cloud/pricing/pricing_service.hpp"

#include <algorithm>
#include <set>

#include "common/geohash/geohash.hpp"
#include "common/security/encoding.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::pricing {
namespace {

constexpr const char* kConfigKey = "pricing.config";
constexpr const char* kCompetitorKey = "pricing.competitor";
constexpr const char* kSignalsKey = "pricing.signals";
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMaxFeedRows = 20'000;
// A store's near-expiry list older than this is not used: a store that is syncing resends
// it every minute, and one that stopped may have sold those units.
constexpr std::int64_t kLotsMaxAgeMs = 10 * 60'000;
// Likewise a store's stock cover list: its units move with every sale, so an old list
// may call a SKU overstocked that has since sold down.
constexpr std::int64_t kCoverMaxAgeMs = 10 * 60'000;

struct CartRequest {
  std::vector<wire::OrderLine> lines;
  geohash::LatLon point{};
};

// A quote holds for deliveries within its geohash cell at this precision (about
// 150 m x 150 m): close enough that the same stores serve it at the same fee.
constexpr int kQuoteCellPrecision = 7;

// The order body's "lines" and "delivery", read as POST /api/orders reads them.
StatusOr<CartRequest> parse_cart(const nlohmann::json& j) {
  StatusOr<orders::Cart> cart = orders::parse_cart(j);
  if (!cart.ok()) return cart.status();
  return CartRequest{.lines = std::move(cart->lines),
                     .point = {cart->delivery.lat, cart->delivery.lon}};
}

PriceModel from_row(const storage::PriceModelRow& r) {
  return PriceModel{.sku = r.sku,
                    .store_id = r.store_id,
                    .base_cents = r.base_cents,
                    .mrp_cents = r.mrp_cents,
                    .cost_cents = r.cost_cents,
                    .min_margin_bp = r.min_margin_bp};
}

// The cart as (sku -> qty), for comparing an order with its quote.
std::map<std::string, std::int64_t> cart_of(const std::vector<wire::OrderLine>& lines) {
  std::map<std::string, std::int64_t> out;
  for (const wire::OrderLine& l : lines) out[l.sku] += l.qty;
  return out;
}

}  // namespace

PricingService::PricingService(storage::CloudStore& store, const routing::StoreIndex& index,
                               const Clock& clock, std::int64_t online_window_ms,
                               log::Logger logger, metrics::Registry& metrics)
    : store_(store),
      index_(index),
      clock_(clock),
      online_window_ms_(online_window_ms),
      logger_(std::move(logger)),
      quotes_(metrics.counter_family("cloud_pricing_quotes_total", "Quotes asked for, by outcome",
                                     {"outcome"})),
      stale_signals_(metrics.counter("cloud_pricing_stale_signals_total",
                                     "Quotes that found a store's load signal too old to use")),
      changes_(metrics.counter_family("cloud_pricing_changes_total",
                                      "Price and fee changes recorded, by kind", {"kind"})) {}

StatusOr<std::shared_ptr<const PricingService::Snapshot>> PricingService::load_snapshot() {
  auto snap = std::make_shared<Snapshot>();
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<nlohmann::json> config, store_.get_setting(kConfigKey));
  if (config) {
    StatusOr<PricingConfig> c = config_from_json(*config);
    if (!c.ok()) return internal_error("stored pricing configuration: " + c.status().to_string());
    snap->config = std::move(*c);
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<nlohmann::json> feed, store_.get_setting(kCompetitorKey));
  if (feed && feed->contains("rows") && (*feed)["rows"].is_array()) {
    for (const nlohmann::json& r : (*feed)["rows"]) {
      CompetitorPrice p{.sku = r.value("sku", ""),
                        .competitor = r.value("competitor", ""),
                        .price_cents = r.value("price_cents", std::int64_t{0}),
                        .observed_at_ms = r.value("observed_at_ms", std::int64_t{0})};
      snap->competitor[p.sku].push_back(std::move(p));
    }
  }
  std::string settings = config ? config->dump() : "";
  if (feed) settings += "|" + std::to_string(feed->value("imported_at_ms", std::int64_t{0}));
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<nlohmann::json> signals, store_.get_setting(kSignalsKey));
  if (signals) settings += "|" + signals->dump();
  snap->fingerprint = std::hash<std::string>{}(settings);
  if (signals && signals->is_object()) {
    snap->signals_doc = *signals;
    for (auto it = signals->begin(); it != signals->end(); ++it) {
      const nlohmann::json& s = it.value();
      if (s.contains("load_at_ms")) {
        snap->load[it.key()] =
            LoadSignal{.open_orders = s.value("open_orders", std::int64_t{0}),
                       .available_runners = s.value("available_runners", std::int64_t{0}),
                       .pick_queue = s.value("pick_queue", std::int64_t{0}),
                       .at_ms = s.value("load_at_ms", std::int64_t{0})};
      }
      const std::int64_t until = s.value("bad_weather_until_ms", std::int64_t{0});
      if (until > 0) snap->weather[it.key()] = WeatherFlag{.bad_weather = true, .until_ms = until};
    }
  }
  // What stores reported with their sync batches; the newer of that and an operator's
  // signal counts. Only loads young enough to matter are read (older ones are neutral).
  SHOPEASY_ASSIGN_OR_RETURN(
      std::vector<storage::StoreLoad> reported,
      store_.store_loads(now_ms() - 2 * snap->config.surge.max_signal_age_ms));
  for (const storage::StoreLoad& l : reported) {
    LoadSignal& current = snap->load[l.store_id];
    if (l.at_ms >= current.at_ms) {
      current = LoadSignal{.open_orders = l.open_orders,
                           .available_runners = l.available_runners,
                           .pick_queue = l.pick_queue,
                           .at_ms = l.at_ms};
    }
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

void PricingService::publish(std::shared_ptr<const Snapshot> s) {
  bool changed = false;
  {
    sync::MutexLock lock(mutex_);
    changed = !snapshot_ || snapshot_->fingerprint != s->fingerprint;
    snapshot_ = std::move(s);
    loaded_at_ms_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.mono_now().time_since_epoch())
            .count();
  }
  if (changed) bump_generation();
}

int PricingService::served_step(const std::string& store_id) {
  sync::MutexLock lock(mutex_);
  const auto it = surge_step_.find(store_id);
  return it == surge_step_.end() ? 0 : it->second;
}

StatusOr<std::optional<PriceModel>> PricingService::model_at(const std::string& sku,
                                                             const std::string& store_id) {
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceModelRow> rows, store_.price_model_rows(sku));
  std::vector<PriceModel> models;
  for (const auto& r : rows) models.push_back(from_row(r));
  return resolve(models, store_id);
}

void PricingService::bump_generation() {
  {
    sync::MutexLock lock(generation_mutex_);
    ++generation_;
  }
  generation_cv_.notify_all();
}

std::uint64_t PricingService::generation() {
  sync::MutexLock lock(generation_mutex_);
  return generation_;
}

void PricingService::wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sync::MutexLock lock(generation_mutex_);
  while (generation_ == seen) {
    if (generation_cv_.wait_until(generation_mutex_, deadline) == std::cv_status::timeout) return;
  }
}

SurgeDecision PricingService::fee_at(const Snapshot& snap, const std::string& store_id,
                                     int previous_step, std::int64_t now) const {
  if (!snap.config.enabled) {
    SurgeDecision fee;
    fee.fee_cents = snap.config.surge.base_fee_cents;
    fee.reason = "base delivery fee (dynamic pricing is off)";
    return fee;
  }
  const auto load = snap.load.find(store_id);
  const auto weather = snap.weather.find(store_id);
  return evaluate_surge(snap.config.surge, load == snap.load.end() ? nullptr : &load->second,
                        weather == snap.weather.end() ? WeatherFlag{} : weather->second,
                        previous_step, now);
}

StatusOr<std::shared_ptr<const PricingService::Snapshot>> PricingService::snapshot() {
  const std::int64_t mono =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.mono_now().time_since_epoch())
          .count();
  {
    sync::MutexLock lock(mutex_);
    if (snapshot_ && mono - loaded_at_ms_ < kRefreshMs) return snapshot_;
  }
  // Read outside the lock: concurrent quotes may both read, and the later copy wins.
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> fresh, load_snapshot());
  publish(fresh);
  return fresh;
}

StatusOr<PricingService::Priced> PricingService::price_cart(
    const Snapshot& snap, const std::string& store_id, const std::vector<wire::OrderLine>& lines,
    std::int64_t now) {
  Priced out;
  out.store_id = store_id;
  std::vector<storage::PriceChange> changes;
  // The store's lots near expiry, by SKU, soonest first: the units its pickers take first
  // (FEFO), so the ones a quote marks down.
  std::map<std::string, std::vector<wire::NearExpiryLot>> near_expiry;
  nlohmann::json markdown_fees = nlohmann::json::array();  // after the delivery fee
  if (snap.config.enabled && snap.config.markdown.enabled) {
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::StoreLots> lots, store_.store_lots(store_id));
    if (lots && now - lots->at_ms <= kLotsMaxAgeMs) {
      for (wire::NearExpiryLot& l : lots->lots) near_expiry[l.sku].push_back(std::move(l));
    }
  }
  // The store's overstocked and scarce SKUs, read once per quote.
  std::map<std::string, SkuCover> cover;
  if (snap.config.enabled && snap.config.inventory.enabled) {
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::StoreCover> reported,
                              store_.store_cover(store_id));
    if (reported && now - reported->at_ms <= kCoverMaxAgeMs) {
      for (const wire::StockCover& c : reported->cover) {
        cover[c.sku] = SkuCover{.units = c.units, .daily_demand = c.daily_demand};
      }
    }
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const wire::OrderLine& line = lines[i];
    const std::string field = "lines[" + std::to_string(i) + "].sku";
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::CatalogItem> item,
                              store_.get_catalog_item(line.sku));
    if (!item || !item->active) {
      return Status(StatusCode::kNotFound,
                    "line " + std::to_string(i) + ": no product '" + line.sku + "' in the catalog",
                    field);
    }
    SHOPEASY_ASSIGN_OR_RETURN(const std::optional<PriceModel> model, model_at(line.sku, store_id));
    std::int64_t unit = item->price_cents;
    std::string rule = "catalog";
    std::string reason = "catalog price (no price model)";
    if (model) {
      SkuInputs inputs;
      if (auto it = snap.competitor.find(line.sku); it != snap.competitor.end()) {
        inputs.competitor = it->second;
      }
      SHOPEASY_ASSIGN_OR_RETURN(
          std::optional<storage::PriceChange> hour_ago,
          store_.last_price_change(store_id, line.sku, "price", now - kHourMs));
      if (hour_ago) inputs.hour_ago_cents = hour_ago->new_cents;
      if (auto it = cover.find(line.sku); it != cover.end()) inputs.cover = it->second;
      PriceDecision d = price_sku(snap.config, *model, inputs, now);
      unit = d.price_cents;
      rule = d.rule;
      reason = d.reason;
      SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::PriceChange> last,
                                store_.last_price_change(store_id, line.sku, "price", now));
      const std::int64_t current = last ? last->new_cents : model->base_cents;
      nlohmann::json audit_inputs = {
          {"base_cents", model->base_cents},
          {"mrp_cents", model->mrp_cents},
          {"floor_cents", floor_cents(*model) ? nlohmann::json(*floor_cents(*model)) : nullptr},
          {"hour_ago_cents", inputs.hour_ago_cents ? nlohmann::json(*inputs.hour_ago_cents)
                                                   : nlohmann::json(nullptr)},
          {"competitor_rows", inputs.competitor.size()},
          {"reason", d.reason}};
      if (inputs.cover) {
        audit_inputs["cover"] = {{"units", inputs.cover->units},
                                 {"daily_demand", inputs.cover->daily_demand}};
      }
      if (d.pending_approval) {
        // A manager's approval of exactly this proposal lets it through.
        SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::PriceChange> approved,
                                  store_.last_price_change(store_id, line.sku, "approved", now));
        if (approved && approved->new_cents == d.proposed_cents) {
          d.pending_approval = false;
          d.price_cents = d.proposed_cents;
          d.reason += " (approved)";
          unit = d.price_cents;
          reason = d.reason;
        }
      }
      if (unit != current) {
        changes.push_back({.at_ms = now,
                           .store_id = store_id,
                           .sku = line.sku,
                           .kind = "price",
                           .rule = d.rule,
                           .old_cents = current,
                           .new_cents = unit,
                           .inputs = audit_inputs});
      }
      if (d.pending_approval) {
        SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::PriceChange> pending,
                                  store_.last_price_change(store_id, line.sku, "pending", now));
        if (!pending || pending->new_cents != d.proposed_cents) {
          changes.push_back({.at_ms = now,
                             .store_id = store_id,
                             .sku = line.sku,
                             .kind = "pending",
                             .rule = d.rule,
                             .old_cents = unit,
                             .new_cents = d.proposed_cents,
                             .inputs = audit_inputs});
        }
      }
    }
    nlohmann::json priced_line = {{"sku", line.sku},
                                  {"name", item->name},
                                  {"qty", line.qty},
                                  {"unit_price_cents", unit},
                                  {"amount_cents", unit * line.qty},
                                  {"rule", rule},
                                  {"reason", reason}};
    out.total_cents += unit * line.qty;
    if (const auto lots = near_expiry.find(line.sku); model && lots != near_expiry.end()) {
      // The first units picked come from the lots about to expire: those units, and no
      // others, are sold at the lot's markdown (never above the line's own price).
      std::int64_t left = line.qty;
      std::int64_t saved = 0;
      std::int64_t lowest = unit;
      nlohmann::json markdowns = nlohmann::json::array();
      nlohmann::json lot_inputs = nlohmann::json::array();
      for (const wire::NearExpiryLot& l : lots->second) {
        if (left == 0) break;
        const std::optional<LotPrice> p = price_lot(
            snap.config, *model,
            Lot{.lot_id = l.lot, .sku = l.sku, .expires_ms = l.expires_ms, .units = l.units}, now);
        if (!p || p->price_cents >= unit) continue;
        const std::int64_t n = std::min(left, l.units);
        left -= n;
        saved += n * (unit - p->price_cents);
        markdowns.push_back({{"lot", l.lot},
                             {"expires_ms", l.expires_ms},
                             {"qty", n},
                             {"unit_price_cents", p->price_cents},
                             {"off_bp", p->off_bp},
                             {"reason", p->reason}});
        lowest = std::min(lowest, p->price_cents);
        lot_inputs.push_back({{"lot", l.lot},
                              {"expires_ms", l.expires_ms},
                              {"units", l.units},
                              {"off_bp", p->off_bp},
                              {"price_cents", p->price_cents}});
      }
      if (saved > 0) {
        // One entry per SKU, when its deepest markdown moves: the audit shows each change
        // of price without an entry per quote.
        SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::PriceChange> last,
                                  store_.last_price_change(store_id, line.sku, "markdown", now));
        if (!last || last->new_cents != lowest) {
          changes.push_back({.at_ms = now,
                             .store_id = store_id,
                             .sku = line.sku,
                             .kind = "markdown",
                             .rule = "markdown",
                             .old_cents = unit,
                             .new_cents = lowest,
                             .inputs = {{"base_cents", model->base_cents},
                                        {"floor_cents", *floor_cents(*model)},
                                        {"lots", std::move(lot_inputs)}}});
        }
        const std::int64_t units = line.qty - left;
        priced_line["markdowns"] = std::move(markdowns);
        markdown_fees.push_back({{"kind", "markdown"},
                                 {"sku", line.sku},
                                 {"amount_cents", -saved},
                                 {"reason", std::to_string(units) + " of " + item->name +
                                                " from lots near expiry, marked down"}});
        out.total_cents -= saved;
      }
    }
    out.lines.push_back(std::move(priced_line));
  }

  // The delivery fee from the store's load.
  int previous = 0;
  {
    sync::MutexLock lock(mutex_);
    previous = surge_step_[store_id];
  }
  const SurgeDecision fee = fee_at(snap, store_id, previous, now);
  if (fee.stale_signal) {
    stale_signals_.inc();
    logger_.info("pricing_signal_stale", {{"store", store_id}, {"reason", fee.reason}});
  }
  bool moved = false;
  {
    sync::MutexLock lock(mutex_);
    moved = surge_step_[store_id] != fee.step;
    surge_step_[store_id] = fee.step;
  }
  if (moved) {
    bump_generation();  // the store's view shows its fee
    const auto& steps = snap.config.surge.steps;
    const std::size_t was = std::min<std::size_t>(static_cast<std::size_t>(previous), steps.size());
    changes.push_back(
        {.at_ms = now,
         .store_id = store_id,
         .sku = "",
         .kind = "fee",
         .rule = snap.config.enabled ? "surge" : "kill_switch",
         .old_cents = was == 0 ? snap.config.surge.base_fee_cents : steps[was - 1].fee_cents,
         .new_cents = fee.fee_cents,
         .inputs = {{"step", fee.step}, {"reason", fee.reason}}});
  }
  out.fees.push_back(
      {{"kind", "delivery"}, {"amount_cents", fee.fee_cents}, {"reason", fee.reason}});
  out.total_cents += fee.fee_cents;
  for (nlohmann::json& f : markdown_fees) out.fees.push_back(std::move(f));

  if (!changes.empty()) {
    // The audit is best effort against the quote: a failed write is logged and counted,
    // and the next quote records the change again (it still differs from the last entry).
    Status st = store_.add_price_changes(changes);
    if (!st.is_ok()) {
      logger_.warn("pricing_audit_failed", {{"store", store_id}, {"error", st.to_string()}});
    } else {
      for (const auto& c : changes) changes_.with({c.kind}).inc();
    }
  }
  return out;
}

StatusOr<nlohmann::json> PricingService::quote(const nlohmann::json& body) {
  StatusOr<CartRequest> cart = parse_cart(body);
  if (!cart.ok()) {
    quotes_.with({"bad_request"}).inc();
    return cart.status();
  }
  const std::int64_t now = now_ms();
  routing::Serving serving = index_.serving(cart->point, now, online_window_ms_);
  const routing::Candidate* chosen = nullptr;
  for (const auto& c : serving.candidates) {
    if (c.online && c.open) {
      chosen = &c;
      break;
    }
  }
  if (chosen == nullptr) {
    quotes_.with({"no_store"}).inc();
    return Status(StatusCode::kFailedPrecondition, "no open store delivers to this location",
                  "delivery");
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
  SHOPEASY_ASSIGN_OR_RETURN(Priced priced, price_cart(*snap, chosen->store->id, cart->lines, now));
  SHOPEASY_ASSIGN_OR_RETURN(std::string hex, security::random_hex(16));
  const std::string quote_id = "qt_" + hex;
  const std::int64_t expires = now + snap->config.quote_ttl_ms;
  nlohmann::json answer = {
      {"quote_id", quote_id}, {"store_id", priced.store_id},       {"lines", priced.lines},
      {"fees", priced.fees},  {"total_cents", priced.total_cents}, {"expires_at_ms", expires}};
  // Kept with the quote, not shown: where it holds.
  nlohmann::json stored = answer;
  SHOPEASY_ASSIGN_OR_RETURN(stored["delivery_cell"],
                            geohash::encode(cart->point, kQuoteCellPrecision));
  SHOPEASY_RETURN_IF_ERROR(store_.put_quote(storage::StoredQuote{
      .quote_id = quote_id, .created_at_ms = now, .expires_at_ms = expires, .body = stored}));
  quotes_.with({"quoted"}).inc();
  return answer;
}

StatusOr<orders::QuoteCheck> PricingService::check_quote(const std::string& quote_id,
                                                         const std::vector<wire::OrderLine>& lines,
                                                         const wire::DeliveryLocation& delivery) {
  orders::QuoteCheck out;
  if (quote_id.empty()) {
    // An order placed without a quote pays what a quote asked now would say, fees
    // included, at the store that would quote it: skipping the quote must not skip the
    // delivery fee. Where no open store delivers, routing refuses the order anyway.
    const geohash::LatLon point{delivery.lat, delivery.lon};
    const std::int64_t now = now_ms();
    routing::Serving serving = index_.serving(point, now, online_window_ms_);
    const routing::Candidate* chosen = nullptr;
    for (const auto& c : serving.candidates) {
      if (c.online && c.open) {
        chosen = &c;
        break;
      }
    }
    if (chosen == nullptr) {
      out.outcome = orders::QuoteCheck::Outcome::kUnknown;
      return out;
    }
    SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
    SHOPEASY_ASSIGN_OR_RETURN(Priced priced, price_cart(*snap, chosen->store->id, lines, now));
    out.outcome = orders::QuoteCheck::Outcome::kHonoured;
    out.total_cents = priced.total_cents;
    for (const nlohmann::json& l : priced.lines) {
      out.unit_price_cents[l.value("sku", "")] = l.value("unit_price_cents", std::int64_t{0});
    }
    out.current = {{"store_id", priced.store_id},
                   {"lines", priced.lines},
                   {"fees", priced.fees},
                   {"total_cents", priced.total_cents}};
    quotes_.with({"implicit"}).inc();
    return out;
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::StoredQuote> q, store_.get_quote(quote_id));
  if (!q) {
    out.outcome = orders::QuoteCheck::Outcome::kUnknown;
    return out;
  }
  StatusOr<std::string> cell = geohash::encode({delivery.lat, delivery.lon}, kQuoteCellPrecision);
  if (!cell.ok() || *cell != q->body.value("delivery_cell", "")) {
    out.outcome = orders::QuoteCheck::Outcome::kPlaceChanged;
    return out;
  }
  const nlohmann::json& quoted = q->body["lines"];
  std::vector<wire::OrderLine> quoted_lines;
  std::map<std::string, std::int64_t> quoted_unit;
  for (const nlohmann::json& l : quoted) {
    quoted_lines.push_back(wire::OrderLine{
        .sku = l.value("sku", ""), .qty = l.value("qty", std::int64_t{0}), .unit_price_cents = 0});
    quoted_unit[l.value("sku", "")] = l.value("unit_price_cents", std::int64_t{0});
  }
  const std::int64_t now = now_ms();
  if (cart_of(quoted_lines) != cart_of(lines)) {
    out.outcome = orders::QuoteCheck::Outcome::kCartChanged;
    const auto want = cart_of(lines);
    const auto had = cart_of(quoted_lines);
    std::set<std::string> skus;
    for (const auto& [sku, qty] : want) skus.insert(sku);
    for (const auto& [sku, qty] : had) skus.insert(sku);
    for (const std::string& sku : skus) {
      const std::int64_t a = had.count(sku) ? had.at(sku) : 0;
      const std::int64_t b = want.count(sku) ? want.at(sku) : 0;
      if (a != b) out.changed_lines.push_back({{"sku", sku}, {"quoted_qty", a}, {"qty", b}});
    }
    return out;
  }
  if (now >= q->expires_at_ms) {
    out.outcome = orders::QuoteCheck::Outcome::kExpired;
    // The prices now, for the same store, so the customer sees what changed.
    SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
    StatusOr<Priced> fresh = price_cart(*snap, q->body.value("store_id", ""), lines, now);
    if (fresh.ok()) {
      for (const nlohmann::json& l : fresh->lines) {
        const std::string sku = l.value("sku", "");
        const std::int64_t was = quoted_unit[sku];
        const std::int64_t is = l.value("unit_price_cents", std::int64_t{0});
        if (was != is) {
          out.changed_lines.push_back(
              {{"sku", sku}, {"quoted_unit_price_cents", was}, {"unit_price_cents", is}});
        }
      }
      out.current = {
          {"lines", fresh->lines}, {"fees", fresh->fees}, {"total_cents", fresh->total_cents}};
    }
    return out;
  }
  out.outcome = orders::QuoteCheck::Outcome::kHonoured;
  out.total_cents = q->body.value("total_cents", std::int64_t{0});
  out.unit_price_cents = std::move(quoted_unit);
  return out;
}

StatusOr<nlohmann::json> PricingService::get_model(const std::string& sku) {
  if (!is_valid_id(sku)) return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "sku");
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceModelRow> rows, store_.price_model_rows(sku));
  if (rows.empty()) return not_found("no price model for '" + sku + "'");
  nlohmann::json out = {{"sku", sku}, {"rows", nlohmann::json::array()}};
  for (const auto& r : rows) {
    nlohmann::json j = model_to_json(from_row(r));
    j["updated_at_ms"] = r.updated_at_ms;
    out["rows"].push_back(std::move(j));
  }
  return out;
}

StatusOr<nlohmann::json> PricingService::put_model(const std::string& sku,
                                                   const std::string& store_id,
                                                   const nlohmann::json& body) {
  if (!is_valid_id(sku)) return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "sku");
  SHOPEASY_ASSIGN_OR_RETURN(PriceModel m, model_from_json(body, sku, store_id));
  const std::int64_t now = now_ms();
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceModelRow> before,
                            store_.price_model_rows(sku));
  std::int64_t old_base = 0;
  for (const auto& r : before) {
    if (r.store_id == store_id) old_base = r.base_cents;
  }
  SHOPEASY_RETURN_IF_ERROR(
      store_.put_price_model(storage::PriceModelRow{.sku = m.sku,
                                                    .store_id = m.store_id,
                                                    .base_cents = m.base_cents,
                                                    .mrp_cents = m.mrp_cents,
                                                    .cost_cents = m.cost_cents,
                                                    .min_margin_bp = m.min_margin_bp,
                                                    .updated_at_ms = now}));
  SHOPEASY_RETURN_IF_ERROR(store_.add_price_changes({{.at_ms = now,
                                                      .store_id = store_id,
                                                      .sku = sku,
                                                      .kind = "model",
                                                      .rule = "operator",
                                                      .old_cents = old_base,
                                                      .new_cents = m.base_cents,
                                                      .inputs = model_to_json(m)}}));
  changes_.with({"model"}).inc();
  bump_generation();
  return model_to_json(m);
}

StatusOr<nlohmann::json> PricingService::history(const std::string& sku,
                                                 const std::string& store_id, std::int64_t after_id,
                                                 int limit) {
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceChange> rows,
                            store_.price_history(sku, store_id, after_id, limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& c : rows) {
    items.push_back({{"id", c.id},
                     {"at_ms", c.at_ms},
                     {"store_id", c.store_id},
                     {"sku", c.sku},
                     {"kind", c.kind},
                     {"rule", c.rule},
                     {"old_cents", c.old_cents},
                     {"new_cents", c.new_cents},
                     {"inputs", c.inputs}});
  }
  nlohmann::json out = {{"items", items}};
  out["next_after"] = rows.empty() ? after_id : rows.back().id;
  return out;
}

StatusOr<nlohmann::json> PricingService::get_config() {
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, load_snapshot());
  publish(snap);
  return config_to_json(snap->config);
}

StatusOr<PricingService::SurgeNow> PricingService::surge_now(
    const std::vector<std::string>& store_ids) {
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
  SurgeNow out;
  out.enabled = snap->config.enabled;
  const std::int64_t now = now_ms();
  for (const std::string& id : store_ids) out.fees[id] = fee_at(*snap, id, served_step(id), now);
  return out;
}

StatusOr<std::uint64_t> PricingService::store_pricing_key(const std::string& store_id) {
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
  const SurgeDecision fee = fee_at(*snap, store_id, served_step(store_id), now_ms());
  std::uint64_t key = snap->fingerprint;
  for (const std::int64_t part : {static_cast<std::int64_t>(fee.step), fee.fee_cents,
                                  static_cast<std::int64_t>(fee.stale_signal)}) {
    key = key * 1099511628211ULL ^ static_cast<std::uint64_t>(part);
  }
  return key;
}

StatusOr<StorePricing> PricingService::store_pricing(const std::string& store_id) {
  if (!is_valid_id(store_id)) {
    return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "store_id");
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, snapshot());
  const std::int64_t now = now_ms();
  StorePricing view;
  view.store_id = store_id;
  view.generated_at_ms = now;
  view.rules = snap->config;
  view.delivery_fee = fee_at(*snap, store_id, served_step(store_id), now);

  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceModelRow> overrides,
                            store_.store_price_models(store_id, kStoreViewMaxEntries));
  view.truncated |= overrides.size() >= static_cast<std::size_t>(kStoreViewMaxEntries);
  for (const storage::PriceModelRow& r : overrides) view.overrides.push_back(from_row(r));
  // With the kill switch on every SKU is at its base and no lot is marked down: the
  // lists stay empty rather than show what the rules would do.
  if (!snap->config.enabled) return view;

  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceChange> served,
                            store_.latest_price_changes(store_id, "price", kStoreViewMaxEntries));
  view.truncated |= served.size() >= static_cast<std::size_t>(kStoreViewMaxEntries);
  for (const storage::PriceChange& c : served) {
    const std::int64_t base = c.inputs.value("base_cents", c.new_cents);
    if (c.new_cents == base) continue;  // back at base: nothing to show
    view.prices.push_back(ServedPrice{.sku = c.sku,
                                      .price_cents = c.new_cents,
                                      .base_cents = base,
                                      .rule = c.rule,
                                      .reason = c.inputs.value("reason", ""),
                                      .since_ms = c.at_ms});
  }

  if (snap->config.markdown.enabled) {
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::StoreLots> lots, store_.store_lots(store_id));
    if (lots && now - lots->at_ms <= kLotsMaxAgeMs) {
      // A SKU's model once per view, however many of its lots are listed.
      std::map<std::string, std::optional<PriceModel>> models;
      for (const wire::NearExpiryLot& l : lots->lots) {
        auto found = models.find(l.sku);
        if (found == models.end()) {
          SHOPEASY_ASSIGN_OR_RETURN(std::optional<PriceModel> model, model_at(l.sku, store_id));
          found = models.emplace(l.sku, std::move(model)).first;
        }
        if (!found->second) continue;
        const PriceModel& model = *found->second;
        const std::optional<LotPrice> p = price_lot(
            snap->config, model,
            Lot{.lot_id = l.lot, .sku = l.sku, .expires_ms = l.expires_ms, .units = l.units}, now);
        if (!p) continue;
        view.markdowns.push_back(LotMarkdown{.sku = l.sku,
                                             .lot = l.lot,
                                             .expires_ms = l.expires_ms,
                                             .units = l.units,
                                             .price_cents = p->price_cents,
                                             .base_cents = model.base_cents,
                                             .off_bp = p->off_bp,
                                             .reason = p->reason});
      }
    }
  }
  return view;
}

StatusOr<nlohmann::json> PricingService::put_config(const nlohmann::json& patch) {
  if (!patch.is_object()) return invalid_argument("the body must be an object");
  sync::MutexLock lock(write_mutex_);
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, load_snapshot());
  nlohmann::json merged = config_to_json(snap->config);
  merged.merge_patch(patch);
  SHOPEASY_ASSIGN_OR_RETURN(PricingConfig c, config_from_json(merged));
  const nlohmann::json stored = config_to_json(c);
  const std::int64_t now = now_ms();
  SHOPEASY_RETURN_IF_ERROR(store_.put_setting(kConfigKey, stored, now));
  if (c.enabled != snap->config.enabled) {
    logger_.warn("pricing_switched", {{"enabled", c.enabled ? "true" : "false"}});
  }
  SHOPEASY_RETURN_IF_ERROR(store_.add_price_changes({{.at_ms = now,
                                                      .store_id = "",
                                                      .sku = "",
                                                      .kind = "config",
                                                      .rule = "operator",
                                                      .old_cents = snap->config.enabled ? 1 : 0,
                                                      .new_cents = c.enabled ? 1 : 0,
                                                      .inputs = patch}}));
  // Read back rather than patched in, so the fingerprint that wakes waiting stores
  // covers what was stored.
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> next, load_snapshot());
  publish(next);
  return stored;
}

StatusOr<nlohmann::json> PricingService::import_competitor_feed(const std::string& body,
                                                                bool is_json) {
  const std::int64_t now = now_ms();
  StatusOr<std::vector<CompetitorPrice>> rows = std::vector<CompetitorPrice>{};
  if (is_json) {
    SHOPEASY_ASSIGN_OR_RETURN(nlohmann::json j, wire::parse_json(body, 4 << 20));
    rows = parse_competitor_json(j, now);
  } else {
    rows = parse_competitor_csv(body, now);
  }
  if (!rows.ok()) {
    logger_.warn("pricing_feed_refused", {{"error", rows.status().to_string()}});
    return rows.status();
  }
  if (static_cast<std::int64_t>(rows->size()) > kMaxFeedRows) {
    return invalid_argument("a feed may hold at most " + std::to_string(kMaxFeedRows) + " rows",
                            "rows");
  }
  std::set<std::string> skus;
  for (const auto& r : *rows) skus.insert(r.sku);
  std::vector<PriceModel> models;
  for (const std::string& sku : skus) {
    SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::PriceModelRow> m, store_.price_model_rows(sku));
    for (const auto& r : m) models.push_back(from_row(r));
  }
  if (Status st = check_feed(*rows, models); !st.is_ok()) {
    logger_.warn("pricing_feed_refused", {{"error", st.to_string()}});
    return st;
  }
  nlohmann::json stored = {{"imported_at_ms", now}, {"rows", nlohmann::json::array()}};
  for (const auto& r : *rows) {
    stored["rows"].push_back({{"sku", r.sku},
                              {"competitor", r.competitor},
                              {"price_cents", r.price_cents},
                              {"observed_at_ms", r.observed_at_ms}});
  }
  sync::MutexLock lock(write_mutex_);
  SHOPEASY_RETURN_IF_ERROR(store_.put_setting(kCompetitorKey, stored, now));
  SHOPEASY_RETURN_IF_ERROR(store_.add_price_changes({{.at_ms = now,
                                                      .store_id = "",
                                                      .sku = "",
                                                      .kind = "feed",
                                                      .rule = "competitor",
                                                      .old_cents = 0,
                                                      .new_cents = 0,
                                                      .inputs = {{"rows", rows->size()}}}}));
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, load_snapshot());
  publish(snap);
  return nlohmann::json{{"rows", rows->size()}, {"skus", skus.size()}};
}

StatusOr<nlohmann::json> PricingService::approve(const nlohmann::json& body) {
  wire::FieldReader r(body, "");
  std::string store_id, sku;
  std::int64_t price = 0;
  r.required_string("store_id", &store_id, wire::kIdRule);
  r.required_string("sku", &sku, wire::kIdRule);
  r.required_int("price_cents", &price, 1, kMaxPriceCents);
  if (!r.ok()) return r.status();
  const std::int64_t now = now_ms();
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<storage::PriceChange> pending,
                            store_.last_price_change(store_id, sku, "pending", now));
  if (!pending || pending->new_cents != price) {
    return Status(StatusCode::kFailedPrecondition,
                  "no price of " + std::to_string(price) + " waits for approval for " + sku +
                      " at " + store_id +
                      (pending ? " (the pending one is " + std::to_string(pending->new_cents) + ")"
                               : std::string()),
                  "price_cents");
  }
  SHOPEASY_RETURN_IF_ERROR(store_.add_price_changes({{.at_ms = now,
                                                      .store_id = store_id,
                                                      .sku = sku,
                                                      .kind = "approved",
                                                      .rule = "manager",
                                                      .old_cents = pending->old_cents,
                                                      .new_cents = price,
                                                      .inputs = {{"pending_id", pending->id}}}}));
  changes_.with({"approved"}).inc();
  bump_generation();
  return nlohmann::json{{"store_id", store_id}, {"sku", sku}, {"price_cents", price}};
}

StatusOr<nlohmann::json> PricingService::put_signal(const std::string& store_id,
                                                    const nlohmann::json& body) {
  if (!is_valid_id(store_id)) {
    return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "store_id");
  }
  wire::FieldReader r(body, "");
  std::optional<std::int64_t> open, runners, queue, weather_until;
  r.optional_int("open_orders", &open, 0, 1'000'000);
  r.optional_int("available_runners", &runners, 0, 100'000);
  r.optional_int("pick_queue", &queue, 0, 1'000'000);
  r.optional_int("bad_weather_until_ms", &weather_until, 0, kMaxPriceCents * 10'000LL);
  if (!r.ok()) return r.status();
  if (open.has_value() != runners.has_value()) {
    return invalid_argument("open_orders and available_runners come together",
                            open ? "available_runners" : "open_orders");
  }
  if (!open && !weather_until) {
    return invalid_argument("give a load (open_orders, available_runners) or a weather flag");
  }
  const std::int64_t now = now_ms();
  sync::MutexLock lock(write_mutex_);
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, load_snapshot());
  nlohmann::json doc = snap->signals_doc;
  nlohmann::json& s = doc[store_id];
  if (!s.is_object()) s = nlohmann::json::object();
  if (open) {
    s["open_orders"] = *open;
    s["available_runners"] = *runners;
    s["pick_queue"] = queue.value_or(0);
    s["load_at_ms"] = now;
  }
  if (weather_until) s["bad_weather_until_ms"] = *weather_until;
  SHOPEASY_RETURN_IF_ERROR(store_.put_setting(kSignalsKey, doc, now));
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> next, load_snapshot());
  publish(next);
  nlohmann::json out = s;
  out["store_id"] = store_id;
  return out;
}

}  // namespace shopeasy::cloud::pricing
