// Telemetry: the edge's picture of its delivery runners, built from what their phones
// publish over MQTT (runners/{id}/telemetry, /status, /events) and served to the staff
// API, the live event stream and the dispatch module.
//
// Pipeline: the MQTT client's thread calls handler(), which only routes and queues
// (Ingest); one worker thread decodes each message, drops bad ones (counted per reason
// in edge_telemetry_dropped_total), applies good ones to the RunnerRegistry, offers
// trail points to the TrailStore and publishes live-only events (seq 0) on the
// EventBus: "runner.updated" (throttled per runner), "runner.presence" (every
// transition), "runner.event" (delivery milestones, deduplicated by event_id) and
// "runner.retired". tick() detects silent runners and schedules retention purges.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "common/wire/runner.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "edge/telemetry/drops.hpp"
#include "edge/telemetry/ingest.hpp"
#include "edge/telemetry/registry.hpp"
#include "edge/telemetry/roster.hpp"
#include "edge/telemetry/trail_store.hpp"
#include "edge/telemetry/types.hpp"

namespace shopeasy::edge::telemetry {

// Each option is the config key telemetry.<name>.
struct TelemetryOptions {
  // Directory for runners.db (the roster, synchronous FULL) and telemetry.db (trails,
  // synchronous NORMAL). Must exist. (Set from the daemon's state_dir.)
  std::string state_dir;
  // telemetry.runners: roster seed; ids not yet on the roster are added at start-up.
  // Runners retired through the API stay retired.
  std::vector<std::string> runners;
  // telemetry.stale_after_s: a runner silent this long turns "stale". (0.5 .. 3600)
  double stale_after_s = 10;
  // telemetry.max_speed_mps: fixes implying a faster move are teleports. (1 .. 1000)
  double max_speed_mps = 50;
  // telemetry.trail_min_interval_s / trail_min_distance_m: a trail point is kept when
  // it is this long or this far from the runner's last kept point. (>= 0)
  double trail_min_interval_s = 10;
  double trail_min_distance_m = 25;
  // telemetry.retention_h: trail rows older than this are purged. (1 .. 8760)
  double retention_h = 48;
  // telemetry.max_payload_bytes: larger payloads are dropped unread. (256 .. 1 MiB)
  std::size_t max_payload_bytes = 4096;
  // telemetry.per_runner_rate / per_runner_burst: token bucket on each runner's
  // telemetry (messages per second). Status and events are never rate limited.
  double per_runner_rate = 20;
  double per_runner_burst = 40;
  // telemetry.frozen_repeats: the live fix repeated this many times while messages
  // keep coming marks the runner "gps_frozen". (>= 1)
  int frozen_repeats = 5;
  // telemetry.max_future_s: fixes stamped further ahead of the edge clock are dropped.
  double max_future_s = 60;
  // telemetry.jitter_radius_m: fixes this close to the shown position are smoothed
  // instead of moving the map marker. (0 .. 1000)
  double jitter_radius_m = 30;
  // telemetry.queue_capacity: messages waiting for the worker (a third of a second at
  // 50,000 msg/s). Each slot keeps its buffer (~200 B) once used. (16 .. 1,000,000)
  std::size_t queue_capacity = 16384;
  // telemetry.update_interval_s: at most one runner.updated per runner per interval.
  double update_interval_s = 0.5;
  // telemetry.purge_interval_s: how often tick() starts a retention purge.
  double purge_interval_s = 600;
  // telemetry.purge_batch_rows: rows deleted per purge transaction.
  std::size_t purge_batch_rows = 5000;
  // telemetry.tick_interval_ms: > 0 runs an internal ticker thread calling tick() this
  // often; 0 leaves calling tick() (every ~200 ms) to the owner.
  int tick_interval_ms = 0;
};

// Checks the options; kInvalidArgument whose field is the config key.
Status validate(const TelemetryOptions& options);

// A runner change for in-process listeners (dispatch).
struct RunnerNotice {
  enum class Kind { kPresence, kEvent };
  Kind kind = Kind::kPresence;
  std::string runner_id;
  Presence presence = Presence::kUnknown;  // kPresence: the new presence
  Presence previous = Presence::kUnknown;  // kPresence: the one before
  std::optional<wire::RunnerEvent> event;  // kEvent
  std::int64_t ts_ms = 0;
};
// Called on the telemetry worker or the ticking thread, one call at a time. Must be
// quick and must not call add_listener, remove_listener or tick.
using RunnerListener = std::function<void(const RunnerNotice&)>;

struct MqttSubscription {
  std::string topic_filter;
  int qos = 0;
};

class Telemetry {
 public:
  // Opens the roster and trail files under options.state_dir, loads the roster and
  // starts the worker and trail writer threads (and the ticker if tick_interval_ms > 0).
  // `publisher` (may be null; see set_publisher) carries assignments. `clock`, `bus`
  // and `metrics` must outlive the object. Errors: kInvalidArgument for bad options,
  // SQLite errors as db::Database::open.
  static StatusOr<std::unique_ptr<Telemetry>> open(TelemetryOptions options, const Clock& clock,
                                                   events::EventBus& bus,
                                                   mqtt::MqttClient* publisher, log::Logger logger,
                                                   metrics::Registry& metrics);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // The callback to give the MQTT client. It only queues; safe on the network thread.
  mqtt::MessageHandler handler();
  void on_message(const mqtt::Message& m);
  // Topic filters to subscribe to: wildcards, one per message kind.
  static std::vector<MqttSubscription> subscriptions();
  // Sets (or clears) the client assignments are published through, for owners that
  // build the MQTT client after this object. Thread-safe.
  void set_publisher(mqtt::MqttClient* publisher);

  // Stale detection, release of throttled updates, purge scheduling. Call every ~200 ms
  // (or set tick_interval_ms). Thread-safe.
  void tick() EXCLUDES(tick_mutex_);

  // Publishes an assignment to runners/{id}/assignment, QoS 1. kInvalidArgument if it
  // does not validate, kNotFound for a runner not on the roster, kUnavailable without
  // a publisher or while the broker is unreachable.
  Status send_assignment(const wire::Assignment& assignment);

  // Adds or reactivates a runner, renaming it when `name` is given (true when newly
  // active). Errors as Roster::put.
  StatusOr<bool> put_runner(std::string_view id, std::optional<std::string_view> name);
  // Retires a runner: its messages are dropped from now on; its trail stays until
  // retention removes it. kNotFound when it is not active.
  Status retire_runner(std::string_view id);
  // Whether the id was ever on the roster (retired runners included).
  StatusOr<bool> ever_on_roster(std::string_view id) const;

  std::vector<RunnerView> runners() const;
  std::optional<RunnerView> runner(std::string_view id) const;
  // Trail points with since_ms <= ts_ms <= until_ms, oldest first, at most `limit`.
  StatusOr<std::vector<TrailPoint>> trail(std::string_view id, std::int64_t since_ms,
                                          std::int64_t until_ms, std::size_t limit) const;

  // Registers a listener for presence changes and runner events; returns its id.
  std::uint64_t add_listener(RunnerListener listener) EXCLUDES(listeners_mutex_);
  void remove_listener(std::uint64_t id) EXCLUDES(listeners_mutex_);

  // Adds the /api/runners routes (see routes.hpp).
  void register_routes(http::HttpServer& server);

  // Waits until everything queued so far has been applied (tests, shutdown). False on
  // timeout.
  bool drain(std::chrono::milliseconds timeout);
  // Drops so far for one reason; messages the worker has decoded and applied (all
  // kinds, or one); messages waiting for the worker.
  std::uint64_t dropped(DropReason reason) const { return drops_.count(reason); }
  std::uint64_t processed() const;
  std::uint64_t processed(MessageKind kind) const;
  std::size_t queue_depth() const { return ingest_->queue().size(); }

  RunnerRegistry& registry() { return *registry_; }
  TrailStore& trail_store() { return *trail_; }
  const Clock& clock() const { return clock_; }

  // Stops the ticker, applies what is queued, stops the worker and the trail writer.
  // Messages arriving later are ignored. Idempotent.
  void stop() EXCLUDES(stop_mutex_, ticker_mutex_);

 private:
  Telemetry(TelemetryOptions options, const Clock& clock, events::EventBus& bus,
            mqtt::MqttClient* publisher, log::Logger logger, metrics::Registry& metrics);
  Status start(std::unique_ptr<Roster> roster, std::unique_ptr<TrailStore> trail);
  void run_worker();
  void run_ticker() EXCLUDES(ticker_mutex_);
  void process(const QueuedMessage& m);
  void process_telemetry(const QueuedMessage& m);
  void process_status(const QueuedMessage& m);
  void process_event(const QueuedMessage& m);
  void publish_outcome(ApplyResult& r);
  void announce(const PresenceChange& change);
  void notify(const RunnerNotice& notice) EXCLUDES(listeners_mutex_);
  std::int64_t now_ms() const;

  const TelemetryOptions options_;
  const Clock& clock_;
  events::EventBus& bus_;
  std::atomic<mqtt::MqttClient*> publisher_;
  log::Logger logger_;
  DropCounter drops_;
  std::unique_ptr<Roster> roster_;
  std::unique_ptr<RunnerRegistry> registry_;
  std::unique_ptr<TrailStore> trail_;
  std::unique_ptr<Ingest> ingest_;

  // Guards the listeners and their ids (added from HTTP handlers, called by the worker).
  shopeasy::sync::Mutex listeners_mutex_;
  std::map<std::uint64_t, RunnerListener> listeners_ GUARDED_BY(listeners_mutex_);
  std::uint64_t next_listener_ GUARDED_BY(listeners_mutex_) = 1;

  // Recently seen event ids (worker thread only), oldest first, for deduplication.
  std::unordered_set<std::string> seen_events_;
  std::deque<std::string> seen_order_;

  log::RateLimiter presence_log_{30, std::chrono::minutes(1)};
  // Serialises tick() (the ticker thread or an owner calling it) and guards next_purge_.
  shopeasy::sync::Mutex tick_mutex_;
  MonoTime next_purge_ GUARDED_BY(tick_mutex_){};
  // Guards ticker_stop_, the ticker thread's signal to end.
  shopeasy::sync::Mutex ticker_mutex_;
  shopeasy::sync::CondVar ticker_cv_;  // ticker_stop_ set
  bool ticker_stop_ GUARDED_BY(ticker_mutex_) = false;
  // Guards stopped_, so stop() runs once.
  shopeasy::sync::Mutex stop_mutex_;
  bool stopped_ GUARDED_BY(stop_mutex_) = false;

  std::array<metrics::Counter*, 3> processed_{};
  metrics::CounterFamily& fixes_;
  std::array<metrics::Counter*, 5> fix_counters_{};
  metrics::Counter& duplicate_events_;
  metrics::Counter& assignments_sent_;
  metrics::Counter& assignment_failures_;
  std::array<metrics::Gauge*, 5> presence_gauges_{};
  std::thread worker_;
  std::thread ticker_;
  metrics::CallbackGauge queue_gauge_;  // last: unregistered before the rest goes
};

}  // namespace shopeasy::edge::telemetry
