#include "common/service/service.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "common/http/auth.hpp"
#include "common/service/sd_notify.hpp"

namespace shopeasy::service {

void add_common_options(config::Schema& schema, int default_http_port,
                        std::int64_t default_max_body_bytes, std::int64_t default_http_threads) {
  schema.add(config::choice_option("log.level", "info", {"debug", "info", "warn", "error"},
                                   "Least severe log level written"));
  schema.add(config::string_option("http.host", "127.0.0.1", "Address the HTTP API listens on"));
  schema.add(config::int_option("http.port", default_http_port, 0, 65535,
                                "TCP port of the HTTP API (0 picks a free one and logs it)"));
  schema.add(config::int_option("http.threads", default_http_threads, 2, 512,
                                "HTTP handlers running at once (further requests wait)"));
  schema.add(config::int_option("http.max_connections", 1024, 16, 100000,
                                "Connections served at once, each on a mostly waiting thread "
                                "(idle keep-alive, slow clients, event streams); more wait"));
  schema.add(config::int_option("http.max_body_bytes", default_max_body_bytes, 1024, 64 << 20,
                                "Largest request body accepted (413 above)"));
  schema.add(config::int_option("http.read_timeout_s", 10, 1, 300,
                                "Seconds a client may take to send a request"));
  schema.add(config::int_option("http.max_header_bytes", 16 * 1024, 1024, 1 << 20,
                                "Largest total of request headers accepted (431 above)"));
  schema.add(config::int_option("http.max_streams", 32, 1, 10000,
                                "Event streams (SSE) open at once; each has a thread of its own "
                                "beside http.threads, so streams never starve the API"));
  schema.add(config::int_option("http.max_streams_per_client", 4, 1, 10000,
                                "Event streams one token, user or customer may hold at once"));
  schema.add(config::int_option("http.min_body_bytes_per_s", 16 * 1024, 1, 1 << 30,
                                "After http.read_timeout_s, a request body slower than this is "
                                "cut (408)"));
  schema.add(config::string_option("http.tls_cert_file", "",
                                   "Serve HTTPS with this PEM certificate chain (empty: HTTP)"));
  schema.add(
      config::string_option("http.tls_key_file", "", "The PEM private key of http.tls_cert_file"));
  schema.add(config::double_option("http.rate_limit_per_s", 50, 0, 1e6,
                                   "Requests per second allowed per client (token or address) "
                                   "before 429 with Retry-After; 0 turns the limit off "
                                   "(reloadable)"));
  schema.add(config::double_option("http.rate_limit_burst", 200, 1, 1e6,
                                   "Requests a client may send at once above the rate "
                                   "(reloadable)"));
  config::Option tokens = config::json_option(
      "auth.tokens", nlohmann::json::array(),
      "Bearer tokens: [{\"name\":..., \"role\":..., \"sha256\": hex SHA-256 of the token}]");
  tokens.validator = [](const config::Value& v) -> std::string {
    const auto& j = std::get<nlohmann::json>(v);
    auto parsed = http::TokenAuthenticator::from_json(
        j, {"admin", "manager", "picker", "viewer", "store", "customer", "metrics"});
    if (parsed.ok()) return {};
    return parsed.status().field() + ": " + parsed.status().message();
  };
  schema.add(tokens);
}

namespace {

// The configuration from file, environment and flags, checked by the schema and then
// by `validate`.
StatusOr<config::Config> load_config(const ProgramInfo& info, const config::Schema& schema,
                                     const config::CommandLine& cl,
                                     const std::function<Status(const config::Config&)>& validate) {
  config::Sources sources;
  sources.file_path = cl.config_path;
  sources.env = config::process_environment();
  sources.env_prefix = info.env_prefix;
  sources.flags = cl.flags;
  auto cfg = config::load(schema, sources);
  if (cfg.ok() && validate) {
    Status extra = validate(*cfg);
    if (!extra.is_ok()) return extra;
  }
  return cfg;
}

std::string describe_problem(const Status& st) {
  std::string text = st.message();
  if (!st.field().empty() && text.find(st.field()) == std::string::npos) {
    text += " (key " + st.field() + ")";
  }
  return text;
}

}  // namespace

Startup start_program(const ProgramInfo& info, const config::Schema& schema, int argc,
                      const char* const* argv,
                      const std::function<Status(const config::Config&)>& validate) {
  Startup out;
  auto cl = config::parse_command_line(schema, argc, argv);
  if (!cl.ok()) {
    std::cerr << info.name << ": " << cl.status().message() << "\n";
    out.exit_code = kExitBadConfig;
    return out;
  }
  if (cl->help) {
    std::cout << config::usage(schema, info.name, info.env_prefix);
    return out;
  }
  if (cl->version) {
    std::cout << info.name << " " << info.version << "\n";
    return out;
  }
  auto cfg = load_config(info, schema, *cl, validate);
  if (!cfg.ok()) {
    std::cerr << info.name << ": " << describe_problem(cfg.status()) << "\n";
    out.exit_code = kExitBadConfig;
    return out;
  }
  if (cl->print_config) {
    std::cout << cfg->describe().dump(2) << "\n";
    return out;
  }
  if (cl->check_config) {
    std::cout << info.name << ": configuration OK\n";
    return out;
  }
  out.config = std::move(*cfg);
  return out;
}

StatusOr<config::Config> reload_config(
    const ProgramInfo& info, const config::Schema& schema, int argc, const char* const* argv,
    const std::function<Status(const config::Config&)>& validate) {
  auto cl = config::parse_command_line(schema, argc, argv);
  if (!cl.ok()) return cl.status();
  return load_config(info, schema, *cl, validate);
}

log::Logger make_logger(const ProgramInfo& info, const config::Config& config) {
  log::Level level = log::Level::kInfo;
  log::parse_level(config.get_string("log.level"), &level);
  return log::Logger(std::make_shared<log::StderrSink>(), level, info.name);
}

namespace {
sigset_t shutdown_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  sigset_t set = shutdown_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket mid-write must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);
}

Signal wait_for_signal(std::chrono::milliseconds timeout) {
  sigset_t set = shutdown_signal_set();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  const int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig == SIGINT || sig == SIGTERM) return Signal::kStop;
  if (sig == SIGHUP) return Signal::kReload;
  return Signal::kNone;
}

http::ServerOptions http_options(const config::Config& config) {
  http::ServerOptions o;
  o.host = config.get_string("http.host");
  o.port = static_cast<int>(config.get_int("http.port"));
  o.threads = static_cast<std::size_t>(config.get_int("http.threads"));
  o.max_body_bytes = static_cast<std::size_t>(config.get_int("http.max_body_bytes"));
  o.read_timeout = std::chrono::seconds(config.get_int("http.read_timeout_s"));
  o.max_header_bytes = static_cast<std::size_t>(config.get_int("http.max_header_bytes"));
  o.max_connections = static_cast<std::size_t>(config.get_int("http.max_connections"));
  o.max_streams = static_cast<std::size_t>(config.get_int("http.max_streams"));
  o.max_streams_per_client =
      static_cast<std::size_t>(config.get_int("http.max_streams_per_client"));
  o.min_body_bytes_per_s = static_cast<std::size_t>(config.get_int("http.min_body_bytes_per_s"));
  o.tls_cert_file = config.get_string("http.tls_cert_file");
  o.tls_key_file = config.get_string("http.tls_key_file");
  return o;
}

Status ensure_directory(const std::string& path, const std::string& key) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return Status(StatusCode::kFailedPrecondition,
                  "cannot create directory " + path + ": " + ec.message(), key);
  }
  return Status::ok();
}

namespace {

// What an anonymous caller may not read in a health answer: where the daemon talks to
// (cloud URL, file paths), what went wrong (error texts name hosts and files), and
// which store and build it is.
void redact_for_anonymous(nlohmann::json& j) {
  static constexpr std::string_view kPrivate[] = {
      "cloud", "last_error", "error", "path", "url", "store_id", "version", "detail", "message"};
  if (j.is_object()) {
    for (std::string_view key : kPrivate) j.erase(std::string(key));
    for (auto& [key, value] : j.items()) redact_for_anonymous(value);
  } else if (j.is_array()) {
    for (auto& value : j) redact_for_anonymous(value);
  }
}

}  // namespace

void log_routes(const http::HttpServer& server, const log::Logger& logger) {
  for (const http::RouteInfo& route : server.routes()) {
    std::string access;
    if (route.access.is_public) {
      access = route.access.identify ? "identified" : "public";
    } else if (route.access.roles.empty()) {
      access = "authenticated";
    } else {
      access = "roles:";
      for (std::size_t i = 0; i < route.access.roles.size(); ++i) {
        access += (i ? "," : "") + route.access.roles[i];
      }
    }
    logger.debug("http_route",
                 {{"method", route.method}, {"pattern", route.pattern}, {"access", access}});
  }
}

void add_health_and_metrics(http::HttpServer& server, const metrics::Registry& metrics,
                            std::function<nlohmann::json()> health) {
  server.route("GET", "/health", http::Access::public_identified(),
               [health = std::move(health)](const http::Request& request) {
                 nlohmann::json body = health();
                 if (!request.principal.authenticated()) redact_for_anonymous(body);
                 return http::Response::json(200, body);
               });
  server.route("GET", "/metrics", http::Access::roles_of({"admin", "metrics"}),
               [&metrics](const http::Request&) {
                 return http::Response::text(200, metrics.render(), "text/plain; version=0.0.4");
               });
}

int run_daemon(const ProgramInfo& info, const config::Schema& schema, int argc,
               const char* const* argv, const DaemonFactory& make,
               const std::function<Status(const config::Config&)>& validate) {
  auto startup = start_program(info, schema, argc, argv, validate);
  if (!startup.config) return startup.exit_code;
  // Before any thread exists, so every thread inherits the blocked mask.
  block_shutdown_signals();
  log::Logger logger = make_logger(info, *startup.config);
  auto notifier = SdNotifier::from_environment(config::process_environment(), getpid());
  if (!notifier.ok()) {
    logger.warn("sd_notify_unavailable", {{"error", notifier.status().to_string()}});
    notifier = SdNotifier::from_environment({}, getpid());
  }
  std::unique_ptr<Daemon> daemon = make(std::move(*startup.config), logger);
  if (Status st = daemon->start(); !st.is_ok()) {
    logger.error("start_failed", {{"error", st.to_string()}});
    daemon->stop();
    return kExitFailure;
  }
  // Ready only once every part is up; systemd orders dependants after this.
  (void)notifier->ready("serving");
  const auto ping_every = notifier->watchdog_interval().value_or(std::chrono::microseconds(0));
  auto last_ping = std::chrono::steady_clock::now();
  bool was_healthy = true;
  for (;;) {
    const Signal sig = wait_for_signal(std::chrono::seconds(1));
    if (sig == Signal::kStop) break;
    if (sig == Signal::kReload) {
      (void)notifier->reloading();
      auto fresh = reload_config(info, schema, argc, argv, validate);
      if (!fresh.ok()) {
        logger.error("reload_refused", {{"error", describe_problem(fresh.status())},
                                        {"effect", "the running configuration is kept"}});
      } else if (Status st = daemon->reload(*fresh); !st.is_ok()) {
        logger.error("reload_failed", {{"error", st.to_string()}});
      }
      (void)notifier->ready("serving");
    }
    daemon->tick();
    const bool healthy = daemon->healthy();
    if (healthy != was_healthy) {
      logger.log(healthy ? log::Level::kInfo : log::Level::kError,
                 healthy ? "healthy_again" : "unhealthy", {{"watchdog", notifier->enabled()}});
      was_healthy = healthy;
    }
    const auto now = std::chrono::steady_clock::now();
    if (healthy && ping_every.count() > 0 && now - last_ping >= ping_every / 2) {
      (void)notifier->watchdog();
      last_ping = now;
    }
  }
  (void)notifier->stopping();
  logger.info("stopping");
  daemon->stop();
  logger.info("stopped");
  return kExitOk;
}

}  // namespace shopeasy::service
