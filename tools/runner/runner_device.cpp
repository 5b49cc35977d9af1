#include "tools/runner/runner_device.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <fstream>
#include <thread>
#include <utility>

#include "common/wire/json_fields.hpp"

namespace shopeasy::runner {

namespace {

// How often service() wants to run while nothing is pending, and while a connect
// attempt is in flight (its failure has no callback that is guaranteed to wake us).
constexpr std::chrono::milliseconds kIdleInterval{1000};
constexpr std::chrono::milliseconds kConnectPollInterval{100};
constexpr int kStatusQos = 1;
constexpr int kTelemetryQos = 0;
constexpr int kAssignmentQos = 1;
constexpr int kEventQos = 1;
// The own-status subscription only serves to read the retained verdict after a connect;
// QoS 0 keeps the broker from queueing our own presence messages for us.
constexpr int kOwnStatusQos = 0;
// Assignment ids remembered to drop redeliveries.
constexpr std::size_t kTakenIdsKept = 64;

bool is_token_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// Accepts "tcp://host:port" and "ssl://host:port" (host may be a bracketed IPv6
// address); paho itself only checks the scheme, so a typo would otherwise surface as an
// endless series of failed connects.
Status check_broker_uri(const std::string& uri) {
  const auto bad = [&](const std::string& why) {
    return invalid_argument("broker URI \"" + uri + "\" " + why, "broker_uri");
  };
  const std::size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return bad("must look like tcp://host:port");
  const std::string scheme = uri.substr(0, scheme_end);
  if (scheme != "tcp" && scheme != "ssl") return bad("must use tcp:// or ssl://");
  const std::string rest = uri.substr(scheme_end + 3);
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("must name a host and a port");
  const std::string port_text = rest.substr(colon + 1);
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return bad("has an invalid port");
  }
  return Status::ok();
}

std::string describe(const std::exception& e) {
  const std::string what = e.what();
  return what.empty() ? "unknown MQTT error" : what;
}

}  // namespace

std::string status_topic(std::string_view runner_id) {
  return "runners/" + std::string(runner_id) + "/status";
}

std::string telemetry_topic(std::string_view runner_id) {
  return "runners/" + std::string(runner_id) + "/telemetry";
}

std::string assignment_topic(std::string_view runner_id) {
  return "runners/" + std::string(runner_id) + "/assignment";
}

std::string events_topic(std::string_view runner_id) {
  return "runners/" + std::string(runner_id) + "/events";
}

// The Paho objects. The listener is declared first so it outlives the client and the
// connect tokens that refer to it.
struct RunnerDevice::Client {
  class Listener final : public mqtt::iaction_listener {
   public:
    explicit Listener(RunnerDevice& device) : device_(device) {}
    void on_failure(const mqtt::token&) override { device_.on_library_event(); }
    void on_success(const mqtt::token&) override { device_.on_library_event(); }

   private:
    RunnerDevice& device_;
  };

  explicit Client(RunnerDevice& device) : listener(device) {}

  Listener listener;
  std::unique_ptr<mqtt::async_client> cli;
  mqtt::token_ptr connect_token;
  // Events handed to the client and not yet acknowledged, oldest first.
  std::deque<std::pair<mqtt::delivery_token_ptr, std::string>> inflight;
};

RunnerDevice::RunnerDevice(RunnerDeviceOptions options, const Clock& clock, log::Logger logger,
                           metrics::Registry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      logger_(std::move(logger)),
      status_topic_(status_topic(options_.runner_id)),
      telemetry_topic_(telemetry_topic(options_.runner_id)),
      assignment_topic_(assignment_topic(options_.runner_id)),
      events_topic_(events_topic(options_.runner_id)),
      published_total_(metrics.counter("runner_messages_published_total",
                                       "Messages (status and telemetry) handed to the broker",
                                       {{"runner_id", options_.runner_id}})),
      publish_failures_total_(metrics.counter("runner_publish_failures_total",
                                              "Publishes the MQTT client refused",
                                              {{"runner_id", options_.runner_id}})),
      dropped_total_(metrics.counter("runner_backlog_dropped_total",
                                     "Telemetry dropped because the offline backlog was full",
                                     {{"runner_id", options_.runner_id}})),
      connect_failures_total_(metrics.counter("runner_connect_failures_total",
                                              "Failed broker connection attempts",
                                              {{"runner_id", options_.runner_id}})),
      connected_gauge_(metrics.gauge("runner_connected", "1 while connected to the broker",
                                     {{"runner_id", options_.runner_id}})),
      backlog_gauge_(metrics.gauge("runner_backlog_size",
                                   "Telemetry messages waiting for a broker connection",
                                   {{"runner_id", options_.runner_id}})),
      assignments_received_total_(metrics.counter("runner_assignments_received_total",
                                                  "Assignment messages received",
                                                  {{"runner_id", options_.runner_id}})),
      assignments_rejected_total_(
          metrics.counter("runner_assignments_rejected_total",
                          "Assignments ignored: undecodable, for another runner or queue full",
                          {{"runner_id", options_.runner_id}})),
      assignments_stale_total_(
          metrics.counter("runner_assignments_stale_total",
                          "Assignments dropped: sent before the broker declared the runner "
                          "offline, or repeats of one already taken",
                          {{"runner_id", options_.runner_id}})),
      events_refused_total_(metrics.counter("runner_events_refused_total",
                                            "Events refused because the event backlog was full",
                                            {{"runner_id", options_.runner_id}})),
      event_backlog_gauge_(metrics.gauge("runner_event_backlog_size",
                                         "Delivery events waiting for a broker connection",
                                         {{"runner_id", options_.runner_id}})),
      battery_pct_(options_.battery_pct),
      jitter_(static_cast<std::minstd_rand::result_type>(
          std::hash<std::string>{}(options_.runner_id) | 1u)) {
  uri_ = options_.broker_uri;
  if (!options_.ca_file.empty() && uri_.rfind("tcp://", 0) == 0) {
    uri_ = "ssl://" + uri_.substr(6);
  }
}

RunnerDevice::~RunnerDevice() { stop(); }

Status RunnerDevice::validate_options() const {
  if (!is_token_id(options_.runner_id)) {
    return invalid_argument("runner id must be 1 to 64 of [A-Za-z0-9_-]", "runner_id");
  }
  SHOPEASY_RETURN_IF_ERROR(check_broker_uri(uri_));
  if (!options_.ca_file.empty() && !std::ifstream(options_.ca_file).good()) {
    return invalid_argument("cannot read CA file " + options_.ca_file, "ca_file");
  }
  if (options_.keepalive < std::chrono::seconds(1)) {
    return invalid_argument("keepalive must be at least 1 s", "keepalive");
  }
  if (options_.connect_timeout < std::chrono::seconds(1)) {
    return invalid_argument("connect timeout must be at least 1 s", "connect_timeout");
  }
  if (options_.min_backoff.count() <= 0 || options_.max_backoff < options_.min_backoff) {
    return invalid_argument("backoff must satisfy 0 < min_backoff <= max_backoff", "min_backoff");
  }
  if (options_.backlog_capacity == 0) {
    return invalid_argument("backlog capacity must be at least 1", "backlog_capacity");
  }
  if (options_.event_backlog_capacity == 0) {
    return invalid_argument("event backlog capacity must be at least 1", "event_backlog_capacity");
  }
  if (options_.assignment_capacity == 0) {
    return invalid_argument("assignment capacity must be at least 1", "assignment_capacity");
  }
  if (options_.stop_timeout.count() <= 0) {
    return invalid_argument("stop timeout must be positive", "stop_timeout");
  }
  // The "online" message must itself be valid on the wire (app_version, battery).
  auto online = wire::parse_runner_status(status_payload(true));
  if (!online.ok()) return online.status();
  return Status::ok();
}

Status RunnerDevice::start() {
  sync::MutexLock lock(mutex_);
  if (phase_ != Phase::kNew) return failed_precondition("runner device already started");
  SHOPEASY_RETURN_IF_ERROR(validate_options());
  try {
    auto client = std::make_unique<Client>(*this);
    // No persistence: QoS 0 telemetry has nothing worth keeping on disk, and the
    // default would write files into the working directory.
    client->cli = std::make_unique<mqtt::async_client>(uri_, options_.runner_id);
    client->cli->set_connected_handler([this](const std::string&) { on_library_event(); });
    client->cli->set_connection_lost_handler([this](const std::string&) {
      link_lost_.store(true);
      on_library_event();
    });
    client->cli->set_message_callback([this](mqtt::const_message_ptr msg) {
      callbacks_running_.fetch_add(1);
      if (!callbacks_closed_.load() && msg) {
        const bool is_status = msg->get_topic() == status_topic_;
        if (is_status || msg->get_topic() == assignment_topic_) {
          sync::MutexLock inbox_lock(inbox_mutex_);
          // Status messages are few (one per connect) and must never be lost.
          if (is_status || inbox_.size() < options_.assignment_capacity) {
            inbox_.push_back({is_status, msg->is_retained(), msg->get_payload_str()});
          } else {
            ++inbox_overflow_;
          }
        }
      }
      callbacks_running_.fetch_sub(1);
      on_library_event();
    });
    client_ = std::move(client);
  } catch (const std::exception& e) {
    return invalid_argument("cannot create an MQTT client for " + uri_ + ": " + describe(e),
                            "broker_uri");
  }
  phase_ = Phase::kRunning;
  logger_.info("device_started", {{"runner", options_.runner_id}, {"broker", uri_}});
  begin_connect(clock_.mono_now());
  return Status::ok();
}

void RunnerDevice::on_library_event() {
  // Counted before the closed check so stop() can wait out a wake in progress.
  callbacks_running_.fetch_add(1);
  if (!callbacks_closed_.load() && options_.on_wake) options_.on_wake();
  callbacks_running_.fetch_sub(1);
}

void RunnerDevice::begin_connect(MonoTime now) {
  connecting_ = true;
  try {
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    // A persistent session: the broker keeps the subscriptions and queues assignments
    // (QoS 1) while the device is away, within its max_queued_messages.
    opts.set_clean_session(false);
    opts.set_keep_alive_interval(options_.keepalive);
    opts.set_connect_timeout(options_.connect_timeout);
    // Reconnects are ours: paho's own loop cannot be bounded or observed, and its
    // reconnect() can hang.
    opts.set_automatic_reconnect(false);
    opts.set_user_name(options_.runner_id);
    if (!options_.password.empty()) opts.set_password(options_.password);
    // Rebuilt per attempt so the will carries the time of the connection it guards.
    opts.set_will(mqtt::will_options(status_topic_, status_payload(false), kStatusQos, true));
    if (!options_.ca_file.empty()) {
      mqtt::ssl_options ssl;
      ssl.set_trust_store(options_.ca_file);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(true);
      opts.set_ssl(ssl);
    }
    client_->connect_token = client_->cli->connect(opts, nullptr, client_->listener);
  } catch (const std::exception& e) {
    connecting_ = false;
    client_->connect_token.reset();
    on_connect_failed(now, describe(e));
  }
}

void RunnerDevice::schedule_retry(MonoTime now) {
  backoff_ =
      backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
  // Half to all of the backoff, so a fleet cut off together spreads its reconnects.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  const auto delay =
      std::chrono::duration_cast<std::chrono::milliseconds>(backoff_ * spread(jitter_));
  next_attempt_ = now + delay;
}

void RunnerDevice::on_connect_failed(MonoTime now, const std::string& error) {
  ++consecutive_failures_;
  connect_failures_total_.inc();
  schedule_retry(now);
  std::uint64_t suppressed = 0;
  if (connect_log_.allow(now, &suppressed)) {
    logger_.warn(
        "broker_unreachable",
        {{"runner", options_.runner_id},
         {"broker", uri_},
         {"error", error},
         {"attempt", consecutive_failures_},
         {"retry_ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count()},
         {"suppressed", suppressed}});
  }
}

void RunnerDevice::on_link_lost(MonoTime now, const std::string& cause) {
  connected_.store(false);
  connected_gauge_.set(0);
  connecting_ = false;
  status_pending_ = false;
  subscribe_pending_ = false;
  subscribed_ = false;
  verdict_pending_ = true;
  client_->connect_token.reset();
  reap_inflight_events(true);
  schedule_retry(now);
  std::uint64_t suppressed = 0;
  if (connect_log_.allow(now, &suppressed)) {
    logger_.warn("broker_connection_lost", {{"runner", options_.runner_id},
                                            {"broker", uri_},
                                            {"cause", cause},
                                            {"backlog", backlog_.size()},
                                            {"suppressed", suppressed}});
  }
}

MonoTime RunnerDevice::service() {
  sync::MutexLock lock(mutex_);
  const MonoTime now = clock_.mono_now();
  if (phase_ != Phase::kRunning) return now + kIdleInterval;

  // A fresh connection that completed and dropped before we looked reports its loss
  // while connecting_ is still set; a loss with no live or completed connection is
  // stale and must not cancel an attempt in flight.
  const auto attempt_succeeded = [&]() REQUIRES(mutex_) {
    if (!connecting_ || !client_->connect_token) return false;
    try {
      return client_->connect_token->try_wait();
    } catch (const std::exception&) {
      return false;
    }
  };
  if (link_lost_.exchange(false) && (connected_.load() || attempt_succeeded())) {
    on_link_lost(now, "connection lost");
  }

  if (connecting_) {
    bool done = false;
    std::string error;
    try {
      done = client_->connect_token->try_wait();
    } catch (const std::exception& e) {
      done = true;
      error = describe(e);
    }
    if (done) {
      connecting_ = false;
      client_->connect_token.reset();
      if (!error.empty()) {
        on_connect_failed(now, error);
      } else {
        backoff_ = std::chrono::milliseconds(0);
        logger_.info("broker_connected", {{"runner", options_.runner_id},
                                          {"broker", uri_},
                                          {"after_failures", consecutive_failures_},
                                          {"backlog", backlog_.size()}});
        consecutive_failures_ = 0;
        connected_.store(true);
        connected_gauge_.set(1);
        status_pending_ = true;
        // Subscribed afresh on every connection: the broker may have lost the session
        // (restart without persistence), and the re-subscribe is what makes it send the
        // retained status the held assignments wait for.
        subscribe_pending_ = true;
        subscribed_ = false;
        verdict_pending_ = true;
      }
    }
  }

  if (!connected_.load() && !connecting_ && now >= next_attempt_) begin_connect(now);

  if (connected_.load()) {
    // Presence first: after an outage the edge must learn the runner is back before
    // it sees the backlog.
    if (subscribe_pending_) {
      subscribe_pending_ = !subscribe_assignments();
      subscribed_ = !subscribe_pending_;
    }
    if (status_pending_) status_pending_ = !publish_status(true);
    if (!status_pending_) {
      // Events before telemetry: a milestone matters more than a stale position.
      reap_inflight_events(false);
      flush_events();
      flush_backlog();
    }
  }
  drain_inbox(now);

  if (connecting_) return now + kConnectPollInterval;
  if (!connected_.load()) return std::max(next_attempt_, now);
  if (status_pending_ || subscribe_pending_ || !event_backlog_.empty()) {
    return now + options_.min_backoff;
  }
  // Unacknowledged events are looked at again soon, so a failure is retried promptly.
  if (!client_->inflight.empty()) return now + kConnectPollInterval;
  return now + kIdleInterval;
}

std::string RunnerDevice::status_payload(bool online) const {
  wire::RunnerStatus s;
  s.runner_id = options_.runner_id;
  s.status = online ? wire::RunnerPresence::kOnline : wire::RunnerPresence::kOffline;
  s.ts_ms = to_unix_ms(clock_.wall_now());
  if (online) {
    s.battery_pct = battery_pct_;
    s.app_version = options_.app_version;
  }
  return wire::serialize(s);
}

bool RunnerDevice::publish_status(bool online) {
  const std::string payload = status_payload(online);
  try {
    client_->cli->publish(status_topic_, payload.data(), payload.size(), kStatusQos, true);
  } catch (const std::exception& e) {
    note_publish_failure("status", describe(e));
    return false;
  }
  published_.fetch_add(1);
  published_total_.inc();
  return true;
}

void RunnerDevice::flush_backlog() {
  std::size_t sent = 0;
  while (!backlog_.empty()) {
    const std::string& payload = backlog_.front();
    try {
      client_->cli->publish(telemetry_topic_, payload.data(), payload.size(), kTelemetryQos, false);
    } catch (const std::exception& e) {
      // Kept for the next attempt; the loss callback will follow if the link is gone.
      note_publish_failure("telemetry", describe(e));
      break;
    }
    backlog_.pop_front();
    ++sent;
    published_.fetch_add(1);
    published_total_.inc();
  }
  set_backlog_gauge();
  if (sent > 1) {
    logger_.info("backlog_flushed",
                 {{"runner", options_.runner_id}, {"sent", sent}, {"remaining", backlog_.size()}});
  }
}

bool RunnerDevice::subscribe_assignments() {
  try {
    // One request, so the broker answers the status filter (its retained verdict)
    // before it handles the "online" we publish next.
    client_->cli->subscribe(mqtt::string_collection::create({assignment_topic_, status_topic_}),
                            mqtt::iasync_client::qos_collection{kAssignmentQos, kOwnStatusQos});
  } catch (const std::exception& e) {
    note_publish_failure("subscribe", describe(e));
    return false;
  }
  return true;
}

bool RunnerDevice::send_event(const std::string& payload) {
  try {
    auto token =
        client_->cli->publish(events_topic_, payload.data(), payload.size(), kEventQos, false);
    client_->inflight.emplace_back(std::move(token), payload);
  } catch (const std::exception& e) {
    note_publish_failure("event", describe(e));
    return false;
  }
  published_.fetch_add(1);
  published_total_.inc();
  return true;
}

void RunnerDevice::flush_events() {
  while (!event_backlog_.empty() && send_event(event_backlog_.front())) {
    event_backlog_.pop_front();
  }
  set_event_backlog_gauge();
}

void RunnerDevice::reap_inflight_events(bool all) {
  if (!client_) return;
  std::deque<std::string> again;
  auto& inflight = client_->inflight;
  for (auto it = inflight.begin(); it != inflight.end();) {
    bool delivered = false;
    bool failed = false;
    try {
      delivered = it->first->try_wait();
    } catch (const std::exception&) {
      failed = true;
    }
    if (delivered) {
      it = inflight.erase(it);
    } else if (failed || all) {
      again.push_back(std::move(it->second));
      it = inflight.erase(it);
    } else {
      ++it;
    }
  }
  // Ahead of anything queued later, keeping the original order; even past the capacity,
  // since these were accepted.
  event_backlog_.insert(event_backlog_.begin(), std::make_move_iterator(again.begin()),
                        std::make_move_iterator(again.end()));
  set_event_backlog_gauge();
}

void RunnerDevice::set_event_backlog_gauge() {
  event_backlog_size_.store(event_backlog_.size());
  event_backlog_gauge_.set(static_cast<double>(event_backlog_.size()));
}

void RunnerDevice::reject_assignment(MonoTime now, const std::string& why) {
  assignments_rejected_.fetch_add(1);
  assignments_rejected_total_.inc();
  std::uint64_t suppressed = 0;
  if (assignment_log_.allow(now, &suppressed)) {
    logger_.warn("assignment_rejected",
                 {{"runner", options_.runner_id}, {"error", why}, {"suppressed", suppressed}});
  }
}

void RunnerDevice::settle_verdict(MonoTime now, bool stale) {
  verdict_pending_ = false;
  if (!stale) {
    for (auto& a : held_) assignments_.push_back(std::move(a));
    held_.clear();
    return;
  }
  // The edge saw this runner offline and gave back every order it had not collected;
  // a route not yet started would deliver orders that are no longer ours.
  const std::size_t dropped = held_.size() + assignments_.size();
  for (const auto& list : {&held_, &assignments_}) {
    for (const wire::Assignment& a : *list) {
      logger_.warn("assignment_stale",
                   {{"runner", options_.runner_id}, {"assignment", a.assignment_id}});
    }
  }
  held_.clear();
  assignments_.clear();
  assignments_stale_.fetch_add(dropped);
  assignments_stale_total_.inc(dropped);
  (void)now;
}

void RunnerDevice::drain_inbox(MonoTime now) {
  std::deque<Inbound> received;
  std::uint64_t overflow = 0;
  {
    sync::MutexLock inbox_lock(inbox_mutex_);
    received.swap(inbox_);
    overflow = std::exchange(inbox_overflow_, 0);
  }
  for (std::uint64_t i = 0; i < overflow; ++i) {
    assignments_received_.fetch_add(1);
    assignments_received_total_.inc();
    reject_assignment(now, "assignment inbox full");
  }
  for (Inbound& in : received) {
    if (in.is_status) {
      // Only the first status after this connection's subscribe is the verdict; one
      // seen earlier is an echo from a connection that is gone.
      if (!verdict_pending_ || !subscribed_) continue;
      bool offline = false;
      if (in.retained) {
        auto status = wire::parse_runner_status(in.payload);
        offline = status.ok() && status->status == wire::RunnerPresence::kOffline;
      }
      settle_verdict(now, offline);
      continue;
    }
    assignments_received_.fetch_add(1);
    assignments_received_total_.inc();
    auto assignment = wire::parse_assignment(in.payload);
    if (!assignment.ok()) {
      reject_assignment(now, assignment.status().to_string());
    } else if (assignment->runner_id != options_.runner_id) {
      reject_assignment(now, "assignment is for runner " + assignment->runner_id);
    } else if (std::find(taken_ids_.begin(), taken_ids_.end(), assignment->assignment_id) !=
               taken_ids_.end()) {
      // A redelivery (QoS 1 after a lost acknowledgement): the route is already ours.
      assignments_stale_.fetch_add(1);
      assignments_stale_total_.inc();
    } else if (assignments_.size() + held_.size() >= options_.assignment_capacity) {
      reject_assignment(now, "assignment queue full");
    } else {
      logger_.info("assignment_received", {{"runner", options_.runner_id},
                                           {"assignment", assignment->assignment_id},
                                           {"stops", assignment->stops.size()},
                                           {"held", verdict_pending_}});
      taken_ids_.push_back(assignment->assignment_id);
      if (taken_ids_.size() > kTakenIdsKept) taken_ids_.pop_front();
      (verdict_pending_ ? held_ : assignments_).push_back(std::move(*assignment));
    }
  }
}

std::optional<wire::Assignment> RunnerDevice::next_assignment() {
  sync::MutexLock lock(mutex_);
  if (phase_ == Phase::kRunning) drain_inbox(clock_.mono_now());
  if (assignments_.empty()) return std::nullopt;
  wire::Assignment next = std::move(assignments_.front());
  assignments_.pop_front();
  return next;
}

Status RunnerDevice::publish_event(const wire::RunnerEvent& event) {
  sync::MutexLock lock(mutex_);
  if (phase_ != Phase::kRunning) return failed_precondition("runner device is not running");
  wire::RunnerEvent e = event;
  if (e.runner_id.empty()) e.runner_id = options_.runner_id;
  if (e.runner_id != options_.runner_id) {
    return invalid_argument("event names another runner", "runner_id");
  }
  if (e.ts_ms == 0) e.ts_ms = to_unix_ms(clock_.wall_now());
  const nlohmann::json j = wire::encode(e);
  if (auto check = wire::decode_runner_event(j); !check.ok()) return check.status();
  std::string payload = wire::dump_compact(j);

  if (connected_.load() && !status_pending_ && event_backlog_.empty() && send_event(payload)) {
    return Status::ok();
  }
  if (event_backlog_.size() >= options_.event_backlog_capacity) {
    events_refused_.fetch_add(1);
    events_refused_total_.inc();
    std::uint64_t suppressed = 0;
    if (refuse_log_.allow(clock_.mono_now(), &suppressed)) {
      logger_.warn("event_backlog_full", {{"runner", options_.runner_id},
                                          {"capacity", options_.event_backlog_capacity},
                                          {"refused_total", events_refused_.load()},
                                          {"suppressed", suppressed}});
    }
    return Status(StatusCode::kResourceExhausted,
                  "event backlog full (" + std::to_string(options_.event_backlog_capacity) +
                      " events waiting for the broker)");
  }
  event_backlog_.push_back(std::move(payload));
  set_event_backlog_gauge();
  return Status::ok();
}

void RunnerDevice::set_backlog_gauge() {
  backlog_size_.store(backlog_.size());
  backlog_gauge_.set(static_cast<double>(backlog_.size()));
}

void RunnerDevice::note_publish_failure(std::string_view what, const std::string& error) {
  publish_failures_total_.inc();
  std::uint64_t suppressed = 0;
  if (publish_log_.allow(clock_.mono_now(), &suppressed)) {
    logger_.warn("publish_failed", {{"runner", options_.runner_id},
                                    {"message", what},
                                    {"error", error},
                                    {"suppressed", suppressed}});
  }
}

Status RunnerDevice::publish_telemetry(const TelemetrySample& sample) {
  sync::MutexLock lock(mutex_);
  if (phase_ != Phase::kRunning) return failed_precondition("runner device is not running");
  wire::Telemetry t;
  t.runner_id = options_.runner_id;
  t.lat = sample.lat;
  t.lon = sample.lon;
  t.accuracy_m = sample.accuracy_m;
  t.speed_mps = sample.speed_mps;
  t.heading_deg = sample.heading_deg;
  t.battery_pct = sample.battery_pct;
  t.state = sample.state;
  t.device_ts_ms = sample.device_ts_ms != 0 ? sample.device_ts_ms : to_unix_ms(clock_.wall_now());
  t.seq = seq_.load() + 1;
  const nlohmann::json j = wire::encode(t);
  // The edge decodes with the same rules, so a sample it would reject never leaves.
  if (auto check = wire::decode_telemetry(j); !check.ok()) return check.status();

  seq_.store(*t.seq);
  battery_pct_ = sample.battery_pct;
  if (backlog_.size() >= options_.backlog_capacity) {
    backlog_.pop_front();
    dropped_.fetch_add(1);
    dropped_total_.inc();
    std::uint64_t suppressed = 0;
    if (drop_log_.allow(clock_.mono_now(), &suppressed)) {
      logger_.warn("backlog_full", {{"runner", options_.runner_id},
                                    {"capacity", options_.backlog_capacity},
                                    {"dropped_total", dropped_.load()},
                                    {"suppressed", suppressed}});
    }
  }
  backlog_.push_back(wire::dump_compact(j));
  if (connected_.load() && !status_pending_) {
    flush_backlog();
  } else {
    set_backlog_gauge();
  }
  return Status::ok();
}

void RunnerDevice::stop() {
  std::unique_ptr<Client> client;
  {
    sync::MutexLock lock(mutex_);
    if (phase_ == Phase::kStopped) return;
    const bool was_running = phase_ == Phase::kRunning;
    phase_ = Phase::kStopped;
    if (!was_running) return;

    // Learn how an attempt in flight ends, so a connection it opens is closed cleanly
    // rather than left to fire the last will.
    if (connecting_ && client_->connect_token) {
      try {
        client_->connect_token->wait_for(options_.stop_timeout);
      } catch (const std::exception&) {
        // Failed: nothing to close.
      }
      connecting_ = false;
    }
    bool link_up = false;
    try {
      link_up = client_->cli->is_connected();
    } catch (const std::exception&) {
    }
    bool offline_sent = false;
    if (link_up) {
      const std::string payload = status_payload(false);
      try {
        auto token =
            client_->cli->publish(status_topic_, payload.data(), payload.size(), kStatusQos, true);
        published_.fetch_add(1);
        published_total_.inc();
        offline_sent = token->wait_for(options_.stop_timeout);
      } catch (const std::exception& e) {
        note_publish_failure("status", describe(e));
      }
      try {
        auto token = client_->cli->disconnect(static_cast<int>(options_.stop_timeout.count()));
        token->wait_for(options_.stop_timeout);
      } catch (const std::exception& e) {
        logger_.warn("disconnect_failed", {{"runner", options_.runner_id}, {"error", describe(e)}});
      }
    }
    connected_.store(false);
    connected_gauge_.set(0);
    callbacks_closed_.store(true);
    client = std::move(client_);
    logger_.info("device_stopped", {{"runner", options_.runner_id},
                                    {"offline_sent", offline_sent},
                                    {"published", published_.load()},
                                    {"backlog", backlog_.size()},
                                    {"events_unsent", event_backlog_.size()}});
  }
  // A wake that started before callbacks were closed may still be calling into the
  // owner; the owner may be gone once stop() returns.
  while (callbacks_running_.load() > 0) std::this_thread::yield();
  client.reset();
}

}  // namespace shopeasy::runner
