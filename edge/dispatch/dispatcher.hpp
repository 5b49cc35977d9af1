// Dispatcher: the store's dispatch loop. Every tick it takes the packed orders waiting
// for a runner from the OrderSource and the runners from Telemetry, lets the solver
// decide, records each decision with OrderSource::mark_assigned and sends the route to
// the runner (runners/{id}/assignment, QoS 1, through Telemetry::send_assignment).
//
// It follows what happens next from Telemetry's listener: runner events move orders on
// (OrderSource::on_runner_event); while a runner carries orders, its live position goes
// to the order book with a fresh ETA (at most once per order per position_interval_ms);
// a runner going offline before collecting its orders gives them back (unassign), so
// the next tick finds them another runner.
//
// Runners count as available when online with a position and not riding a route this
// dispatcher gave them (a runner whose stops are all delivered or failed is available
// again, as soon as it is back at the store). Telemetry's listener only queues; all
// work, including every OrderSource call, happens on the dispatcher's thread (or the
// owner's, with tick_interval_ms = 0).
//
// Metrics: edge_dispatch_decisions_total, edge_dispatch_decision_seconds,
// edge_dispatch_unassigned_total{reason}, edge_dispatch_assignments_total,
// edge_dispatch_assignment_failures_total, edge_dispatch_late_stops_total,
// edge_dispatch_budget_exhausted_total, edge_dispatch_released_total.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/dispatch/order_source.hpp"
#include "edge/dispatch/solver.hpp"
#include "edge/telemetry/telemetry.hpp"

namespace shopeasy::edge::dispatch {

struct DispatcherOptions {
  wire::GeoPoint store{};  // where runners collect; lat/lon in range
  // > 0: an internal thread decides this often (and forwards runner events at once);
  // 0: the owner calls tick(). 0..60000
  int tick_interval_ms = 500;
  // Riding speed assumed for every runner, m/s. (0, 100]
  double speed_mps = 5;
  // At most one position update per order per this interval (the cloud contract asks
  // for no more than one every 3 s). >= 0
  std::int64_t position_interval_ms = 3000;
  // Assignment ids are "{prefix}-{issued_at_ms}-{n}". 1..32 of [A-Za-z0-9_-]
  std::string assignment_prefix = "as";
  SolverOptions solver;
};

// kInvalidArgument naming the option ("solver." prefixed for solver options).
Status validate(const DispatcherOptions& options);

// A route this dispatcher sent and that still has orders to deliver.
struct ActiveRoute {
  std::string runner_id;
  std::string assignment_id;
  std::vector<std::string> pending;    // not yet delivered or failed, in drop order
  std::vector<std::string> picked_up;  // of those, collected by the runner
};

class Dispatcher {
 public:
  // Registers the listener and metrics and, with tick_interval_ms > 0, starts the
  // thread. `source`, `telemetry`, `clock` and `metrics` must outlive the object.
  // kInvalidArgument for bad options.
  static StatusOr<std::unique_ptr<Dispatcher>> start(DispatcherOptions options, OrderSource& source,
                                                     telemetry::Telemetry& telemetry,
                                                     const Clock& clock, log::Logger logger,
                                                     metrics::Registry& metrics);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // One round: applies queued runner notices, sends due positions, decides and sends
  // assignments. Thread-safe (rounds run one at a time).
  void tick() EXCLUDES(round_mutex_, queue_mutex_, routes_mutex_);
  // Stops the thread and unregisters the listener. Idempotent.
  void stop() EXCLUDES(stop_mutex_, queue_mutex_);

  std::vector<ActiveRoute> active_routes() const EXCLUDES(routes_mutex_);
  // Decisions made (ticks that found orders waiting).
  std::uint64_t decisions() const { return decisions_.value(); }

 private:
  struct Stop {
    std::string order_id;
    wire::GeoPoint at{};
    bool picked_up = false;
    bool done = false;
    std::int64_t last_position_ms = 0;  // edge time of the last position sent
  };
  struct Route {
    std::string assignment_id;
    std::vector<Stop> stops;
  };

  Dispatcher(DispatcherOptions options, OrderSource& source, telemetry::Telemetry& telemetry,
             const Clock& clock, log::Logger logger, metrics::Registry& metrics);
  void on_notice(const telemetry::RunnerNotice& notice) EXCLUDES(queue_mutex_);
  void run() EXCLUDES(queue_mutex_, round_mutex_);
  // The following run with round_mutex_ held.
  void apply_notices() REQUIRES(round_mutex_) EXCLUDES(queue_mutex_, routes_mutex_);
  void apply_event(const std::string& runner_id, const wire::RunnerEvent& event)
      REQUIRES(round_mutex_) EXCLUDES(routes_mutex_);
  void release(const std::string& runner_id) REQUIRES(round_mutex_) EXCLUDES(routes_mutex_);
  void send_positions() REQUIRES(round_mutex_) EXCLUDES(routes_mutex_);
  void decide() REQUIRES(round_mutex_) EXCLUDES(routes_mutex_);
  std::int64_t now_ms() const;

  const DispatcherOptions options_;
  OrderSource& source_;
  telemetry::Telemetry& telemetry_;
  const Clock& clock_;
  log::Logger logger_;
  std::uint64_t listener_ = 0;

  metrics::Counter& decisions_;
  metrics::Histogram& decision_seconds_;
  metrics::CounterFamily& unassigned_;
  metrics::Counter& assignments_;
  metrics::Counter& assignment_failures_;
  metrics::Counter& late_stops_;
  metrics::Counter& budget_exhausted_;
  metrics::Counter& released_;
  log::RateLimiter unassigned_log_{3, std::chrono::minutes(1)};

  // Runs one round at a time (the thread's or an owner's tick) and guards sequence_.
  shopeasy::sync::Mutex round_mutex_;
  std::uint64_t sequence_ GUARDED_BY(round_mutex_) = 0;

  // Guards the routes sent; taken inside round_mutex_ for writes, alone for
  // active_routes().
  mutable shopeasy::sync::Mutex routes_mutex_;
  std::map<std::string, Route> routes_ GUARDED_BY(routes_mutex_);        // by runner id
  std::map<std::string, std::string> riding_ GUARDED_BY(routes_mutex_);  // order -> runner

  // Guards the notices Telemetry's listener queues for the dispatcher's thread, and the
  // thread's stop signal.
  shopeasy::sync::Mutex queue_mutex_;
  shopeasy::sync::CondVar queue_cv_;  // a notice queued or stopping_ set
  std::deque<telemetry::RunnerNotice> notices_ GUARDED_BY(queue_mutex_);
  bool stopping_ GUARDED_BY(queue_mutex_) = false;
  // Guards stopped_, so stop() runs once.
  shopeasy::sync::Mutex stop_mutex_;
  bool stopped_ GUARDED_BY(stop_mutex_) = false;
  std::thread thread_;
};

}  // namespace shopeasy::edge::dispatch
