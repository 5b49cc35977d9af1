#include "tools/runner/runner_daemon.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>

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
  s.add(choice_option("runner.mode", "heartbeat", {"heartbeat"},
                      "What the runner does: heartbeat = stay idle at the start position"));
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

  // 1. The device: its connect runs in the background and is retried, never fatal.
  RunnerDeviceOptions o;
  o.broker_uri = broker_uri(config_);
  o.runner_id = config_.get_string("runner.id");
  o.password = config_.get_string("mqtt.password");
  o.ca_file = config_.get_string("mqtt.ca_file");
  o.keepalive = std::chrono::seconds(config_.get_int("mqtt.keepalive_s"));
  o.backlog_capacity = static_cast<std::size_t>(config_.get_int("telemetry.backlog"));
  o.app_version = kProgram.version;
  o.battery_pct = static_cast<int>(config_.get_int("runner.battery_pct"));
  o.on_wake = [this] { wake(); };
  device_ = std::make_unique<RunnerDevice>(std::move(o), clock_, logger_.child("mqtt"), metrics_);
  if (Status st = device_->start(); !st.is_ok()) return st.with_field_prefix("mqtt");

  // 2. HTTP, so /health reports on a device that exists.
  http_ = std::make_unique<http::HttpServer>(service::http_options(config_), &*auth_,
                                             logger_.child("http"), metrics_);
  service::add_health_and_metrics(*http_, metrics_, [this] { return health(); });
  auto port = http_->start();
  if (!port.ok()) return port.status();

  // 3. The driver thread last: everything it touches exists.
  loop_ = std::thread([this] { run_loop(); });
  logger_.info("started", {{"runner", device_->runner_id()},
                           {"mode", config_.get_string("runner.mode")},
                           {"http_port", *port},
                           {"broker", device_->broker_uri()},
                           {"interval_ms", config_.get_int("telemetry.interval_ms")}});
  return Status::ok();
}

void RunnerDaemon::stop() {
  {
    std::lock_guard lock(loop_mutex_);
    loop_stop_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (http_) http_->stop();
  if (device_) device_->stop();
}

void RunnerDaemon::wake() {
  {
    std::lock_guard lock(loop_mutex_);
    woken_ = true;
  }
  loop_cv_.notify_all();
}

TelemetrySample RunnerDaemon::next_sample() const {
  TelemetrySample s;
  s.lat = config_.get_double("runner.lat");
  s.lon = config_.get_double("runner.lon");
  s.battery_pct = static_cast<int>(config_.get_int("runner.battery_pct"));
  s.state = wire::RunnerState::kIdle;
  return s;
}

void RunnerDaemon::run_loop() {
  const std::chrono::milliseconds interval(config_.get_int("telemetry.interval_ms"));
  log::RateLimiter rejected_log(3, std::chrono::seconds(60));
  MonoTime next_report = clock_.mono_now();
  std::unique_lock lock(loop_mutex_);
  while (!loop_stop_) {
    woken_ = false;
    lock.unlock();
    MonoTime wanted = device_->service();
    const MonoTime now = clock_.mono_now();
    if (now >= next_report) {
      if (Status st = device_->publish_telemetry(next_sample()); !st.is_ok()) {
        std::uint64_t suppressed = 0;
        if (rejected_log.allow(now, &suppressed)) {
          logger_.error("telemetry_rejected",
                        {{"error", st.to_string()}, {"suppressed", suppressed}});
        }
      }
      // Missed reports are skipped, not sent in a burst: a stale fix is worth nothing.
      next_report += interval;
      if (next_report <= now) next_report = now + interval;
    }
    wanted = std::min(wanted, next_report);
    lock.lock();
    loop_cv_.wait_until(lock, wanted, [this] { return loop_stop_ || woken_; });
  }
}

nlohmann::json RunnerDaemon::health() const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.mono_now() - started_at_);
  return {{"status", "ok"},
          {"service", kProgram.name},
          {"version", kProgram.version},
          {"runner_id", device_->runner_id()},
          {"mode", config_.get_string("runner.mode")},
          {"uptime_s", uptime.count()},
          {"mqtt", {{"broker", device_->broker_uri()}, {"connected", device_->connected()}}},
          {"messages_published", device_->messages_published()},
          {"backlog_size", device_->backlog_size()},
          {"backlog_dropped", device_->backlog_dropped()},
          {"last_seq", device_->last_seq()}};
}

int run_runner(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, runner_schema(), argc, argv, [](config::Config config, log::Logger logger) {
        return std::make_unique<RunnerDaemon>(std::move(config), std::move(logger));
      });
}

}  // namespace shopeasy::runner
