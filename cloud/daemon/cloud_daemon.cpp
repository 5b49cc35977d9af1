#include "cloud/daemon/cloud_daemon.hpp"

namespace shopeasy::cloud {

namespace {
const service::ProgramInfo kProgram{"shopeasy-cloud", "SHOPEASY_CLOUD_", SHOPEASY_VERSION};
}

config::Schema cloud_schema() {
  using namespace config;
  Schema s;
  service::add_common_options(s, 8090);
  s.add(string_option("state_dir", "/var/lib/shopeasy-cloud",
                      "Directory for the embedded SQLite database"));
  s.add(choice_option("storage.backend", "sqlite", {"sqlite", "postgres"},
                      "Where the cloud keeps its state"));
  Option dsn = string_option("storage.postgres_dsn", "",
                             "libpq connection string when storage.backend is postgres");
  dsn.secret = true;
  s.add(dsn);
  return s;
}

CloudDaemon::CloudDaemon(config::Config config, log::Logger logger)
    : config_(std::move(config)), logger_(std::move(logger)) {}

CloudDaemon::~CloudDaemon() { stop(); }

Status CloudDaemon::start() {
  started_at_ = clock_.mono_now();
  const std::string state_dir = config_.get_string("state_dir");
  SHOPEASY_RETURN_IF_ERROR(service::ensure_directory(state_dir, "state_dir"));
  auto auth = http::TokenAuthenticator::from_json(config_.get_json("auth.tokens"),
                                                  {"admin", "store", "customer", "metrics"});
  if (!auth.ok()) return auth.status().with_field_prefix("auth.tokens");
  auth_.emplace(std::move(*auth));

  http_ = std::make_unique<http::HttpServer>(service::http_options(config_), &*auth_,
                                             logger_.child("http"), metrics_);
  register_routes();
  auto port = http_->start();
  if (!port.ok()) return port.status();
  logger_.info("started", {{"http_port", *port},
                           {"storage", config_.get_string("storage.backend")},
                           {"state_dir", state_dir}});
  return Status::ok();
}

void CloudDaemon::stop() {
  if (http_) http_->stop();
}

nlohmann::json CloudDaemon::health() const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.mono_now() - started_at_);
  return {{"status", "ok"},
          {"service", kProgram.name},
          {"version", kProgram.version},
          {"storage", config_.get_string("storage.backend")},
          {"uptime_s", uptime.count()}};
}

void CloudDaemon::register_routes() {
  service::add_health_and_metrics(*http_, metrics_, [this] { return health(); });
}

int run_cloud(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, cloud_schema(), argc, argv, [](config::Config config, log::Logger logger) {
        return std::make_unique<CloudDaemon>(std::move(config), std::move(logger));
      });
}

}  // namespace shopeasy::cloud
