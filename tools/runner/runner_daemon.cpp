#include "tools/runner/runner_daemon.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <random>

namespace shopeasy::runner {

namespace {

const service::ProgramInfo kProgram{"shopeasy-runner", "SHOPEASY_RUNNER_", SHOPEASY_VERSION};

std::string validate_runner_id(const config::Value& v) {
  const auto& id = std::get<std::string>(v);
  if (id.empty() || id.size() > 64) return "must be 1 to 64 characters";
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return "may contain only letters, digits, '-' and '_'";
    }
  }
  return {};
}

std::string validate_readable_file(const config::Value& v) {
  const auto& path = std::get<std::string>(v);
  if (path.empty() || std::ifstream(path).good()) return {};
  return "cannot read file " + path;
}

// Fleet ids append up to four digits, and ids are at most 64 characters.
std::string validate_id_prefix(const config::Value& v) {
  const auto& prefix = std::get<std::string>(v);
  if (prefix.empty() || prefix.size() > 60) return "must be 1 to 60 characters";
  for (char c : prefix) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return "may contain only letters, digits, '-' and '_'";
    }
  }
  return {};
}

std::string broker_uri(const config::Config& config) {
  std::string host = config.get_string("mqtt.host");
  // A bare IPv6 address needs brackets before the port is appended.
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "tcp://" + host + ":" + std::to_string(config.get_int("mqtt.port"));
}

}  // namespace

config::Schema runner_schema() {
  using namespace config;
  Schema s;
  service::add_common_options(s, 0);
  Option id = string_option("runner.id", "runner-1",
                            "This runner's id; also its MQTT client id and user name");
  id.validator = validate_runner_id;
  s.add(id);
  s.add(choice_option("runner.mode", "device", {"device", "heartbeat", "fleet"},
                      "device = one runner (runner.id) riding the routes it is assigned, "
                      "idle at the start position otherwise (heartbeat: the same); fleet = "
                      "fleet.size simulated runners, each with its own connection"));
  s.add(double_option("runner.speed_mps", 5, 0.5, 50, "Riding speed along a route (m/s)"));
  s.add(int_option("runner.dwell_ms", 2000, 0, 600000,
                   "Time at each customer between arrived_customer and delivered"));
  s.add(int_option("fleet.size", 10, 1, 5000, "Runners simulated in fleet mode"));
  Option prefix = string_option("fleet.id_prefix", "sim-r",
                                "Fleet runner ids are this followed by 1..fleet.size");
  prefix.validator = validate_id_prefix;
  s.add(prefix);
  Option fleet_password = string_option(
      "fleet.password", "", "Broker password every fleet runner uses (empty: mqtt.password)");
  fleet_password.secret = true;
  s.add(fleet_password);
  s.add(int_option("fleet.seed", 1, 0, 2147483647, "Seed of the fleet's start positions"));
  s.add(double_option("fleet.spread_m", 200, 0, 5000,
                      "Fleet runners start up to this far from runner.lat/lon"));
  s.add(double_option("runner.lat", 12.9721, -90, 90, "Start latitude (degrees)"));
  s.add(double_option("runner.lon", 77.5950, -180, 180, "Start longitude (degrees)"));
  s.add(int_option("runner.battery_pct", 100, 0, 100, "Battery level the runner reports"));
  s.add(string_option("mqtt.host", "127.0.0.1", "Broker host"));
  s.add(int_option("mqtt.port", 1883, 1, 65535, "Broker port"));
  Option password = string_option("mqtt.password", "", "Broker password (empty: none)");
  password.secret = true;
  s.add(password);
  Option ca = string_option("mqtt.ca_file", "",
                            "CA certificate of a TLS broker listener (empty: plain TCP)");
  ca.validator = validate_readable_file;
  s.add(ca);
  s.add(int_option("mqtt.keepalive_s", 30, 1, 3600,
                   "MQTT keepalive; the broker declares the runner offline after 1.5x this"));
  s.add(int_option("telemetry.interval_ms", 1000, 100, 60000, "Time between position reports"));
  s.add(int_option("telemetry.backlog", 1000, 1, 100000,
                   "Position reports kept while disconnected (oldest dropped first)"));
  s.add(int_option("events.backlog", 1000, 1, 100000,
                   "Delivery events kept per runner while disconnected (never dropped; "
                   "the route waits when full)"));
  return s;
}

RunnerDaemon::RunnerDaemon(config::Config config, log::Logger logger)
    : config_(std::move(config)), logger_(std::move(logger)) {}

RunnerDaemon::~RunnerDaemon() { stop(); }

Status RunnerDaemon::start() {
  started_at_ = clock_.mono_now();

  auto auth = http::TokenAuthenticator::from_json(
      config_.get_json("auth.tokens"),
      {"admin", "manager", "picker", "viewer", "store", "customer", "metrics"});
  if (!auth.ok()) return auth.status().with_field_prefix("auth.tokens");
  auth_.emplace(std::move(*auth));

  // 1. The devices: their connects run in the background and are retried, never fatal.
  fleet_ = config_.get_string("runner.mode") == "fleet";
  const wire::GeoPoint start{config_.get_double("runner.lat"), config_.get_double("runner.lon")};
  const std::chrono::milliseconds interval(config_.get_int("telemetry.interval_ms"));
  if (!fleet_) {
    SHOPEASY_RETURN_IF_ERROR(add_runner(config_.get_string("runner.id"), start, started_at_));
  } else {
    const auto size = static_cast<std::size_t>(config_.get_int("fleet.size"));
    const double spread_m = config_.get_double("fleet.spread_m");
    std::mt19937_64 rng(static_cast<std::uint64_t>(config_.get_int("fleet.seed")));
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    constexpr double kMetresPerDegree = 111195.0;
    const double lon_scale = std::max(std::cos(start.lat * 3.14159265358979 / 180.0), 0.01);
    runners_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      wire::GeoPoint home = start;
      home.lat = std::clamp(home.lat + unit(rng) * spread_m / kMetresPerDegree, -90.0, 90.0);
      home.lon =
          std::clamp(home.lon + unit(rng) * spread_m / kMetresPerDegree / lon_scale, -180.0, 180.0);
      // Spread over one interval so the fleet does not report in bursts.
      const MonoTime first =
          started_at_ + interval * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(size);
      SHOPEASY_RETURN_IF_ERROR(
          add_runner(config_.get_string("fleet.id_prefix") + std::to_string(i + 1), home, first));
    }
  }

  // 2. HTTP, so /health reports on a device that exists.
  http_ = std::make_unique<http::HttpServer>(service::http_options(config_), &*auth_,
                                             logger_.child("http"), metrics_);
  service::add_health_and_metrics(*http_, metrics_, [this] { return health(); });
  auto port = http_->start();
  if (!port.ok()) return port.status();

  // 3. The driver thread last: everything it touches exists.
  loop_ = std::thread([this] { run_loop(); });
  logger_.info("started", {{"runner", runners_.front().device->runner_id()},
                           {"mode", config_.get_string("runner.mode")},
                           {"runners", runners_.size()},
                           {"http_port", *port},
                           {"broker", runners_.front().device->broker_uri()},
                           {"interval_ms", config_.get_int("telemetry.interval_ms")}});
  return Status::ok();
}

void RunnerDaemon::stop() {
  {
    sync::MutexLock lock(loop_mutex_);
    loop_stop_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (http_) http_->stop();
  for (auto& r : runners_) r.device->stop();
}

Status RunnerDaemon::add_runner(const std::string& id, wire::GeoPoint home, MonoTime first_report) {
  RunnerDeviceOptions o;
  o.broker_uri = broker_uri(config_);
  o.runner_id = id;
  o.password = config_.get_string("mqtt.password");
  if (fleet_ && !config_.get_string("fleet.password").empty()) {
    o.password = config_.get_string("fleet.password");
  }
  o.ca_file = config_.get_string("mqtt.ca_file");
  o.keepalive = std::chrono::seconds(config_.get_int("mqtt.keepalive_s"));
  o.backlog_capacity = static_cast<std::size_t>(config_.get_int("telemetry.backlog"));
  o.event_backlog_capacity = static_cast<std::size_t>(config_.get_int("events.backlog"));
  o.app_version = kProgram.version;
  o.battery_pct = static_cast<int>(config_.get_int("runner.battery_pct"));
  o.on_wake = [this] { wake(); };
  SimRunner r;
  r.device = std::make_unique<RunnerDevice>(std::move(o), clock_, logger_.child("mqtt"), metrics_);
  if (Status st = r.device->start(); !st.is_ok()) return st.with_field_prefix("mqtt");
  auto route = RouteFollower::create(
      {.runner_id = id,
       .home = home,
       .speed_mps = config_.get_double("runner.speed_mps"),
       .dwell = std::chrono::milliseconds(config_.get_int("runner.dwell_ms"))},
      clock_);
  if (!route.ok()) return route.status().with_field_prefix("runner");
  r.route.emplace(std::move(*route));
  r.next_report = first_report;
  runners_.push_back(std::move(r));
  return Status::ok();
}

void RunnerDaemon::wake() {
  {
    sync::MutexLock lock(loop_mutex_);
    woken_ = true;
  }
  loop_cv_.notify_all();
}

void RunnerDaemon::drive(SimRunner& r, MonoTime now, log::RateLimiter& rejected_log) {
  RunnerDevice& device = *r.device;
  if (r.route->idle()) {
    if (auto assignment = device.next_assignment()) {
      if (Status st = r.route->assign(*assignment); !st.is_ok()) {
        logger_.warn("assignment_refused", {{"runner", device.runner_id()},
                                            {"assignment", assignment->assignment_id},
                                            {"error", st.to_string()}});
      } else {
        logger_.info("route_started", {{"runner", device.runner_id()},
                                       {"assignment", assignment->assignment_id},
                                       {"stops", assignment->stops.size()}});
      }
    }
  }
  for (auto& e : r.route->advance()) r.unsent.push_back(std::move(e));
  while (!r.unsent.empty()) {
    const Status st = device.publish_event(r.unsent.front());
    // A full event backlog is the only transient refusal; the device has counted and
    // logged it, and the event is offered again on the next pass.
    if (st.code() == StatusCode::kResourceExhausted) break;
    if (!st.is_ok()) {
      logger_.error("event_rejected", {{"runner", device.runner_id()}, {"error", st.to_string()}});
    }
    r.unsent.pop_front();
  }

  if (now < r.next_report) return;
  const RoutePosition p = r.route->position();
  TelemetrySample s;
  s.lat = p.lat;
  s.lon = p.lon;
  s.speed_mps = p.speed_mps;
  s.heading_deg = p.heading_deg;
  s.state = p.state;
  s.battery_pct = static_cast<int>(config_.get_int("runner.battery_pct"));
  if (Status st = device.publish_telemetry(s); !st.is_ok()) {
    std::uint64_t suppressed = 0;
    if (rejected_log.allow(now, &suppressed)) {
      logger_.error(
          "telemetry_rejected",
          {{"runner", device.runner_id()}, {"error", st.to_string()}, {"suppressed", suppressed}});
    }
  }
  // Missed reports are skipped, not sent in a burst: a stale fix is worth nothing.
  const std::chrono::milliseconds interval(config_.get_int("telemetry.interval_ms"));
  r.next_report += interval;
  if (r.next_report <= now) r.next_report = now + interval;
}

void RunnerDaemon::run_loop() {
  log::RateLimiter rejected_log(3, std::chrono::seconds(60));
  sync::MutexLock lock(loop_mutex_);
  while (!loop_stop_) {
    woken_ = false;
    lock.unlock();
    MonoTime wanted = clock_.mono_now() + std::chrono::seconds(1);
    for (auto& r : runners_) {
      wanted = std::min(wanted, r.device->service());
      drive(r, clock_.mono_now(), rejected_log);
      wanted = std::min(wanted, r.next_report);
      // A riding runner's events come due between reports; look again soon.
      if (!r.route->idle() || !r.unsent.empty()) {
        wanted = std::min(wanted, clock_.mono_now() + std::chrono::milliseconds(100));
      }
    }
    lock.lock();
    while (!loop_stop_ && !woken_) {
      if (loop_cv_.wait_until(loop_mutex_, wanted) == std::cv_status::timeout) break;
    }
  }
}

nlohmann::json RunnerDaemon::health() const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.mono_now() - started_at_);
  std::size_t connected = 0;
  std::uint64_t published = 0;
  std::size_t backlog = 0;
  std::uint64_t dropped = 0;
  std::size_t event_backlog = 0;
  std::uint64_t refused = 0;
  std::uint64_t received = 0;
  std::uint64_t rejected = 0;
  for (const auto& r : runners_) {
    connected += r.device->connected() ? 1 : 0;
    published += r.device->messages_published();
    backlog += r.device->backlog_size();
    dropped += r.device->backlog_dropped();
    event_backlog += r.device->event_backlog_size();
    refused += r.device->events_refused();
    received += r.device->assignments_received();
    rejected += r.device->assignments_rejected();
  }
  const RunnerDevice& first = *runners_.front().device;
  nlohmann::json h = {
      {"status", "ok"},
      {"service", kProgram.name},
      {"version", kProgram.version},
      {"mode", config_.get_string("runner.mode")},
      {"uptime_s", uptime.count()},
      {"mqtt", {{"broker", first.broker_uri()}, {"connected", connected == runners_.size()}}},
      {"fleet", {{"size", runners_.size()}, {"connected", connected}}},
      {"messages_published", published},
      {"backlog_size", backlog},
      {"backlog_dropped", dropped},
      {"event_backlog_size", event_backlog},
      {"events_refused", refused},
      {"assignments_received", received},
      {"assignments_rejected", rejected}};
  if (!fleet_) {
    h["runner_id"] = first.runner_id();
    h["last_seq"] = first.last_seq();
  }
  return h;
}

int run_runner(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, runner_schema(), argc, argv, [](config::Config config, log::Logger logger) {
        return std::make_unique<RunnerDaemon>(std::move(config), std::move(logger));
      });
}

}  // namespace shopeasy::runner
