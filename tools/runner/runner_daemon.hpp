// RunnerDaemon is the runner device client as a program (shopeasy-runner): it loads
// the configuration, connects RunnerDevices to the store's broker and drives them all
// from one thread: servicing each device (reconnects, backlogs), riding the routes the
// edge assigns (RouteFollower: events at each milestone) and publishing telemetry on a
// timer per device. The HTTP server answers /health and /metrics. An unreachable broker
// is never fatal: devices keep retrying with backoff while /health says so.
//
// runner.mode=device (default; "heartbeat" is the older name) runs one runner, runner.id,
// at runner.lat/lon. runner.mode=fleet simulates fleet.size runners {fleet.id_prefix}1..N,
// each with its own connection, starting within fleet.spread_m of runner.lat/lon (seeded
// by fleet.seed). Idle runners stay where they are; after a route they wait at the
// store. main() only calls run_runner().
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/service/service.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "tools/runner/route.hpp"
#include "tools/runner/runner_device.hpp"

namespace shopeasy::runner {

// The runner's option table (env prefix SHOPEASY_RUNNER_); every key is in --help.
config::Schema runner_schema();

class RunnerDaemon final : public service::Daemon {
 public:
  RunnerDaemon(config::Config config, log::Logger logger);
  ~RunnerDaemon() override;

  // Starts, in order: the device (first connect attempted in the background), the HTTP
  // server, the driver thread. Returns the first fatal problem (a port that cannot be
  // bound); a missing broker is not one.
  Status start() override;
  // Stops in reverse order; the device publishes "offline" before disconnecting.
  // Idempotent.
  void stop() override EXCLUDES(loop_mutex_);

  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  // One simulated runner; touched only by the driver thread after start(), except the
  // device's own thread-safe accessors.
  struct SimRunner {
    std::unique_ptr<RunnerDevice> device;
    std::optional<RouteFollower> route;
    std::deque<wire::RunnerEvent> unsent;  // refused by a full event backlog; retried
    MonoTime next_report{};
  };

  // Creates and starts one runner: its device (connecting in the background) and route.
  Status add_runner(const std::string& id, wire::GeoPoint home, MonoTime first_report);
  // The driver thread: services every device and drives its route and telemetry.
  void run_loop() EXCLUDES(loop_mutex_);
  // Takes an assignment when idle, advances the route, sends its events and, when due,
  // a telemetry report.
  void drive(SimRunner& r, MonoTime now, log::RateLimiter& rejected_log);
  // Wakes the driver thread early (called from the MQTT library's thread).
  void wake() EXCLUDES(loop_mutex_);
  nlohmann::json health() const;

  config::Config config_;
  log::Logger logger_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::optional<http::TokenAuthenticator> auth_;
  std::vector<SimRunner> runners_;
  bool fleet_ = false;
  std::unique_ptr<http::HttpServer> http_;
  MonoTime started_at_{};

  // Guards the driver thread's stop and wake flags.
  sync::Mutex loop_mutex_;
  sync::CondVar loop_cv_;
  bool loop_stop_ GUARDED_BY(loop_mutex_) = false;
  bool woken_ GUARDED_BY(loop_mutex_) = false;
  std::thread loop_;
};

// The whole program: parse flags and config, run until SIGTERM/SIGINT. Exit codes as
// in service::run_daemon (2 for bad configuration, naming the key).
int run_runner(int argc, const char* const* argv);

}  // namespace shopeasy::runner
