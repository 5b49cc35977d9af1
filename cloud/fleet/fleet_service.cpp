#include "cloud/fleet/fleet_service.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/wire/order.hpp"

namespace shopeasy::cloud::fleet {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr int kMinutes = 60;
// Notification failures are counted over the last day.
constexpr std::int64_t kNotifyWindowMs = 86'400'000;
// An order's latest events shown to an operator.
constexpr int kOrderEvents = 200;

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(std::round(*v * 1000) / 1000) : nlohmann::json(nullptr);
}

nlohmann::json figures_json(const DeliveryFigures& f, bool truncated) {
  return {{"delivered", f.delivered},
          {"p50_s", optional_number(f.p50_s)},
          {"p90_s", optional_number(f.p90_s)},
          {"p99_s", optional_number(f.p99_s)},
          {"with_promise", f.with_promise},
          {"on_time", f.on_time},
          {"late", f.late},
          {"on_time_share", optional_number(f.on_time_share)},
          {"promised_p50_min", optional_number(f.promised_p50_min)},
          {"truncated", truncated}};
}

nlohmann::json surge_json(const SurgeState& s) {
  return {{"step", s.step}, {"fee_cents", s.fee_cents}, {"reason", s.reason}};
}

bool is_late(const DeliveredOrder& o) {
  return o.promised_at_ms > 0 && o.delivered_at_ms > o.promised_at_ms;
}

Status check_window(std::int64_t window_s) {
  if (window_s < FleetService::kMinWindowS || window_s > FleetService::kMaxWindowS) {
    return invalid_argument("must be between " + std::to_string(FleetService::kMinWindowS) +
                                " and " + std::to_string(FleetService::kMaxWindowS) + " seconds",
                            "window_s");
  }
  return Status::ok();
}

}  // namespace

double percentile(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(q * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

DeliveryFigures delivery_figures(const std::vector<DeliveredOrder>& orders) {
  DeliveryFigures f;
  std::vector<std::int64_t> took, promised;
  took.reserve(orders.size());
  for (const DeliveredOrder& o : orders) {
    took.push_back(std::max<std::int64_t>(0, o.delivered_at_ms - o.created_at_ms));
    if (o.promised_at_ms > 0) {
      ++f.with_promise;
      promised.push_back(std::max<std::int64_t>(0, o.promised_at_ms - o.created_at_ms));
      if (is_late(o)) {
        ++f.late;
      } else {
        ++f.on_time;
      }
    }
  }
  f.delivered = static_cast<std::int64_t>(orders.size());
  if (!took.empty()) {
    std::sort(took.begin(), took.end());
    f.p50_s = percentile(took, 0.50) / 1000.0;
    f.p90_s = percentile(took, 0.90) / 1000.0;
    f.p99_s = percentile(took, 0.99) / 1000.0;
  }
  if (f.with_promise > 0) {
    f.on_time_share = static_cast<double>(f.on_time) / static_cast<double>(f.with_promise);
    std::sort(promised.begin(), promised.end());
    f.promised_p50_min = percentile(promised, 0.50) / 60'000.0;
  }
  return f;
}

nlohmann::json FleetService::store_row(const storage::StoreRecord& s, std::int64_t now_ms) const {
  const auto& r = s.registration;
  const bool online = s.last_seen_ms > 0 && now_ms - s.last_seen_ms <= options_.online_window_ms;
  nlohmann::json out = {
      {"id", r.id},
      {"name", r.name},
      {"lat", r.lat},
      {"lon", r.lon},
      {"service_radius_m", r.service_radius_m},
      {"active", r.active},
      {"online", online},
      {"last_applied_seq", s.last_applied_seq},
      {"quarantined_changes", s.quarantined_changes},
      {"open_orders", 0},
      // As of the store's last applied batch: null when it left nothing
      // behind (or the store is older than the report).
      {"oldest_unsynced_change_ms",
       s.oldest_unsynced_ms > 0 ? nlohmann::json(s.oldest_unsynced_ms) : nlohmann::json(nullptr)},
      {"sync_lag_s", nullptr}};
  if (s.last_seen_ms > 0) {
    out["last_seen_ms"] = s.last_seen_ms;
    out["sync_lag_s"] = std::max<std::int64_t>(0, now_ms - s.last_seen_ms) / 1000.0;
  }
  return out;
}

StatusOr<nlohmann::json> FleetService::orders_per_minute(std::int64_t now_ms,
                                                         const std::string& store_id) {
  // Whole minutes ending with the current one, so buckets line up between refreshes.
  const std::int64_t current = now_ms - now_ms % kMinuteMs;
  const std::int64_t since = current - (kMinutes - 1) * kMinuteMs;
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<std::int64_t> counts,
                            stats_.orders_per_minute(since, kMinutes, store_id));
  std::int64_t total = 0;
  for (std::int64_t c : counts) total += c;
  return nlohmann::json{{"since_ms", since},
                        {"bucket_s", 60},
                        {"counts", counts},
                        {"total", total},
                        // The last complete minute (the current one is still filling).
                        {"last_minute", counts.size() >= 2 ? counts[counts.size() - 2] : 0}};
}

StatusOr<std::shared_ptr<const FleetService::Figures>> FleetService::fleet_figures(
    std::int64_t now_ms, std::int64_t window_s) {
  const std::int64_t mono =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.mono_now().time_since_epoch())
          .count();
  {
    sync::MutexLock lock(mutex_);
    auto it = figures_.find(window_s);
    if (it != figures_.end() && mono - it->second->at_mono_ms < kFiguresTtlMs) return it->second;
  }
  // Read outside the lock: two callers at once may both read, and the later copy wins.
  auto f = std::make_shared<Figures>();
  f->at_mono_ms = mono;
  SHOPEASY_ASSIGN_OR_RETURN(f->per_minute, orders_per_minute(now_ms, ""));
  SHOPEASY_ASSIGN_OR_RETURN(f->delivered, stats_.delivered(now_ms - window_s * 1000, now_ms + 1, "",
                                                           options_.max_delivered_rows));
  SHOPEASY_ASSIGN_OR_RETURN(f->open, stats_.open_orders(""));
  SHOPEASY_ASSIGN_OR_RETURN(f->failures, stats_.notification_failures(now_ms - kNotifyWindowMs));
  std::shared_ptr<const Figures> shared = std::move(f);
  sync::MutexLock lock(mutex_);
  figures_[window_s] = shared;
  return shared;
}

StatusOr<nlohmann::json> FleetService::summary(std::int64_t window_s) {
  SHOPEASY_RETURN_IF_ERROR(check_window(window_s));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::StoreRecord> stores, store_.list_stores());
  SHOPEASY_ASSIGN_OR_RETURN(std::shared_ptr<const Figures> figures, fleet_figures(now, window_s));
  nlohmann::json per_minute = figures->per_minute;
  const std::vector<DeliveredOrder>& delivered = figures->delivered;
  const bool truncated = static_cast<int>(delivered.size()) >= options_.max_delivered_rows;
  const std::vector<StatusCount>& open = figures->open;
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::NotificationBacklog> backlog,
                            store_.notification_backlog());
  const std::vector<ChannelStateCount>& failures = figures->failures;
  std::vector<std::string> ids;
  for (const auto& s : stores) ids.push_back(s.registration.id);
  SHOPEASY_ASSIGN_OR_RETURN(PricingState pricing, pricing_(ids));

  // Per store: deliveries and late ones in the window, open orders.
  struct Tally {
    std::int64_t delivered = 0, with_promise = 0, late = 0, open = 0;
  };
  std::map<std::string, Tally> tally;
  for (const DeliveredOrder& o : delivered) {
    Tally& t = tally[o.store_id];
    ++t.delivered;
    if (o.promised_at_ms > 0) ++t.with_promise;
    if (is_late(o)) ++t.late;
  }
  for (const StatusCount& c : open) tally[c.store_id].open += c.count;

  std::map<std::string, std::string> names;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : stores) {
    const std::string& id = s.registration.id;
    names[id] = s.registration.name;
    nlohmann::json row = store_row(s, now);
    row["open_orders"] = tally[id].open;
    row["delivered"] = tally[id].delivered;
    row["late"] = tally[id].late;
    auto surge = pricing.surge.find(id);
    row["surge"] =
        surge == pricing.surge.end() ? nlohmann::json(nullptr) : surge_json(surge->second);
    rows.push_back(std::move(row));
  }

  struct Breach {
    std::string id;
    Tally t;
    double share = 0;
  };
  std::vector<Breach> breaches;
  for (const auto& [id, t] : tally) {
    if (t.with_promise < options_.breach_min_delivered || t.with_promise == 0) continue;
    const double share = static_cast<double>(t.late) / static_cast<double>(t.with_promise);
    if (share > options_.breach_late_share) breaches.push_back({id, t, share});
  }
  std::sort(breaches.begin(), breaches.end(), [](const Breach& a, const Breach& b) {
    if (a.share != b.share) return a.share > b.share;
    if (a.t.late != b.t.late) return a.t.late > b.t.late;
    return a.id < b.id;
  });
  nlohmann::json breaching = nlohmann::json::array();
  for (const Breach& b : breaches) {
    breaching.push_back({{"store_id", b.id},
                         {"name", names.count(b.id) ? names[b.id] : b.id},
                         {"delivered", b.t.with_promise},
                         {"late", b.t.late},
                         {"late_share", std::round(b.share * 1000) / 1000}});
  }

  std::map<std::string, nlohmann::json> channels;
  auto channel = [&](const std::string& name) -> nlohmann::json& {
    auto it = channels.find(name);
    if (it == channels.end()) {
      it = channels
               .emplace(name, nlohmann::json{{"channel", name},
                                             {"pending", 0},
                                             {"oldest_pending_age_s", nullptr},
                                             {"failed", 0},
                                             {"dead", 0}})
               .first;
    }
    return it->second;
  };
  for (const std::string& c : store_.notification_channels()) channel(c);
  std::int64_t pending = 0;
  std::int64_t oldest = 0;
  for (const auto& b : backlog) {
    nlohmann::json& c = channel(b.channel);
    c["pending"] = b.pending;
    pending += b.pending;
    if (b.oldest_created_at_ms > 0) {
      c["oldest_pending_age_s"] = std::max<std::int64_t>(0, now - b.oldest_created_at_ms) / 1000.0;
      if (oldest == 0 || b.oldest_created_at_ms < oldest) oldest = b.oldest_created_at_ms;
    }
  }
  for (const auto& f : failures) channel(f.channel)[f.state] = f.count;
  nlohmann::json channel_list = nlohmann::json::array();
  for (auto& [name, c] : channels) channel_list.push_back(std::move(c));

  return nlohmann::json{
      {"generated_at_ms", now},
      {"window_s", window_s},
      {"orders_per_minute", std::move(per_minute)},
      {"delivery", figures_json(delivery_figures(delivered), truncated)},
      {"breach_late_share", options_.breach_late_share},
      {"breach_min_delivered", options_.breach_min_delivered},
      {"breaching", std::move(breaching)},
      {"pricing", {{"enabled", pricing.enabled}, {"kill_switch", !pricing.enabled}}},
      {"notifications",
       {{"pending", pending},
        {"oldest_pending_age_s",
         oldest > 0 ? nlohmann::json(std::max<std::int64_t>(0, now - oldest) / 1000.0)
                    : nlohmann::json(nullptr)},
        {"failures_window_s", kNotifyWindowMs / 1000},
        {"channels", std::move(channel_list)}}},
      {"stores", std::move(rows)}};
}

StatusOr<nlohmann::json> FleetService::store(const std::string& store_id, std::int64_t window_s) {
  SHOPEASY_RETURN_IF_ERROR(check_window(window_s));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  SHOPEASY_ASSIGN_OR_RETURN(storage::StoreRecord record, store_.get_store(store_id));
  SHOPEASY_ASSIGN_OR_RETURN(nlohmann::json per_minute, orders_per_minute(now, store_id));
  SHOPEASY_ASSIGN_OR_RETURN(
      std::vector<DeliveredOrder> delivered,
      stats_.delivered(now - window_s * 1000, now + 1, store_id, options_.max_delivered_rows));
  const bool truncated = static_cast<int>(delivered.size()) >= options_.max_delivered_rows;
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<StatusCount> open, stats_.open_orders(store_id));
  SHOPEASY_ASSIGN_OR_RETURN(PricingState pricing, pricing_({store_id}));

  nlohmann::json row = store_row(record, now);
  nlohmann::json by_status = nlohmann::json::object();
  for (const char* s : kOpenStatuses) by_status[s] = 0;
  std::int64_t open_total = 0;
  for (const StatusCount& c : open) {
    by_status[c.status] = c.count;
    open_total += c.count;
  }
  row["open_orders"] = open_total;
  auto surge = pricing.surge.find(store_id);
  row["surge"] = surge == pricing.surge.end() ? nlohmann::json(nullptr) : surge_json(surge->second);

  nlohmann::json late = nlohmann::json::array();
  for (const DeliveredOrder& o : delivered) {  // newest first
    if (!is_late(o)) continue;
    late.push_back({{"order_id", o.order_id},
                    {"created_at_ms", o.created_at_ms},
                    {"promised_at_ms", o.promised_at_ms},
                    {"delivered_at_ms", o.delivered_at_ms},
                    {"late_s", (o.delivered_at_ms - o.promised_at_ms) / 1000.0}});
    if (late.size() >= static_cast<std::size_t>(kLateOrders)) break;
  }
  return nlohmann::json{
      {"generated_at_ms", now},
      {"window_s", window_s},
      {"store", std::move(row)},
      {"pricing", {{"enabled", pricing.enabled}, {"kill_switch", !pricing.enabled}}},
      {"orders_per_minute", std::move(per_minute)},
      {"delivery", figures_json(delivery_figures(delivered), truncated)},
      {"open_orders", std::move(by_status)},
      {"late_orders", std::move(late)}};
}

StatusOr<nlohmann::json> FleetService::order(const std::string& order_id) {
  SHOPEASY_ASSIGN_OR_RETURN(storage::OrderRecord o, store_.get_order(order_id));
  const std::int64_t after = std::max<std::int64_t>(0, o.event_seq - kOrderEvents);
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<storage::OrderEvent> events,
                            store_.order_events(order_id, after, kOrderEvents));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) {
    list.push_back({{"seq", e.seq}, {"kind", e.kind}, {"body", e.body}, {"at_ms", e.at_ms}});
  }
  nlohmann::json order = wire::encode(o.order);
  return nlohmann::json{
      {"order", std::move(order)},  {"reason", o.reason},       {"paid", o.paid},
      {"refund_due", o.refund_due}, {"runner_id", o.runner_id}, {"eta_ms", o.eta_ms},
      {"candidates", o.candidates}, {"tried", o.tried},         {"event_seq", o.event_seq},
      {"events", std::move(list)}};
}

}  // namespace shopeasy::cloud::fleet
