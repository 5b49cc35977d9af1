// What every ShopEasy program does the same way at start-up and shutdown: parse the
// command line, load and validate the configuration (exit code 2 naming every bad
// key), answer --help/--version/--check-config/--print-config, block the signals the
// main thread waits for, and build the logger. A program's main() is then a few
// lines: build its schema, call start_program(), run its daemon.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/config/config.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/status/status.hpp"

namespace shopeasy::service {

// Exit codes shared by every program.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;    // a fatal error while running
inline constexpr int kExitBadConfig = 2;  // bad flags or configuration

struct ProgramInfo {
  std::string name;        // "shopeasy-edge"
  std::string env_prefix;  // "SHOPEASY_EDGE_"
  std::string version;
};

// Adds the options every daemon has: log.level, http.host, http.port, http.threads,
// http.max_body_bytes, http.read_timeout_s, auth.tokens.
void add_common_options(config::Schema& schema, int default_http_port,
                        std::int64_t default_max_body_bytes = 1 << 20,
                        std::int64_t default_http_threads = 16);

struct Startup {
  std::optional<config::Config> config;  // set when the program should run
  int exit_code = kExitOk;               // otherwise, exit with this
};

// Parses argv and loads the configuration. `validate` runs after the schema's own
// checks for cross-key rules and may return a kInvalidArgument naming a key. Prints
// help, version or problems itself; the caller only honours exit_code.
Startup start_program(const ProgramInfo& info, const config::Schema& schema, int argc,
                      const char* const* argv,
                      const std::function<Status(const config::Config&)>& validate = {});

// Loads the configuration again the way start_program() did (same flags, file and
// environment), for a reload; the problem when it is not valid.
StatusOr<config::Config> reload_config(
    const ProgramInfo& info, const config::Schema& schema, int argc, const char* const* argv,
    const std::function<Status(const config::Config&)>& validate);
// A logger for the program at the configured level, writing to stderr.
log::Logger make_logger(const ProgramInfo& info, const config::Config& config);

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread created
// after it, so only wait_for_signal() sees them. Call before starting any thread.
void block_shutdown_signals();

// The HTTP server options from the common http.* keys.
http::ServerOptions http_options(const config::Config& config);

// Creates `path` (and parents) if missing; kFailedPrecondition naming `key` if not.
Status ensure_directory(const std::string& path, const std::string& key);

// GET /health (public: liveness and each component's state; the full JSON from
// `health`, with addresses and error texts, only to a caller with a valid credential)
// and GET /metrics (operators: the admin and metrics roles; Prometheus text).
void add_health_and_metrics(http::HttpServer& server, const metrics::Registry& metrics,
                            std::function<nlohmann::json()> health);

// One debug line per registered route (event=http_route method=... pattern=...
// access=public|identified|roles:a,b|authenticated), so an operator or a contract
// check can see exactly what a running daemon serves.
void log_routes(const http::HttpServer& server, const log::Logger& logger);

// A long-running program's parts, owned by one object.
class Daemon {
 public:
  virtual ~Daemon() = default;
  // Starts every part; a non-OK status is fatal and the program exits 1.
  virtual Status start() = 0;
  // Stops every part in reverse order. Called once.
  virtual void stop() = 0;
  // Called about once a second on the main thread, for housekeeping.
  virtual void tick() {}
  // Whether every loop is making progress; the systemd watchdog is pinged only while
  // this holds, so a hung loop ends in a restart.
  virtual bool healthy() const { return true; }
  // SIGHUP with a valid configuration: applies the settings that are safe to change while
  // running and logs the changed keys that need a restart. The default applies nothing.
  virtual Status reload(const config::Config& fresh) {
    (void)fresh;
    return Status::ok();
  }
};

using DaemonFactory = std::function<std::unique_ptr<Daemon>(config::Config, log::Logger)>;

// The whole life of a daemon: start_program(), build it, start it, wait for SIGTERM
// or SIGINT (SIGHUP reloads: see Daemon::reload), stop it. Returns the process exit code.
int run_daemon(const ProgramInfo& info, const config::Schema& schema, int argc,
               const char* const* argv, const DaemonFactory& make,
               const std::function<Status(const config::Config&)>& validate = {});

enum class Signal { kNone, kStop, kReload };
// Waits up to `timeout` for SIGINT/SIGTERM (kStop) or SIGHUP (kReload); kNone on
// timeout. Signals must have been blocked with block_shutdown_signals().
Signal wait_for_signal(std::chrono::milliseconds timeout);

}  // namespace shopeasy::service
