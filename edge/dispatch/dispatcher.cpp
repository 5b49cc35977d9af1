#include "edge/dispatch/dispatcher.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::dispatch {

namespace {

bool valid_prefix(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool order_event(wire::RunnerEventType type) {
  return type == wire::RunnerEventType::kPickedUp ||
         type == wire::RunnerEventType::kArrivedCustomer ||
         type == wire::RunnerEventType::kDelivered || type == wire::RunnerEventType::kFailed;
}

}  // namespace

Status validate(const DispatcherOptions& o) {
  if (!(std::isfinite(o.store.lat) && std::isfinite(o.store.lon) && std::fabs(o.store.lat) <= 90 &&
        std::fabs(o.store.lon) <= 180)) {
    return invalid_argument("store location out of range", "store");
  }
  if (o.tick_interval_ms < 0 || o.tick_interval_ms > 60'000) {
    return invalid_argument("must be between 0 and 60000", "tick_interval_ms");
  }
  if (!(o.speed_mps > 0 && o.speed_mps <= 100)) {
    return invalid_argument("must be in (0, 100]", "speed_mps");
  }
  if (o.position_interval_ms < 0) {
    return invalid_argument("must not be negative", "position_interval_ms");
  }
  if (!valid_prefix(o.assignment_prefix)) {
    return invalid_argument("must be 1 to 32 of letters, digits, '-' and '_'", "assignment_prefix");
  }
  if (Status s = validate(o.solver); !s.is_ok()) return s.with_field_prefix("solver");
  return Status::ok();
}

StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::start(DispatcherOptions options,
                                                        OrderSource& source,
                                                        telemetry::Telemetry& telemetry,
                                                        const Clock& clock, log::Logger logger,
                                                        metrics::Registry& metrics) {
  SHOPEASY_RETURN_IF_ERROR(validate(options));
  std::unique_ptr<Dispatcher> d(
      new Dispatcher(std::move(options), source, telemetry, clock, std::move(logger), metrics));
  Dispatcher* self = d.get();
  d->listener_ =
      telemetry.add_listener([self](const telemetry::RunnerNotice& n) { self->on_notice(n); });
  if (d->options_.tick_interval_ms > 0) d->thread_ = std::thread([self] { self->run(); });
  return d;
}

Dispatcher::Dispatcher(DispatcherOptions options, OrderSource& source,
                       telemetry::Telemetry& telemetry, const Clock& clock, log::Logger logger,
                       metrics::Registry& metrics)
    : options_(std::move(options)),
      source_(source),
      telemetry_(telemetry),
      clock_(clock),
      logger_(std::move(logger)),
      decisions_(metrics.counter("edge_dispatch_decisions_total",
                                 "Dispatch decisions made (rounds that found packed orders)")),
      decision_seconds_(metrics.histogram(
          "edge_dispatch_decision_seconds", "Time the solver took per decision",
          {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1})),
      unassigned_(metrics.counter_family("edge_dispatch_unassigned_total",
                                         "Packed orders a decision left without a runner",
                                         {"reason"})),
      assignments_(metrics.counter("edge_dispatch_assignments_total", "Routes sent to runners")),
      assignment_failures_(metrics.counter(
          "edge_dispatch_assignment_failures_total",
          "Routes that could not be sent (their orders wait for the next decision)")),
      late_stops_(metrics.counter("edge_dispatch_late_stops_total",
                                  "Orders assigned with an ETA past their promised time")),
      budget_exhausted_(metrics.counter(
          "edge_dispatch_budget_exhausted_total",
          "Decisions cut short by the solver's time budget (best plan so far used)")),
      released_(metrics.counter(
          "edge_dispatch_released_total",
          "Orders given back because their runner went offline before collecting them")) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::stop() {
  shopeasy::sync::MutexLock stop_lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  telemetry_.remove_listener(listener_);
  {
    shopeasy::sync::MutexLock lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::on_notice(const telemetry::RunnerNotice& notice) {
  // On Telemetry's worker: queue and wake, nothing else.
  if (notice.kind == telemetry::RunnerNotice::Kind::kPresence &&
      notice.presence != telemetry::Presence::kOffline) {
    return;
  }
  {
    shopeasy::sync::MutexLock lock(queue_mutex_);
    notices_.push_back(notice);
  }
  queue_cv_.notify_all();
}

void Dispatcher::run() {
  const auto interval = std::chrono::milliseconds(options_.tick_interval_ms);
  MonoTime next = clock_.mono_now();  // when the next round is due, on clock_
  shopeasy::sync::MutexLock lock(queue_mutex_);
  while (!stopping_) {
    // The wait is real time (the condition variable needs steady_clock): for as long as
    // clock_ says is left. With a clock that does not follow real time (a FakeClock),
    // the round comes at the first wake-up after that clock has passed `next`.
    const MonoTime now = clock_.mono_now();
    const auto deadline =
        std::chrono::steady_clock::now() + (next > now ? next - now : MonoTime::duration::zero());
    while (!stopping_ && notices_.empty()) {
      if (queue_cv_.wait_until(queue_mutex_, deadline) == std::cv_status::timeout) break;
    }
    if (stopping_) break;
    lock.unlock();
    if (clock_.mono_now() >= next) {
      tick();
      next = clock_.mono_now() + interval;
    } else {
      shopeasy::sync::MutexLock round(round_mutex_);
      apply_notices();
    }
    lock.lock();
  }
}

std::int64_t Dispatcher::now_ms() const { return to_unix_ms(clock_.wall_now()); }

void Dispatcher::tick() {
  shopeasy::sync::MutexLock round(round_mutex_);
  apply_notices();
  send_positions();
  decide();
}

void Dispatcher::apply_notices() {
  std::deque<telemetry::RunnerNotice> batch;
  {
    shopeasy::sync::MutexLock lock(queue_mutex_);
    batch.swap(notices_);
  }
  for (const auto& n : batch) {
    if (n.kind == telemetry::RunnerNotice::Kind::kEvent && n.event) {
      apply_event(n.runner_id, *n.event);
    } else if (n.kind == telemetry::RunnerNotice::Kind::kPresence &&
               n.presence == telemetry::Presence::kOffline) {
      release(n.runner_id);
    }
  }
}

void Dispatcher::apply_event(const std::string& runner_id, const wire::RunnerEvent& e) {
  if (order_event(e.type) && e.order_id) {
    const Status s =
        source_.on_runner_event(runner_id, e.type, *e.order_id, e.ts_ms, e.reason.value_or(""));
    if (!s.is_ok()) {
      logger_.warn("runner_event_refused", {{"runner", runner_id},
                                            {"order", *e.order_id},
                                            {"type", wire::to_string(e.type)},
                                            {"error", s.to_string()}});
    }
  }
  shopeasy::sync::MutexLock lock(routes_mutex_);
  auto it = routes_.find(runner_id);
  if (it == routes_.end()) return;
  Route& route = it->second;
  if (e.order_id) {
    for (Stop& stop : route.stops) {
      if (stop.order_id != *e.order_id) continue;
      if (e.type == wire::RunnerEventType::kPickedUp) stop.picked_up = true;
      if (e.type == wire::RunnerEventType::kDelivered || e.type == wire::RunnerEventType::kFailed) {
        stop.done = true;
        riding_.erase(stop.order_id);
      }
    }
  }
  const bool finished =
      std::all_of(route.stops.begin(), route.stops.end(), [](const Stop& s) { return s.done; });
  if (finished || e.type == wire::RunnerEventType::kReturned) {
    for (const Stop& s : route.stops) riding_.erase(s.order_id);
    routes_.erase(it);
  }
}

void Dispatcher::release(const std::string& runner_id) {
  std::vector<std::string> given_back;
  {
    shopeasy::sync::MutexLock lock(routes_mutex_);
    auto it = routes_.find(runner_id);
    if (it == routes_.end()) return;
    auto& stops = it->second.stops;
    for (auto s = stops.begin(); s != stops.end();) {
      if (!s->picked_up && !s->done) {
        given_back.push_back(s->order_id);
        riding_.erase(s->order_id);
        s = stops.erase(s);
      } else {
        ++s;
      }
    }
    if (std::all_of(stops.begin(), stops.end(), [](const Stop& s) { return s.done; })) {
      routes_.erase(it);
    }
  }
  // The runner still carries what it collected; only uncollected orders go back.
  for (const auto& order_id : given_back) {
    source_.unassign(order_id);
    released_.inc();
    logger_.warn("order_released", {{"runner", runner_id}, {"order", order_id}});
  }
}

void Dispatcher::send_positions() {
  struct Due {
    std::string order_id;
    std::string runner_id;
    telemetry::Fix fix;
    std::int64_t eta_ms;
  };
  std::vector<Due> due;
  const std::int64_t now = now_ms();
  {
    shopeasy::sync::MutexLock lock(routes_mutex_);
    for (auto& [runner_id, route] : routes_) {
      const bool carrying = std::any_of(route.stops.begin(), route.stops.end(),
                                        [](const Stop& s) { return s.picked_up && !s.done; });
      if (!carrying) continue;
      auto view = telemetry_.runner(runner_id);
      if (!view || !view->fix) continue;
      // ETAs along the rest of the route, from where the runner is now.
      wire::GeoPoint at{view->fix->lat, view->fix->lon};
      std::int64_t t = now;
      for (Stop& stop : route.stops) {
        if (stop.done) continue;
        const double metres = geohash::haversine_m({at.lat, at.lon}, {stop.at.lat, stop.at.lon}) *
                              options_.solver.detour_factor;
        t += ride_ms(metres, options_.speed_mps) + options_.solver.handover_ms;
        at = stop.at;
        if (!stop.picked_up) continue;
        if (stop.last_position_ms != 0 &&
            now - stop.last_position_ms < options_.position_interval_ms) {
          continue;
        }
        stop.last_position_ms = now;
        due.push_back({stop.order_id, runner_id, *view->fix, t});
      }
    }
  }
  for (const Due& d : due) {
    const Status s = source_.on_position(d.order_id, d.runner_id, d.fix.lat, d.fix.lon, d.eta_ms,
                                         d.fix.received_ts_ms);
    if (!s.is_ok()) {
      logger_.debug("position_refused", {{"order", d.order_id}, {"error", s.to_string()}});
    }
  }
}

void Dispatcher::decide() {
  auto packed = source_.packed_awaiting_dispatch();
  if (!packed.ok()) {
    logger_.error("packed_orders_unavailable", {{"error", packed.status().to_string()}});
    return;
  }
  SolveInput input;
  input.now_ms = now_ms();
  input.store = options_.store;
  {
    shopeasy::sync::MutexLock lock(routes_mutex_);
    for (const PackedOrder& p : *packed) {
      if (riding_.count(p.order_id) != 0) continue;
      input.orders.push_back({p.order_id, p.lat, p.lon, p.promised_at_ms, p.units});
    }
    if (input.orders.empty()) return;
    for (const telemetry::RunnerView& v : telemetry_.runners()) {
      if (v.presence != telemetry::Presence::kOnline || !v.fix) continue;
      if (routes_.count(v.id) != 0) continue;
      input.runners.push_back(
          {v.id, v.state, {v.fix->lat, v.fix->lon}, options_.speed_mps, std::nullopt});
    }
  }

  const MonoTime started = clock_.mono_now();
  // The search budget is measured on the dispatcher's clock, like everything else it
  // times: the machine's monotonic clock in the daemon; in tests a fake clock that does
  // not move, so a slow test machine (a sanitizer build) cannot cut a plan short.
  auto plan = solve(input, options_.solver, &clock_);
  const double seconds = std::chrono::duration<double>(clock_.mono_now() - started).count();
  decisions_.inc();
  decision_seconds_.observe(seconds);
  if (!plan.ok()) {  // the options were validated; kept for safety
    logger_.error("dispatch_failed", {{"error", plan.status().to_string()}});
    return;
  }
  if (!plan->complete) budget_exhausted_.inc();
  for (const Unassigned& u : plan->unassigned) {
    unassigned_.with({std::string(to_string(u.reason))}).inc();
  }
  if (!plan->unassigned.empty()) {
    std::uint64_t suppressed = 0;
    if (unassigned_log_.allow(clock_.mono_now(), &suppressed)) {
      const Unassigned& first = plan->unassigned.front();
      logger_.info("orders_waiting", {{"count", plan->unassigned.size()},
                                      {"order", first.order_id},
                                      {"reason", to_string(first.reason)},
                                      {"detail", first.detail},
                                      {"suppressed", suppressed}});
    }
  }

  for (const PlannedRoute& planned : plan->routes) {
    wire::Assignment a;
    a.assignment_id = options_.assignment_prefix + "-" + std::to_string(input.now_ms) + "-" +
                      std::to_string(++sequence_);
    a.runner_id = planned.runner_id;
    a.store = options_.store;
    a.issued_at_ms = input.now_ms;
    Route route;
    route.assignment_id = a.assignment_id;
    for (const PlannedStop& stop : planned.stops) {
      const Status s =
          source_.mark_assigned(stop.order_id, planned.runner_id, a.assignment_id, stop.eta_ms);
      if (!s.is_ok()) {
        logger_.warn("assignment_refused_by_orders",
                     {{"order", stop.order_id}, {"error", s.to_string()}});
        continue;
      }
      a.stops.push_back({stop.order_id, stop.lat, stop.lon, std::nullopt, stop.promised_at_ms});
      route.stops.push_back({stop.order_id, {stop.lat, stop.lon}, false, false, 0});
      if (stop.late_by_ms > 0) late_stops_.inc();
    }
    if (a.stops.empty()) continue;
    if (const Status s = telemetry_.send_assignment(a); !s.is_ok()) {
      assignment_failures_.inc();
      logger_.warn(
          "assignment_not_sent",
          {{"runner", a.runner_id}, {"assignment", a.assignment_id}, {"error", s.to_string()}});
      for (const auto& stop : a.stops) source_.unassign(stop.order_id);
      continue;
    }
    assignments_.inc();
    logger_.info("assigned", {{"runner", a.runner_id},
                              {"assignment", a.assignment_id},
                              {"stops", a.stops.size()},
                              {"first_order", a.stops.front().order_id},
                              {"eta_ms", planned.stops.back().eta_ms}});
    shopeasy::sync::MutexLock lock(routes_mutex_);
    for (const Stop& s : route.stops) riding_[s.order_id] = a.runner_id;
    routes_[a.runner_id] = std::move(route);
  }
}

std::vector<ActiveRoute> Dispatcher::active_routes() const {
  shopeasy::sync::MutexLock lock(routes_mutex_);
  std::vector<ActiveRoute> out;
  for (const auto& [runner_id, route] : routes_) {
    ActiveRoute a;
    a.runner_id = runner_id;
    a.assignment_id = route.assignment_id;
    for (const Stop& s : route.stops) {
      if (s.done) continue;
      a.pending.push_back(s.order_id);
      if (s.picked_up) a.picked_up.push_back(s.order_id);
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace shopeasy::edge::dispatch
