// RunnerDaemon is the runner device client as a program (shopeasy-runner): it loads
// the configuration, connects one RunnerDevice to the store's broker, and publishes
// telemetry on a timer from its own driver thread, which also services the device
// (reconnects, backlog). The HTTP server answers /health and /metrics. An unreachable
// broker is never fatal: the device keeps retrying with backoff while /health says
// connected=false. main() only calls run_runner().
//
// The only behaviour so far is runner.mode=heartbeat: the fixed start position, idle.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/service/service.hpp"
#include "common/status/status.hpp"
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
  void stop() override;

  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  // The driver thread: services the device and publishes telemetry every interval.
  void run_loop();
  // The next sample of the configured behaviour.
  TelemetrySample next_sample() const;
  // Wakes the driver thread early (called from the MQTT library's thread).
  void wake();
  nlohmann::json health() const;

  config::Config config_;
  log::Logger logger_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::optional<http::TokenAuthenticator> auth_;
  std::unique_ptr<RunnerDevice> device_;
  std::unique_ptr<http::HttpServer> http_;
  MonoTime started_at_{};

  std::mutex loop_mutex_;
  std::condition_variable loop_cv_;
  bool loop_stop_ = false;  // guarded by loop_mutex_
  bool woken_ = false;      // guarded by loop_mutex_
  std::thread loop_;
};

// The whole program: parse flags and config, run until SIGTERM/SIGINT. Exit codes as
// in service::run_daemon (2 for bad configuration, naming the key).
int run_runner(int argc, const char* const* argv);

}  // namespace shopeasy::runner
