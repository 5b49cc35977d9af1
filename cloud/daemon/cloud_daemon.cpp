#include "cloud/daemon/cloud_daemon.hpp"

namespace shopeasy::cloud {

namespace {
const service::ProgramInfo kProgram{"shopeasy-cloud", "SHOPEASY_CLOUD_", SHOPEASY_VERSION};
}

config::Schema cloud_schema() {
  using namespace config;
  Schema s;
  // Each store keeps a sync connection open and a connection holds a worker thread.
  service::add_common_options(s, 8090, 16 << 20, 128);
  s.add(string_option("state_dir", "/var/lib/shopeasy-cloud",
                      "Directory for the embedded SQLite database"));
  s.add(choice_option("storage.backend", "sqlite", {"sqlite", "postgres"},
                      "Where the cloud keeps its state"));
  Option dsn = string_option("storage.postgres_dsn", "",
                             "libpq connection string when storage.backend is postgres");
  dsn.secret = true;
  s.add(dsn);
  s.add(int_option("storage.postgres_pool", 8, 1, 128, "PostgreSQL connections per instance"));
  s.add(int_option("stores.online_window_s", 30, 5, 3600,
                   "A store heard from within this many seconds counts as online"));
  s.add(int_option("stores.lag_alert_s", 60, 10, 86400,
                   "Alert when a store has not synced for this many seconds"));
  return s;
}

CloudDaemon::CloudDaemon(config::Config config, log::Logger logger)
    : config_(std::move(config)), logger_(std::move(logger)) {}

CloudDaemon::~CloudDaemon() { stop(); }

Status CloudDaemon::start() {
  started_at_ = clock_.mono_now();
  const std::string state_dir = config_.get_string("state_dir");
  SHOPEASY_RETURN_IF_ERROR(service::ensure_directory(state_dir, "state_dir"));
  auto tokens = http::TokenAuthenticator::from_json(config_.get_json("auth.tokens"),
                                                    {"admin", "customer", "metrics"});
  if (!tokens.ok()) return tokens.status().with_field_prefix("auth.tokens");

  if (config_.get_string("storage.backend") == "postgres") {
    auto pg =
        storage::open_postgres_store(config_.get_string("storage.postgres_dsn"),
                                     static_cast<int>(config_.get_int("storage.postgres_pool")));
    if (!pg.ok()) return pg.status();
    store_ = std::move(*pg);
  } else {
    auto lite = storage::open_sqlite_store(state_dir + "/cloud.db");
    if (!lite.ok()) return lite.status();
    store_ = std::move(*lite);
  }
  SHOPEASY_RETURN_IF_ERROR(store_->migrate());
  auth_ = std::make_unique<api::CloudAuthenticator>(std::move(*tokens), *store_);
  refresh_index();
  lagging_gauge_ = &metrics_.gauge("cloud_stores_lagging",
                                   "Active stores that have not synced within the alert window");
  routes_ = std::make_unique<api::CloudRoutes>(
      *store_, index_, [this] { refresh_index(); }, clock_,
      api::CloudRouteOptions{config_.get_int("stores.online_window_s") * 1000, 1000},
      logger_.child("api"), metrics_);

  http_ = std::make_unique<http::HttpServer>(service::http_options(config_), auth_.get(),
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

void CloudDaemon::refresh_index() {
  auto stores = store_->list_stores();
  if (!stores.ok()) {
    logger_.warn("store_list_failed", {{"error", stores.status().to_string()}});
    return;
  }
  std::vector<routing::IndexedStore> indexed;
  for (const auto& s : *stores) {
    const auto& r = s.registration;
    indexed.push_back(routing::IndexedStore{r.id,
                                            r.name,
                                            {r.lat, r.lon},
                                            r.service_radius_m,
                                            r.opening_hours,
                                            s.last_seen_ms,
                                            r.active});
  }
  Status st = index_.rebuild(std::move(indexed));
  if (!st.is_ok()) logger_.error("routing_index_failed", {{"error", st.to_string()}});
}

void CloudDaemon::tick() {
  if (!store_) return;
  refresh_index();
  auto stores = store_->list_stores();
  if (!stores.ok()) return;
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const std::int64_t alert_ms = config_.get_int("stores.lag_alert_s") * 1000;
  std::set<std::string> lagging;
  for (const auto& s : *stores) {
    if (!s.registration.active || s.last_seen_ms == 0) continue;
    if (now - s.last_seen_ms > alert_ms) {
      lagging.insert(s.registration.id);
      if (!lagging_.count(s.registration.id)) {
        logger_.warn("store_sync_lagging", {{"store", s.registration.id},
                                            {"seconds_since_seen", (now - s.last_seen_ms) / 1000}});
      }
    } else if (lagging_.count(s.registration.id)) {
      logger_.info("store_sync_recovered", {{"store", s.registration.id}});
    }
  }
  lagging_ = std::move(lagging);
  lagging_gauge_->set(static_cast<double>(lagging_.size()));
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
  routes_->register_routes(*http_);
}

int run_cloud(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, cloud_schema(), argc, argv, [](config::Config config, log::Logger logger) {
        return std::make_unique<CloudDaemon>(std::move(config), std::move(logger));
      });
}

}  // namespace shopeasy::cloud
