#include "edge/telemetry/telemetry.hpp"

#include <cmath>
#include <filesystem>

#include "common/wire/json_fields.hpp"
#include "edge/telemetry/routes.hpp"

namespace shopeasy::edge::telemetry {

namespace {

constexpr std::size_t kWorkerBatch = 256;
constexpr std::size_t kRememberedEvents = 16384;
constexpr std::array<std::string_view, 5> kFixVerdictNames = {"live", "repeat", "backlog",
                                                              "teleport", "future"};

Status check_range(double v, double lo, double hi, const char* key) {
  if (!std::isfinite(v) || v < lo || v > hi) {
    return invalid_argument("must be between " + std::to_string(lo) + " and " + std::to_string(hi),
                            std::string("telemetry.") + key);
  }
  return Status::ok();
}

// The payload decoded as T, or nullopt once the drop is counted. Parsing and decoding
// run as two steps so that "not JSON" and "JSON with a bad field" are told apart by the
// step that refused the payload.
template <typename T>
std::optional<T> decode_or_drop(DropCounter& drops, const QueuedMessage& m, std::size_t max_bytes,
                                StatusOr<T> (*decode)(const nlohmann::json&)) {
  StatusOr<nlohmann::json> doc = wire::parse_json(m.payload, max_bytes);
  if (!doc.ok()) {
    drops.drop(classify_parse_error(doc.status()), m.runner_id, doc.status().to_string());
    return std::nullopt;
  }
  StatusOr<T> value = decode(*doc);
  if (!value.ok()) {
    drops.drop(classify_decode_error(value.status()), m.runner_id, value.status().to_string());
    return std::nullopt;
  }
  return std::move(*value);
}

// A runner's newest state as a live event. Each runner's replaces its previous one on
// the bus (coalesced by runner), so thousands of runners never crowd other events out.
events::Event runner_updated(const RunnerView& v, std::int64_t now) {
  events::Event e{0, "runner.updated", to_event_json(v), now};
  e.coalesce_key = "runner.updated/" + v.id;
  return e;
}

}  // namespace

Status validate(const TelemetryOptions& o) {
  if (o.state_dir.empty()) return invalid_argument("must not be empty", "state_dir");
  for (std::size_t i = 0; i < o.runners.size(); ++i) {
    if (!is_valid_runner_id(o.runners[i])) {
      return invalid_argument("must be 1 to 64 of letters, digits, '-' and '_'",
                              "telemetry.runners[" + std::to_string(i) + "]");
    }
  }
  SHOPEASY_RETURN_IF_ERROR(check_range(o.stale_after_s, 0.5, 3600, "stale_after_s"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.max_speed_mps, 1, 1000, "max_speed_mps"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.trail_min_interval_s, 0, 86400, "trail_min_interval_s"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.trail_min_distance_m, 0, 100000, "trail_min_distance_m"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.retention_h, 1, 8760, "retention_h"));
  SHOPEASY_RETURN_IF_ERROR(
      check_range(static_cast<double>(o.max_payload_bytes), 256, 1 << 20, "max_payload_bytes"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.per_runner_rate, 0.1, 1e6, "per_runner_rate"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.per_runner_burst, 1, 1e6, "per_runner_burst"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.frozen_repeats, 1, 1000, "frozen_repeats"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.max_future_s, 0, 86400, "max_future_s"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.jitter_radius_m, 0, 1000, "jitter_radius_m"));
  SHOPEASY_RETURN_IF_ERROR(
      check_range(static_cast<double>(o.queue_capacity), 16, 1e6, "queue_capacity"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.update_interval_s, 0, 60, "update_interval_s"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.purge_interval_s, 1, 86400, "purge_interval_s"));
  SHOPEASY_RETURN_IF_ERROR(
      check_range(static_cast<double>(o.purge_batch_rows), 1, 1e6, "purge_batch_rows"));
  SHOPEASY_RETURN_IF_ERROR(check_range(o.tick_interval_ms, 0, 60000, "tick_interval_ms"));
  return Status::ok();
}

StatusOr<std::unique_ptr<Telemetry>> Telemetry::open(TelemetryOptions options, const Clock& clock,
                                                     events::EventBus& bus,
                                                     mqtt::MqttClient* publisher,
                                                     log::Logger logger,
                                                     metrics::Registry& metrics) {
  SHOPEASY_RETURN_IF_ERROR(validate(options));
  std::error_code ec;
  if (!std::filesystem::is_directory(options.state_dir, ec)) {
    return unavailable("state directory " + options.state_dir + " does not exist");
  }
  const std::filesystem::path dir(options.state_dir);
  auto roster = Roster::open((dir / "runners.db").string(), options.runners, clock);
  if (!roster.ok()) return roster.status();

  TrailOptions to;
  to.path = (dir / "telemetry.db").string();
  to.min_interval_s = options.trail_min_interval_s;
  to.min_distance_m = options.trail_min_distance_m;
  to.purge_batch_rows = options.purge_batch_rows;
  auto trail = TrailStore::open(to, logger.child("trail"), metrics);
  if (!trail.ok()) return trail.status();

  std::unique_ptr<Telemetry> t(
      new Telemetry(std::move(options), clock, bus, publisher, std::move(logger), metrics));
  SHOPEASY_RETURN_IF_ERROR(t->start(std::move(*roster), std::move(*trail)));
  return t;
}

Telemetry::Telemetry(TelemetryOptions options, const Clock& clock, events::EventBus& bus,
                     mqtt::MqttClient* publisher, log::Logger logger, metrics::Registry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      bus_(bus),
      publisher_(publisher),
      logger_(std::move(logger)),
      drops_(clock, logger_, metrics),
      fixes_(metrics.counter_family("edge_telemetry_fixes_total",
                                    "Position reports by what the filter made of them",
                                    {"verdict"})),
      duplicate_events_(metrics.counter("edge_telemetry_duplicate_events_total",
                                        "Runner events seen again (same event_id) and ignored")),
      assignments_sent_(metrics.counter("edge_telemetry_assignments_sent_total",
                                        "Assignments handed to the broker")),
      assignment_failures_(metrics.counter("edge_telemetry_assignment_failures_total",
                                           "Assignments refused or not deliverable")) {
  constexpr std::array<std::string_view, 3> kKinds = {"telemetry", "status", "events"};
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    processed_[i] = &metrics.counter("edge_telemetry_processed_total",
                                     "Runner messages decoded and applied by the worker",
                                     {{"kind", std::string(kKinds[i])}});
  }
  for (std::size_t i = 0; i < kFixVerdictNames.size(); ++i) {
    fix_counters_[i] = &fixes_.with({std::string(kFixVerdictNames[i])});
  }
  for (std::size_t i = 0; i < presence_gauges_.size(); ++i) {
    presence_gauges_[i] =
        &metrics.gauge("edge_telemetry_runners", "Runners on the roster by presence",
                       {{"presence", std::string(to_string(static_cast<Presence>(i)))}});
  }
  RegistryOptions ro;
  ro.filter.max_speed_mps = options_.max_speed_mps;
  ro.filter.max_future_s = options_.max_future_s;
  ro.filter.jitter_radius_m = options_.jitter_radius_m;
  ro.stale_after_s = options_.stale_after_s;
  ro.frozen_repeats = options_.frozen_repeats;
  ro.update_interval_s = options_.update_interval_s;
  registry_ = std::make_unique<RunnerRegistry>(ro, clock_);
  IngestOptions io;
  io.max_payload_bytes = options_.max_payload_bytes;
  io.per_runner_rate = options_.per_runner_rate;
  io.per_runner_burst = options_.per_runner_burst;
  io.queue_capacity = options_.queue_capacity;
  ingest_ = std::make_unique<Ingest>(io, clock_, drops_, metrics);
  queue_gauge_ = metrics.gauge_fn("edge_telemetry_queue_depth",
                                  "Runner messages waiting for the telemetry worker",
                                  [this] { return static_cast<double>(ingest_->queue().size()); });
}

Status Telemetry::start(std::unique_ptr<Roster> roster, std::unique_ptr<TrailStore> trail) {
  roster_ = std::move(roster);
  trail_ = std::move(trail);
  auto active = roster_->active();
  if (!active.ok()) return active.status();
  for (const RosterEntry& e : *active) {
    registry_->add(e.id, e.name);
    ingest_->allow(e.id);
  }
  {
    shopeasy::sync::MutexLock lock(tick_mutex_);  // no other thread yet; taken for the analysis
    next_purge_ = clock_.mono_now();
  }
  worker_ = std::thread([this] { run_worker(); });
  if (options_.tick_interval_ms > 0) ticker_ = std::thread([this] { run_ticker(); });
  logger_.info("telemetry_started", {{"runners", static_cast<std::uint64_t>(active->size())},
                                     {"state_dir", options_.state_dir}});
  return Status::ok();
}

Telemetry::~Telemetry() { stop(); }

void Telemetry::stop() {
  {
    shopeasy::sync::MutexLock lock(stop_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  {
    shopeasy::sync::MutexLock lock(ticker_mutex_);
    ticker_stop_ = true;
  }
  ticker_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (ingest_) ingest_->queue().close();
  if (worker_.joinable()) worker_.join();
  if (trail_) trail_->stop();
}

mqtt::MessageHandler Telemetry::handler() {
  return [this](const mqtt::Message& m) { on_message(m); };
}

void Telemetry::on_message(const mqtt::Message& m) { ingest_->on_message(m); }

std::vector<MqttSubscription> Telemetry::subscriptions() {
  return {{"runners/+/telemetry", 0}, {"runners/+/status", 1}, {"runners/+/events", 1}};
}

void Telemetry::set_publisher(mqtt::MqttClient* publisher) { publisher_.store(publisher); }

std::int64_t Telemetry::now_ms() const { return to_unix_ms(clock_.wall_now()); }

std::uint64_t Telemetry::processed() const {
  return processed_[0]->value() + processed_[1]->value() + processed_[2]->value();
}

std::uint64_t Telemetry::processed(MessageKind kind) const {
  return processed_[static_cast<std::size_t>(kind)]->value();
}

bool Telemetry::drain(std::chrono::milliseconds timeout) {
  return ingest_->queue().wait_idle(timeout);
}

void Telemetry::run_worker() {
  std::vector<QueuedMessage> batch(kWorkerBatch);
  while (true) {
    const std::size_t n = ingest_->queue().pop(batch);
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) process(batch[i]);
    ingest_->queue().done();
  }
}

void Telemetry::run_ticker() {
  const auto interval = std::chrono::milliseconds(options_.tick_interval_ms);
  shopeasy::sync::MutexLock lock(ticker_mutex_);
  while (!ticker_stop_) {
    // The pause between ticks is real time, so steady_clock rather than clock_ (a
    // FakeClock never moves on its own).
    const auto deadline = std::chrono::steady_clock::now() + interval;
    while (!ticker_stop_) {
      if (ticker_cv_.wait_until(ticker_mutex_, deadline) == std::cv_status::timeout) break;
    }
    if (ticker_stop_) break;
    lock.unlock();
    tick();
    lock.lock();
  }
}

void Telemetry::process(const QueuedMessage& m) {
  switch (m.kind) {
    case MessageKind::kTelemetry:
      process_telemetry(m);
      break;
    case MessageKind::kStatus:
      process_status(m);
      break;
    case MessageKind::kEvent:
      process_event(m);
      break;
  }
}

void Telemetry::process_telemetry(const QueuedMessage& m) {
  std::optional<wire::Telemetry> t =
      decode_or_drop(drops_, m, options_.max_payload_bytes, &wire::decode_telemetry);
  if (!t) return;
  if (t->runner_id != m.runner_id) {
    drops_.drop(DropReason::kRunnerMismatch, m.runner_id, t->runner_id);
    return;
  }
  ApplyResult r = registry_->apply_telemetry(*t);
  if (!r.known) {
    drops_.drop(DropReason::kUnknownRunner, m.runner_id, "retired");
    return;
  }
  processed_[0]->inc();
  fix_counters_[static_cast<std::size_t>(r.verdict)]->inc();
  if (r.verdict == FixVerdict::kTeleport) {
    drops_.drop(DropReason::kTeleport, m.runner_id, "implied speed above max_speed_mps");
  } else if (r.verdict == FixVerdict::kFuture) {
    drops_.drop(DropReason::kFutureTs, m.runner_id, "device_ts_ms ahead of the edge clock");
  }
  if (r.trail) trail_->offer(m.runner_id, *r.trail);
  publish_outcome(r);
}

void Telemetry::process_status(const QueuedMessage& m) {
  // An empty retained message is the broker clearing the topic, not a report.
  if (m.payload.empty()) return;
  wire::RunnerStatus s;
  // Some device stacks set a bare word as their last will; take it for what it says.
  if (m.payload == "offline" || m.payload == "online") {
    s.runner_id = m.runner_id;
    s.status =
        m.payload == "online" ? wire::RunnerPresence::kOnline : wire::RunnerPresence::kOffline;
    s.ts_ms = now_ms();
  } else {
    std::optional<wire::RunnerStatus> parsed =
        decode_or_drop(drops_, m, options_.max_payload_bytes, &wire::decode_runner_status);
    if (!parsed) return;
    s = std::move(*parsed);
  }
  if (s.runner_id != m.runner_id) {
    drops_.drop(DropReason::kRunnerMismatch, m.runner_id, s.runner_id);
    return;
  }
  ApplyResult r = registry_->apply_status(s);
  if (!r.known) {
    drops_.drop(DropReason::kUnknownRunner, m.runner_id, "retired");
    return;
  }
  processed_[1]->inc();
  publish_outcome(r);
}

void Telemetry::process_event(const QueuedMessage& m) {
  std::optional<wire::RunnerEvent> e =
      decode_or_drop(drops_, m, options_.max_payload_bytes, &wire::decode_runner_event);
  if (!e) return;
  if (e->runner_id != m.runner_id) {
    drops_.drop(DropReason::kRunnerMismatch, m.runner_id, e->runner_id);
    return;
  }
  if (!registry_->contains(m.runner_id)) {
    drops_.drop(DropReason::kUnknownRunner, m.runner_id, "retired");
    return;
  }
  processed_[2]->inc();
  // Events come at least once (QoS 1, persistent sessions, phone retries).
  std::string key = m.runner_id + '/' + e->event_id;
  if (!seen_events_.insert(key).second) {
    duplicate_events_.inc();
    return;
  }
  seen_order_.push_back(std::move(key));
  if (seen_order_.size() > kRememberedEvents) {
    seen_events_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  const std::int64_t now = now_ms();
  bus_.publish(events::Event{0, "runner.event", wire::encode(*e), now});
  RunnerNotice notice;
  notice.kind = RunnerNotice::Kind::kEvent;
  notice.runner_id = m.runner_id;
  notice.event = std::move(*e);
  notice.ts_ms = now;
  notify(notice);
}

void Telemetry::publish_outcome(ApplyResult& r) {
  if (r.presence) announce(*r.presence);
  if (r.update) {
    const std::int64_t now = now_ms();
    bus_.publish(runner_updated(*r.update, now));
  }
}

void Telemetry::announce(const PresenceChange& c) {
  bus_.publish(events::Event{
      0,
      "runner.presence",
      {{"runner_id", c.runner_id}, {"presence", to_string(c.to)}, {"previous", to_string(c.from)}},
      c.ts_ms});
  // Coming online for the first time is routine; the rest is worth a line, but a fleet
  // on a flaky network must not flood the journal.
  std::uint64_t suppressed = 0;
  if ((c.to != Presence::kOnline || c.from != Presence::kUnknown) &&
      presence_log_.allow(clock_.mono_now(), &suppressed)) {
    logger_.info("runner_presence", {{"runner", c.runner_id},
                                     {"presence", to_string(c.to)},
                                     {"previous", to_string(c.from)},
                                     {"suppressed", suppressed}});
  }
  RunnerNotice notice;
  notice.kind = RunnerNotice::Kind::kPresence;
  notice.runner_id = c.runner_id;
  notice.presence = c.to;
  notice.previous = c.from;
  notice.ts_ms = c.ts_ms;
  notify(notice);
}

void Telemetry::notify(const RunnerNotice& notice) {
  shopeasy::sync::MutexLock lock(listeners_mutex_);
  for (auto& [id, listener] : listeners_) listener(notice);
}

std::uint64_t Telemetry::add_listener(RunnerListener listener) {
  shopeasy::sync::MutexLock lock(listeners_mutex_);
  const std::uint64_t id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Telemetry::remove_listener(std::uint64_t id) {
  shopeasy::sync::MutexLock lock(listeners_mutex_);
  listeners_.erase(id);
}

void Telemetry::tick() {
  shopeasy::sync::MutexLock lock(tick_mutex_);
  TickResult r = registry_->tick();
  for (const PresenceChange& c : r.presence) announce(c);
  if (!r.updates.empty()) {
    const std::int64_t now = now_ms();
    std::vector<events::Event> out;
    out.reserve(r.updates.size());
    for (const RunnerView& v : r.updates) {
      out.push_back(runner_updated(v, now));
    }
    bus_.publish(std::move(out));
  }
  for (std::size_t i = 0; i < presence_gauges_.size(); ++i) {
    presence_gauges_[i]->set(static_cast<double>(r.by_presence[i]));
  }
  const MonoTime mono = clock_.mono_now();
  if (mono >= next_purge_) {
    const auto retention_ms = static_cast<std::int64_t>(options_.retention_h * 3600.0 * 1000.0);
    trail_->request_purge(now_ms() - retention_ms);
    next_purge_ = mono + std::chrono::duration_cast<MonoTime::duration>(
                             std::chrono::duration<double>(options_.purge_interval_s));
  }
}

Status Telemetry::send_assignment(const wire::Assignment& assignment) {
  const nlohmann::json j = wire::encode(assignment);
  if (auto check = wire::decode_assignment(j); !check.ok()) {
    assignment_failures_.inc();
    return check.status();
  }
  if (!registry_->contains(assignment.runner_id)) {
    assignment_failures_.inc();
    return not_found("runner " + assignment.runner_id + " is not on the roster");
  }
  mqtt::MqttClient* publisher = publisher_.load();
  if (publisher == nullptr) {
    assignment_failures_.inc();
    return unavailable("no MQTT client to publish assignments through");
  }
  Status s = publisher->publish("runners/" + assignment.runner_id + "/assignment",
                                wire::dump_compact(j), 1, false);
  if (!s.is_ok()) {
    assignment_failures_.inc();
    return s;
  }
  assignments_sent_.inc();
  return Status::ok();
}

StatusOr<bool> Telemetry::put_runner(std::string_view id, std::optional<std::string_view> name) {
  auto created = roster_->put(id, name);
  if (!created.ok()) return created;
  auto entry = roster_->find(id);
  if (!entry.ok()) return entry.status();
  registry_->add(id, entry->has_value() ? (*entry)->name : std::string());
  ingest_->allow(id);
  if (auto v = registry_->find(id)) {
    const std::int64_t now = now_ms();
    bus_.publish(runner_updated(*v, now));
  }
  logger_.info("runner_put", {{"runner", id}, {"created", *created}});
  return created;
}

Status Telemetry::retire_runner(std::string_view id) {
  SHOPEASY_RETURN_IF_ERROR(roster_->retire(id));
  ingest_->disallow(id);
  registry_->remove(id);
  trail_->forget(id);
  bus_.publish(events::Event{0, "runner.retired", {{"runner_id", id}}, now_ms()});
  logger_.info("runner_retired", {{"runner", id}});
  return Status::ok();
}

StatusOr<bool> Telemetry::ever_on_roster(std::string_view id) const {
  auto e = roster_->find(id);
  if (!e.ok()) return e.status();
  return e->has_value();
}

std::vector<RunnerView> Telemetry::runners() const { return registry_->snapshot(); }

std::optional<RunnerView> Telemetry::runner(std::string_view id) const {
  return registry_->find(id);
}

StatusOr<std::vector<TrailPoint>> Telemetry::trail(std::string_view id, std::int64_t since_ms,
                                                   std::int64_t until_ms, std::size_t limit) const {
  return trail_->trail(id, since_ms, until_ms, limit);
}

void Telemetry::register_routes(http::HttpServer& server) {
  telemetry::register_routes(server, *this);
}

}  // namespace shopeasy::edge::telemetry
