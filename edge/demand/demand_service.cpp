#include "edge/demand/demand_service.hpp"

#include <algorithm>

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

Status valid_request(const std::string& sku, int hours) {
  if (sku.empty() || sku.size() > 64) {
    return invalid_argument("sku must be 1..64 characters", "sku");
  }
  if (hours < 1 || hours > DemandService::kMaxHours) {
    return invalid_argument("hours must be 1.." + std::to_string(DemandService::kMaxHours),
                            "hours");
  }
  return Status();
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
                                                    int hours) const {
  SHOPEASY_RETURN_IF_ERROR(valid_request(sku, hours));
  SHOPEASY_ASSIGN_OR_RETURN(auto pool, store_pool(now_ms));
  return forecast(sku, now_ms, hours, pool);
}

StatusOr<SkuDemandForecast> DemandService::forecast(const std::string& sku, std::int64_t now_ms,
                                                    int hours, const StorePool& pool) const {
  SHOPEASY_RETURN_IF_ERROR(valid_request(sku, hours));
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
  return {{"sku", f.sku},
          {"method", f.method},
          {"history_days", f.history_days},
          {"censored_hours", f.censored_hours},
          {"units_sold", f.units_sold},
          {"hours", std::move(hours)}};
}

}  // namespace shopeasy::edge::demand
