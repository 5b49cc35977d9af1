// RunnerDevice: one delivery runner's connection to the store's MQTT broker, as the
// runner's phone keeps it. It announces presence (retained runners/{id}/status, with a
// last will that turns it "offline" when the device vanishes), publishes position
// telemetry (runners/{id}/telemetry, QoS 0) and rides out broker outages: telemetry
// produced while disconnected waits in a bounded backlog (oldest dropped first, counted)
// and is flushed oldest first after the next connect, right after the "online" status.
// It also takes the routes the edge assigns (runners/{id}/assignment, QoS 1), decoded
// and queued for the owner, and reports delivery
// events (runners/{id}/events, QoS 1). Events are never dropped: while disconnected they
// wait in their own bounded backlog (a full one refuses new events), flushed before the
// telemetry backlog; events whose delivery was not acknowledged when a connection drops
// are sent again (the edge dedupes on event_id).
//
// The session is persistent (clean session off, the runner id as client id): an
// assignment the edge sends while the device is cut off waits at the broker and arrives
// right after the next connect. The broker fires the last will only when it notices the
// loss itself (1.5 x keepalive without a packet), not when the device comes back first,
// so a short outage costs the runner nothing. If the will did fire, the edge has seen the
// runner offline and given its uncollected orders to dispatch again, so whatever the
// device received but had not started is stale: after each connect the device reads its
// own retained status (it subscribes to it) before it hands out anything received since
// the loss, and drops the lot (counted) when the broker said "offline". Assignments are
// handed out once per assignment_id, however often the broker redelivers them.
//
// The device has no thread of its own. An owner thread drives it by calling service(),
// which handles connection events, reconnects with exponential backoff and flushes the
// backlog, and returns when it wants to be called next; options.on_wake tells the owner
// to call it early. One thread can so drive one device or a whole simulated fleet.
// Paho's callback thread only flips flags and calls on_wake; it never publishes, waits
// or takes the device's lock. No Paho exception leaves this module.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "common/wire/runner.hpp"

namespace shopeasy::runner {

// "runners/{id}/status" and "runners/{id}/telemetry".
std::string status_topic(std::string_view runner_id);
std::string telemetry_topic(std::string_view runner_id);
// "runners/{id}/assignment" (edge -> runner) and "runners/{id}/events" (runner -> edge).
std::string assignment_topic(std::string_view runner_id);
std::string events_topic(std::string_view runner_id);

struct RunnerDeviceOptions {
  // "tcp://host:port" (or "ssl://host:port"). With a ca_file a tcp:// URI is upgraded
  // to ssl://, so one setting switches TLS on.
  std::string broker_uri = "tcp://127.0.0.1:1883";
  // The runner's id, also its MQTT client id and user name: 1..64 of [A-Za-z0-9_-].
  std::string runner_id;
  std::string password;  // empty: none is sent
  std::string ca_file;   // PEM CA bundle that verifies the broker; empty: plain TCP
  std::chrono::seconds keepalive{30};
  // A connect attempt that has not completed by then counts as failed.
  std::chrono::seconds connect_timeout{5};
  // Delay before reconnecting: starts at min_backoff, doubles per failed attempt up to
  // max_backoff, with jitter so a fleet does not reconnect in lockstep.
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{10000};
  std::size_t backlog_capacity = 1000;  // telemetry messages kept while disconnected
  // Events kept while disconnected; publish_event() refuses more. >= 1.
  std::size_t event_backlog_capacity = 1000;
  // Received assignments waiting for next_assignment(); later ones are rejected. >= 1.
  std::size_t assignment_capacity = 16;
  std::string app_version = "0.0.0";  // reported in the "online" status; 1..32 printable
  int battery_pct = 100;  // reported in "online" until telemetry reports another; 0..100
  // Upper bound on each of the two waits in stop(): the "offline" status being
  // acknowledged, then the disconnect.
  std::chrono::milliseconds stop_timeout{2000};
  // Called from the MQTT library's thread when service() has something to do (connected,
  // connection lost, connect attempt finished). Must be quick and must not block or call
  // into the device; typically it notifies the owner's condition variable. May be empty.
  std::function<void()> on_wake;
};

// One position report, as the phone's location service gives it.
struct TelemetrySample {
  double lat = 0;          // [-90, 90]
  double lon = 0;          // [-180, 180]
  double accuracy_m = 5;   // >= 0
  double speed_mps = 0;    // [0, 100]
  double heading_deg = 0;  // [0, 360)
  int battery_pct = 100;   // 0..100
  wire::RunnerState state = wire::RunnerState::kIdle;
  std::int64_t device_ts_ms = 0;  // 0: now, by the device's clock
};

class RunnerDevice {
 public:
  // `clock` and `metrics` must outlive the device. Metrics are registered here with a
  // runner_id label: runner_messages_published_total, runner_publish_failures_total,
  // runner_backlog_dropped_total, runner_connect_failures_total, runner_connected and
  // runner_backlog_size.
  RunnerDevice(RunnerDeviceOptions options, const Clock& clock, log::Logger logger,
               metrics::Registry& metrics);
  // Calls stop().
  ~RunnerDevice();
  RunnerDevice(const RunnerDevice&) = delete;
  RunnerDevice& operator=(const RunnerDevice&) = delete;

  // Validates the options and makes the first connect attempt (asynchronously; an
  // unreachable broker is not an error, it is retried by service()). kInvalidArgument
  // naming the option ("runner_id", "broker_uri", "ca_file", ...) for bad options;
  // kFailedPrecondition if already started or stopped. Thread-safe.
  Status start() EXCLUDES(mutex_);

  // Does what is due: notices connects and losses, publishes the "online" status after
  // each connect, flushes the backlog, starts a reconnect when its backoff has passed.
  // Never blocks on the network. Returns the time by which it wants to be called again
  // (sooner if on_wake fires). Thread-safe; a no-op before start() and after stop().
  MonoTime service() EXCLUDES(mutex_);

  // Queues one telemetry message (stamped with the next seq) and, while connected,
  // sends the queue at once. OK when sent or queued; when the backlog is full the
  // oldest queued message is dropped and counted. kInvalidArgument naming the field for
  // an out-of-range sample, kFailedPrecondition before start() or after stop().
  // Thread-safe.
  Status publish_telemetry(const TelemetrySample& sample) EXCLUDES(mutex_);

  // Reports one delivery event (QoS 1). An empty runner_id is filled in with this
  // device's, ts_ms 0 with now. OK when handed to the client or queued in the event
  // backlog; kResourceExhausted (counted) when the backlog is full; kInvalidArgument
  // naming the field for an event the edge would reject (or another runner's id);
  // kFailedPrecondition before start() or after stop(). Thread-safe.
  Status publish_event(const wire::RunnerEvent& event) EXCLUDES(mutex_);

  // The oldest received assignment not yet taken, or nullopt. Assignments that fail to
  // decode, name another runner or overflow the queue are counted and logged
  // (rate-limited) and never returned. Thread-safe.
  std::optional<wire::Assignment> next_assignment() EXCLUDES(mutex_);

  // Publishes the retained "offline" status (if connected) and disconnects cleanly, so
  // the last will does not fire; then releases the client. Takes at most about
  // 3 x stop_timeout even when the broker does not answer. Idempotent. Thread-safe.
  void stop() EXCLUDES(mutex_);

  // True from the "online" status being sent after a connect until the loss of that
  // connection is noticed by service(). Thread-safe.
  bool connected() const { return connected_.load(); }
  // Messages (status and telemetry) the MQTT client accepted for sending. Thread-safe.
  std::uint64_t messages_published() const { return published_.load(); }
  // Telemetry messages waiting for a connection. Thread-safe.
  std::size_t backlog_size() const { return backlog_size_.load(); }
  // Telemetry messages dropped because the backlog was full. Thread-safe.
  std::uint64_t backlog_dropped() const { return dropped_.load(); }
  // The seq the most recent accepted telemetry message carried (0 before the first).
  std::uint64_t last_seq() const { return seq_.load(); }
  const std::string& runner_id() const { return options_.runner_id; }
  // Events waiting for a connection (including unacknowledged ones re-queued after a
  // connection loss). Thread-safe.
  std::size_t event_backlog_size() const { return event_backlog_size_.load(); }
  // Events publish_event() refused because the event backlog was full. Thread-safe.
  std::uint64_t events_refused() const { return events_refused_.load(); }
  // Assignment messages received, and those of them rejected (undecodable, for another
  // runner, or the queue full). Thread-safe.
  std::uint64_t assignments_received() const { return assignments_received_.load(); }
  std::uint64_t assignments_rejected() const { return assignments_rejected_.load(); }
  // Assignments dropped as stale (the broker declared the runner offline after they
  // were sent) or as repeats of one already handed out. Thread-safe.
  std::uint64_t assignments_stale() const { return assignments_stale_.load(); }
  // The URI actually used (after any tcp:// -> ssl:// upgrade).
  const std::string& broker_uri() const { return uri_; }

 private:
  struct Client;  // The Paho objects; kept out of this header.
  enum class Phase { kNew, kRunning, kStopped };

  Status validate_options() const REQUIRES(mutex_);
  // The following run with mutex_ held.
  void begin_connect(MonoTime now) REQUIRES(mutex_);
  void on_connect_failed(MonoTime now, const std::string& error) REQUIRES(mutex_);
  void on_link_lost(MonoTime now, const std::string& cause) REQUIRES(mutex_);
  void schedule_retry(MonoTime now) REQUIRES(mutex_);
  // True if the client accepted it.
  bool publish_status(bool online) REQUIRES(mutex_);
  void flush_backlog() REQUIRES(mutex_);
  // True if the client accepted the request (both topics).
  bool subscribe_assignments() REQUIRES(mutex_);
  // Ends the wait for the broker's verdict: held assignments go to the queue, or are
  // dropped as stale when the broker had declared the runner offline.
  void settle_verdict(MonoTime now, bool stale) REQUIRES(mutex_);
  bool send_event(const std::string& payload) REQUIRES(mutex_);
  void flush_events() REQUIRES(mutex_);
  // Forgets acknowledged events; puts failed ones back at the front of the backlog, and
  // with `all` every unacknowledged one (the connection is gone).
  void reap_inflight_events(bool all) REQUIRES(mutex_);
  void set_event_backlog_gauge() REQUIRES(mutex_);
  // Decodes what the library's thread left in the inbox into assignments_.
  void drain_inbox(MonoTime now) REQUIRES(mutex_) EXCLUDES(inbox_mutex_);
  void reject_assignment(MonoTime now, const std::string& why) REQUIRES(mutex_);
  void set_backlog_gauge() REQUIRES(mutex_);
  void note_publish_failure(std::string_view what, const std::string& error);
  std::string status_payload(bool online) const REQUIRES(mutex_);
  // Reacts to the library's callbacks without touching anything but atomics.
  void on_library_event();

  const RunnerDeviceOptions options_;
  const Clock& clock_;
  log::Logger logger_;
  std::string uri_;
  std::string status_topic_;
  std::string telemetry_topic_;
  std::string assignment_topic_;
  std::string events_topic_;

  metrics::Counter& published_total_;
  metrics::Counter& publish_failures_total_;
  metrics::Counter& dropped_total_;
  metrics::Counter& connect_failures_total_;
  metrics::Gauge& connected_gauge_;
  metrics::Gauge& backlog_gauge_;
  metrics::Counter& assignments_received_total_;
  metrics::Counter& assignments_rejected_total_;
  metrics::Counter& assignments_stale_total_;
  metrics::Counter& events_refused_total_;
  metrics::Gauge& event_backlog_gauge_;

  // Set by the library's thread, consumed by service().
  std::atomic<bool> link_lost_{false};
  std::atomic<int> callbacks_running_{0};
  std::atomic<bool> callbacks_closed_{false};

  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::size_t> backlog_size_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::size_t> event_backlog_size_{0};
  std::atomic<std::uint64_t> events_refused_{0};
  std::atomic<std::uint64_t> assignments_received_{0};
  std::atomic<std::uint64_t> assignments_rejected_{0};
  std::atomic<std::uint64_t> assignments_stale_{0};

  // A message from the library's thread: an assignment, or this runner's own status.
  struct Inbound {
    bool is_status = false;
    bool retained = false;
    std::string payload;
  };
  // Raw messages from the library's thread; its own lock, held only to append or swap,
  // so that thread never waits on the device.
  sync::Mutex inbox_mutex_;
  std::deque<Inbound> inbox_ GUARDED_BY(inbox_mutex_);
  std::uint64_t inbox_overflow_ GUARDED_BY(inbox_mutex_) = 0;

  // Guards the connection's state below, the backlogs, and client_ (every call into the
  // client); the rate limiters lock themselves.
  mutable sync::Mutex mutex_;
  Phase phase_ GUARDED_BY(mutex_) = Phase::kNew;
  bool connecting_ GUARDED_BY(mutex_) = false;
  bool status_pending_ GUARDED_BY(mutex_) =
      false;  // "online" still owed for the current connection
  bool subscribe_pending_ GUARDED_BY(mutex_) = false;  // the assignment subscription, likewise
  std::deque<wire::Assignment> assignments_ GUARDED_BY(mutex_);
  // From a connection loss until the first status message after the next subscribe
  // (the broker's retained verdict, or the echo of our own "online" when none was
  // retained), decoded assignments wait in held_.
  bool verdict_pending_ GUARDED_BY(mutex_) = true;
  bool subscribed_ GUARDED_BY(mutex_) =
      false;  // the subscriptions of the current connection are sent
  std::deque<wire::Assignment> held_ GUARDED_BY(mutex_);
  std::deque<std::string> taken_ids_
      GUARDED_BY(mutex_);  // recent assignment ids handed out, oldest first
  std::deque<std::string> event_backlog_ GUARDED_BY(mutex_);  // event payloads, oldest first
  MonoTime next_attempt_ GUARDED_BY(mutex_){};
  std::chrono::milliseconds backoff_ GUARDED_BY(mutex_){0};
  std::uint64_t consecutive_failures_ GUARDED_BY(mutex_) = 0;
  int battery_pct_ GUARDED_BY(mutex_) = 100;
  std::deque<std::string> backlog_ GUARDED_BY(mutex_);  // telemetry payloads, oldest first
  std::minstd_rand jitter_ GUARDED_BY(mutex_);
  log::RateLimiter connect_log_{3, std::chrono::seconds(30)};
  log::RateLimiter publish_log_{3, std::chrono::seconds(30)};
  log::RateLimiter drop_log_{1, std::chrono::seconds(30)};
  log::RateLimiter assignment_log_{3, std::chrono::seconds(30)};
  log::RateLimiter refuse_log_{1, std::chrono::seconds(30)};
  // Declared last: destroyed first, while everything its callbacks touch still exists.
  std::unique_ptr<Client> client_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::runner
