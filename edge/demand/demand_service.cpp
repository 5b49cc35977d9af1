#include "edge/demand/demand_service.hpp"

#include <algorithm>
#include <cmath>

#include "edge/forecast/forecaster.hpp"
#include "edge/forecast/series.hpp"

namespace shopeasy::edge::demand {

namespace fc = shopeasy::forecast;

DemandService::DemandService(store::EdgeStore& store, DemandOptions options)
    : store_(store), options_(options) {}

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Window {
  std::int64_t offset_s, end_local, window_local, start_local;
  std::size_t steps, window_step;
  std::int64_t window_ms, end_ms;
};

// The series ends at the start of the current local hour and starts on the Monday
// before the history window; steps before the window are censored (not read).
Window window_for(std::int64_t now_ms, const DemandOptions& options) {
  Window w;
  w.offset_s = static_cast<std::int64_t>(options.utc_offset_minutes) * 60;
  w.end_local = floor_div(floor_div(now_ms, 1000) + w.offset_s, 3600) * 3600;
  w.window_local = w.end_local - std::int64_t{options.history_days} * 86400;
  w.start_local = fc::week_start(w.window_local);
  w.steps = static_cast<std::size_t>((w.end_local - w.start_local) / 3600);
  w.window_step = static_cast<std::size_t>((w.window_local - w.start_local) / 3600);
  w.window_ms = (w.window_local - w.offset_s) * 1000;
  w.end_ms = (w.end_local - w.offset_s) * 1000;
  return w;
}

Status valid_request(const std::string& sku, int hours, int history_hours) {
  if (sku.empty() || sku.size() > 64) {
    return invalid_argument("sku must be 1..64 characters", "sku");
  }
  if (hours < 1 || hours > DemandService::kMaxHours) {
    return invalid_argument("hours must be 1.." + std::to_string(DemandService::kMaxHours),
                            "hours");
  }
  if (history_hours < 0 || history_hours > DemandService::kMaxHours) {
    return invalid_argument("history_hours must be 0.." + std::to_string(DemandService::kMaxHours),
                            "history_hours");
  }
  return Status();
}

// The median of the store's own times for one step of its orders: from the first time
// an order reached `from` to the first time it reached `to`, for orders that reached
// `from` in [since_ms, until_ms).
StatusOr<std::vector<double>> step_seconds(db::Database& db, const char* from, const char* to,
                                           std::int64_t since_ms, std::int64_t until_ms) {
  auto q = db.query(
      "SELECT (b.at - a.at) / 1000.0 FROM "
      "(SELECT order_id, MIN(at_ms) AS at FROM order_history "
      " WHERE status = ? AND at_ms >= ? AND at_ms < ? GROUP BY order_id) a "
      "JOIN (SELECT order_id, MIN(at_ms) AS at FROM order_history "
      " WHERE status = ? AND at_ms >= ? GROUP BY order_id) b USING (order_id) "
      "WHERE b.at > a.at",
      std::string(from), since_ms, until_ms, std::string(to), since_ms);
  std::vector<double> out;
  while (const db::Statement* row = q.next()) out.push_back(row->column_double(0));
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  return v[mid];
}

// `seconds_per_order` measured for `samples` orders, or the configured rate.
MeasuredRate rate_from(const std::vector<double>& seconds, double factor, double configured) {
  MeasuredRate r{.per_hour = configured,
                 .measured = false,
                 .samples = static_cast<int>(seconds.size()),
                 .median_s = 0};
  if (seconds.size() < static_cast<std::size_t>(DemandService::kMinRateSamples)) return r;
  r.median_s = median(seconds) * factor;
  if (r.median_s > 0) {
    r.per_hour = 3600.0 / r.median_s;
    r.measured = true;
  }
  return r;
}

}  // namespace

std::int64_t DemandService::local_hour(std::int64_t now_ms) const {
  return window_for(now_ms, options_).end_local / 3600;
}

std::int64_t DemandService::hour_start_ms(std::int64_t now_ms) const {
  return window_for(now_ms, options_).end_ms;
}

StatusOr<StorePool> DemandService::store_pool(std::int64_t now_ms) const {
  const Window w = window_for(now_ms, options_);
  fc::Series store_picks;
  store_picks.sku = "store";
  store_picks.start = w.start_local;
  store_picks.qty.assign(w.steps, 0.0f);
  store_picks.censored.assign(w.steps, 0);
  for (std::size_t t = 0; t < w.window_step; ++t) store_picks.censored[t] = 1;
  const Status read = store_.read([&](db::Database& db) -> Status {
    // The store's picks per hour: the pooled shape.
    auto q = db.query(
        "SELECT (ts_ms / 1000 + ?) / 3600, SUM(-delta) FROM ledger "
        "WHERE reason = 'pick' AND delta < 0 AND ts_ms >= ? AND ts_ms < ? "
        "GROUP BY 1",
        w.offset_s, w.window_ms, w.end_ms);
    while (const db::Statement* row = q.next()) {
      const std::int64_t t = row->column_int64(0) - w.start_local / 3600;
      if (t >= 0 && t < static_cast<std::int64_t>(w.steps)) {
        store_picks.qty[static_cast<std::size_t>(t)] += static_cast<float>(row->column_int64(1));
      }
    }
    return q.status();
  });
  if (!read.is_ok()) return read;
  StorePool pool;
  pool.end_local = w.end_local;
  pool.pools.add(store_picks, w.steps);
  pool.pools.finish();
  return pool;
}

StatusOr<SkuDemandForecast> DemandService::forecast(const std::string& sku, std::int64_t now_ms,
                                                    int hours, int history_hours) const {
  SHOPEASY_RETURN_IF_ERROR(valid_request(sku, hours, history_hours));
  SHOPEASY_ASSIGN_OR_RETURN(auto pool, store_pool(now_ms));
  return forecast(sku, now_ms, hours, pool, history_hours);
}

StatusOr<SkuDemandForecast> DemandService::forecast(const std::string& sku, std::int64_t now_ms,
                                                    int hours, const StorePool& pool,
                                                    int history_hours) const {
  SHOPEASY_RETURN_IF_ERROR(valid_request(sku, hours, history_hours));
  const Window w = window_for(now_ms, options_);
  if (pool.end_local != w.end_local) {
    return invalid_argument("the store pool was read for another hour", "pool");
  }
  const std::int64_t offset_s = w.offset_s;
  const std::int64_t end_local = w.end_local;
  const std::int64_t start_local = w.start_local;
  const std::size_t steps = w.steps;
  const std::int64_t window_ms = w.window_ms;
  const std::int64_t end_ms = w.end_ms;
  auto step_of = [&](std::int64_t ts_ms) {
    return floor_div(floor_div(ts_ms, 1000) + offset_s - start_local, 3600);
  };

  fc::Series series;
  series.sku = sku;
  series.start = start_local;
  series.qty.assign(steps, 0.0f);
  series.censored.assign(steps, 0);
  const std::size_t window_step = w.window_step;
  for (std::size_t t = 0; t < window_step; ++t) series.censored[t] = 1;

  SkuDemandForecast out;
  out.sku = sku;
  out.history_days = options_.history_days;
  const Status read = store_.read([&](db::Database& db) -> Status {
    auto known = db.query_one<std::int64_t>("SELECT 1 FROM products WHERE sku = ?", sku);
    if (!known.ok()) return known.status();
    if (!known->has_value()) return not_found("unknown SKU '" + sku + "'");
    auto on_hand_now =
        db.query_one<std::int64_t>("SELECT on_hand FROM sku_totals WHERE sku = ?", sku);
    if (!on_hand_now.ok()) return on_hand_now.status();

    struct Row {
      std::int64_t ts_ms, delta;
      bool pick;
    };
    std::vector<Row> rows;
    std::int64_t later_deltas = 0;
    {
      auto q = db.query(
          "SELECT ts_ms, delta, reason = 'pick' FROM ledger WHERE sku = ? AND ts_ms >= ? "
          "ORDER BY id",
          sku, window_ms);
      while (const db::Statement* row = q.next()) {
        rows.push_back(Row{row->column_int64(0), row->column_int64(1), row->column_int64(2) != 0});
        later_deltas += rows.back().delta;
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    // On hand when the window opened: today's less every change since.
    std::int64_t level = on_hand_now->value_or(0) - later_deltas;
    std::int64_t out_since = level <= 0 ? window_ms : -1;  // nothing on hand since then
    auto mark_out = [&](std::int64_t from_ms, std::int64_t to_ms) {
      const std::int64_t first = std::max<std::int64_t>(step_of(from_ms), 0);
      const std::int64_t last = std::min<std::int64_t>(step_of(std::min(to_ms, end_ms) - 1),
                                                       static_cast<std::int64_t>(steps) - 1);
      for (std::int64_t t = first; t <= last; ++t) series.censored[static_cast<std::size_t>(t)] = 1;
    };
    for (const Row& r : rows) {
      if (r.pick && r.delta < 0 && r.ts_ms < end_ms) {
        series.qty[static_cast<std::size_t>(step_of(r.ts_ms))] += static_cast<float>(-r.delta);
        out.units_sold += static_cast<double>(-r.delta);
      }
      level += r.delta;
      if (level <= 0 && out_since < 0) out_since = r.ts_ms;
      if (level > 0 && out_since >= 0) {
        mark_out(out_since, r.ts_ms);
        out_since = -1;
      }
    }
    if (out_since >= 0) mark_out(out_since, end_ms);
    return Status();
  });
  if (!read.is_ok()) return read;
  for (std::uint8_t c : series.censored) out.censored_hours += c;
  out.censored_hours -= static_cast<int>(window_step);

  const fc::Calendar cal = fc::calendar_for(fc::Granularity::kHour);
  const fc::SkuForecast f = fc::forecast_sku(series, steps, hours, pool.pools, cal, fc::Options{});
  out.method = std::string(fc::method_name(f.method));
  out.inv_k = f.inv_k;
  for (int k = 0; k < hours; ++k) {
    HourForecast h;
    const std::int64_t local = end_local + std::int64_t{k} * 3600;
    h.ts_ms = (local - offset_s) * 1000;
    h.local_time = fc::format_local_time(local);
    h.mean = f.mean[static_cast<std::size_t>(k)];
    h.p50 = f.p50[static_cast<std::size_t>(k)];
    h.p90 = f.p90[static_cast<std::size_t>(k)];
    h.p95 = f.p95[static_cast<std::size_t>(k)];
    out.hours.push_back(std::move(h));
  }
  const std::size_t shown = std::min(static_cast<std::size_t>(history_hours), steps - window_step);
  for (std::size_t t = steps - shown; t < steps; ++t) {
    const std::int64_t local = start_local + static_cast<std::int64_t>(t) * 3600;
    out.history.push_back(HistoryHour{.ts_ms = (local - offset_s) * 1000,
                                      .local_time = fc::format_local_time(local),
                                      .units = series.qty[t],
                                      .censored = series.censored[t] != 0});
  }
  return out;
}

StatusOr<StorePeakHours> DemandService::peak_hours(std::int64_t now_ms, int days,
                                                   const fc::StaffingRates& configured) const {
  if (days < 1 || days > kMaxPeakDays) {
    return invalid_argument("days must be 1.." + std::to_string(kMaxPeakDays), "days");
  }
  if (!(configured.orders_per_picker_hour > 0) || !(configured.orders_per_runner_hour > 0)) {
    return invalid_argument("configured orders per picker and per runner hour must be positive");
  }
  const Window w = window_for(now_ms, options_);
  std::vector<fc::Sale> sales;
  std::vector<double> pick_s;
  std::vector<double> trip_s;
  const Status read = store_.read([&](db::Database& db) -> Status {
    auto tx = db.begin(db::TxMode::kDeferred);  // one snapshot for counts and times
    if (!tx.ok()) return tx.status();
    auto q = db.query(
        "SELECT order_id, received_at_ms FROM orders WHERE received_at_ms >= ? AND "
        "received_at_ms < ?",
        w.window_ms, w.end_ms);
    while (const db::Statement* row = q.next()) {
      sales.push_back(fc::Sale{.sku = "orders",
                               .group = "",
                               .ts = floor_div(row->column_int64(1), 1000) + w.offset_s,
                               .qty = 1,
                               .stockout = false,
                               .order = row->column_text(0)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    SHOPEASY_ASSIGN_OR_RETURN(pick_s, step_seconds(db, "picking", "packed", w.window_ms, w.end_ms));
    SHOPEASY_ASSIGN_OR_RETURN(
        trip_s, step_seconds(db, "out_for_delivery", "delivered", w.window_ms, w.end_ms));
    return tx->rollback();
  });
  if (!read.is_ok()) return read;
  if (sales.empty()) {
    return failed_precondition("no orders in the last " + std::to_string(options_.history_days) +
                               " days to plan from");
  }
  StorePeakHours out;
  out.history_days = options_.history_days;
  out.history_orders = static_cast<std::int64_t>(sales.size());
  out.picking = rate_from(pick_s, 1.0, configured.orders_per_picker_hour);
  // A runner rides out and back for each delivery (one order a trip).
  out.delivery = rate_from(trip_s, 2.0, configured.orders_per_runner_hour);
  SHOPEASY_ASSIGN_OR_RETURN(
      fc::PeakPlan plan,
      fc::plan_peak_hours(sales, w.end_local, days * 24,
                          fc::StaffingRates{.orders_per_picker_hour = out.picking.per_hour,
                                            .orders_per_runner_hour = out.delivery.per_hour}));
  for (const fc::HourPlan& h : plan.hours) {
    out.hours.push_back(PeakHour{.ts_ms = (h.ts - w.offset_s) * 1000,
                                 .local_time = fc::format_local_time(h.ts),
                                 .orders_mean = h.orders_mean,
                                 .orders_p90 = h.orders_p90,
                                 .pickers = h.pickers,
                                 .runners = h.runners});
  }
  out.daily_peaks = std::move(plan.daily_peaks);
  return out;
}

nlohmann::json sku_demand_forecast_json(const SkuDemandForecast& f) {
  nlohmann::json hours = nlohmann::json::array();
  for (const HourForecast& h : f.hours) {
    hours.push_back({{"ts_ms", h.ts_ms},
                     {"ts", h.local_time},
                     {"mean", h.mean},
                     {"p50", h.p50},
                     {"p90", h.p90},
                     {"p95", h.p95}});
  }
  nlohmann::json history = nlohmann::json::array();
  for (const HistoryHour& h : f.history) {
    history.push_back(
        {{"ts_ms", h.ts_ms}, {"ts", h.local_time}, {"units", h.units}, {"censored", h.censored}});
  }
  return {{"sku", f.sku},
          {"method", f.method},
          {"history_days", f.history_days},
          {"censored_hours", f.censored_hours},
          {"units_sold", f.units_sold},
          {"hours", std::move(hours)},
          {"history", std::move(history)}};
}

namespace {
nlohmann::json rate_json(const MeasuredRate& r) {
  nlohmann::json out = {{"per_hour", std::round(r.per_hour * 100) / 100},
                        {"source", r.measured ? "measured" : "configured"},
                        {"samples", r.samples}};
  if (r.measured) out["median_s"] = std::round(r.median_s * 10) / 10;
  return out;
}
}  // namespace

nlohmann::json store_peak_hours_json(const StorePeakHours& p) {
  nlohmann::json hours = nlohmann::json::array();
  for (const PeakHour& h : p.hours) {
    hours.push_back({{"ts_ms", h.ts_ms},
                     {"ts", h.local_time},
                     {"orders_mean", h.orders_mean},
                     {"orders_p90", h.orders_p90},
                     {"pickers", h.pickers},
                     {"runners", h.runners}});
  }
  return {{"history_days", p.history_days},
          {"history_orders", p.history_orders},
          {"rates",
           {{"orders_per_picker_hour", rate_json(p.picking)},
            {"deliveries_per_runner_hour", rate_json(p.delivery)}}},
          {"hours", std::move(hours)},
          {"daily_peaks", p.daily_peaks}};
}

}  // namespace shopeasy::edge::demand
