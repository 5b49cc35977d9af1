#include "edge/daemon/edge_daemon.hpp"
#include "edge/search/search_routes.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/apidoc/api_doc.hpp"
#include "common/service/service.hpp"
#include "edge/alerts/alert_board.hpp"
#include "edge/api/event_stream.hpp"
#include "edge/api/inventory_routes.hpp"
#include "edge/api/scan_frame_routes.hpp"
#include "edge/daemon/dispatch_source.hpp"
#include "edge/demand/demand_routes.hpp"
#include "edge/orders/order_routes.hpp"
#include "edge/pricing/pricing_routes.hpp"
#include "edge/replenish/replenish_routes.hpp"
#include "edge/staff/staff_routes.hpp"
#include "edge/vision/store_cameras.hpp"
#include "edge/webui/edge_page.hpp"

namespace shopeasy::edge {

namespace {

const service::ProgramInfo kProgram{"shopeasy-edge", "SHOPEASY_EDGE_", SHOPEASY_VERSION};

std::string validate_store_id(const config::Value& v) {
  const auto& id = std::get<std::string>(v);
  if (id.empty() || id.size() > 64) return "must be 1 to 64 characters";
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return "may contain only letters, digits, '-' and '_'";
    }
  }
  return {};
}

// Whether an http(s) URL names this machine (127.0.0.0/8, ::1 or localhost), where
// plain HTTP never leaves the box.
bool is_loopback_url(const std::string& url) {
  const std::size_t start = url.find("://");
  if (start == std::string::npos) return false;
  std::string host = url.substr(start + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (const std::size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (!host.empty() && host.front() == '[') {
    return host.rfind("[::1]", 0) == 0;
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

// Whether the URL's authority carries a user name or password (user:pass@host).
bool url_has_userinfo(const std::string& url) {
  const std::size_t start = url.find("://");
  if (start == std::string::npos) return false;
  const std::string authority =
      url.substr(start + 3, url.find_first_of("/?#", start + 3) - (start + 3));
  return authority.find('@') != std::string::npos;
}

// Checks across keys that the schema's per-key validators cannot make.
Status validate_edge_config(const config::Config& config) {
  const std::string url = config.get_string("sync.url");
  // The store authenticates with sync.store_secret; a password in the URL would only be
  // echoed by every message and log line that names the URL.
  if (url_has_userinfo(url)) {
    return invalid_argument(
        "sync.url must not carry a user name or password (user@ or user:password@); the "
        "store authenticates with sync.store_secret",
        "sync.url");
  }
  if (config.get_bool("sync.enabled") && url.rfind("http://", 0) == 0 && !is_loopback_url(url) &&
      !config.get_bool("sync.allow_plain_http")) {
    return invalid_argument(
        "sync.url " + url +
            " is plain HTTP to another host: the store credential would cross the network "
            "unencrypted; use https:// (or set sync.allow_plain_http on a trusted link)",
        "sync.url");
  }
  const std::int64_t overstock = config.get_int("sync.stock_cover_overstock_days");
  if (overstock > 0 && config.get_int("sync.stock_cover_scarce_days") >= overstock) {
    return invalid_argument(
        "sync.stock_cover_scarce_days must be less than sync.stock_cover_overstock_days (" +
            std::to_string(overstock) + "): a SKU cannot be scarce and overstocked at once",
        "sync.stock_cover_scarce_days");
  }
  return Status::ok();
}

}  // namespace

config::Schema edge_schema() {
  using namespace config;
  Schema s;
  service::add_common_options(s, 8080);
  Option id = string_option("store.id", "store-1", "This store's identifier, unique in the fleet");
  id.validator = validate_store_id;
  s.add(id);
  s.add(string_option("store.name", "ShopEasy store", "Display name of the store"));
  s.add(double_option("store.lat", 12.9716, -90, 90, "Store latitude (degrees)"));
  s.add(double_option("store.lon", 77.5946, -180, 180, "Store longitude (degrees)"));
  s.add(string_option("state_dir", "/var/lib/shopeasy-edge",
                      "Directory for the SQLite ledger and other state"));
  s.add(bool_option("mqtt.enabled", true, "Connect to the store's MQTT broker"));
  s.add(string_option("mqtt.host", "127.0.0.1", "Broker host"));
  s.add(int_option("mqtt.port", 1883, 1, 65535, "Broker port"));
  s.add(string_option("mqtt.client_id", "shopeasy-edge", "MQTT client id (persistent session)"));
  s.add(string_option("mqtt.username", "", "Broker user name (empty: anonymous)"));
  Option password = string_option("mqtt.password", "", "Broker password");
  password.secret = true;
  s.add(password);
  s.add(string_option("mqtt.ca_file", "", "CA certificate for a TLS broker listener"));
  s.add(int_option("auth.session_ttl_s", 12 * 3600, 1, 30 * 24 * 3600,
                   "Staff sign-in sessions end this many seconds after sign-in"));
  s.add(bool_option("store.durable", true,
                    "Answer a write only once the disk has it (an fdatasync of the WAL covering "
                    "its commit): acknowledged writes survive power loss"));
  s.add(int_option("store.readers", 4, 1, 64, "Read connections to the ledger database"));
  s.add(int_option("inventory.expiry_warn_days", 3, 0, 365,
                   "Alert this many days before a lot expires (per-category overrides in the "
                   "database)"));
  s.add(int_option("forecast.history_days", 91, 14, 364,
                   "Days of ledger history a SKU's demand forecast reads"));
  s.add(int_option("forecast.utc_offset_minutes", 0, -840, 840,
                   "Store-local time is UTC plus this many minutes (demand forecasts count "
                   "hours of the week in local time)"));
  s.add(double_option("forecast.orders_per_picker_hour", 12, 0.1, 1000,
                      "Orders one picker picks and packs in an hour, for peak-hour staffing "
                      "until the store has measured its own (5 orders picked)"));
  s.add(double_option("forecast.deliveries_per_runner_hour", 3, 0.1, 100,
                      "Deliveries one runner makes in an hour, out and back, until the store "
                      "has measured its own (5 orders delivered)"));
  s.add(bool_option("dispatch.enabled", true, "Assign packed orders to runners"));
  s.add(int_option("dispatch.tick_ms", 500, 50, 60000, "Decide assignments this often"));
  s.add(double_option("dispatch.speed_mps", 5, 0.5, 100,
                      "Riding speed assumed for runners (m/s) in ETAs"));
  s.add(double_option("dispatch.detour_factor", 1.4, 1, 5,
                      "Ride distance is the straight line times this"));
  s.add(int_option("dispatch.max_batch", 3, 1, 5, "Most orders one runner carries at once"));
  s.add(int_option("dispatch.handover_s", 60, 0, 3600, "Time at each customer's door"));
  s.add(bool_option("orders.auto_accept", true,
                    "Accept a routed order at once when every line is in stock (else staff "
                    "accept or refuse it)"));
  s.add(int_option("orders.claim_timeout_s", 300, 10, 86400,
                   "A picker's claim on an order lapses after this long without a claim or "
                   "pick scan by them, and another picker may take the order"));
  s.add(bool_option("sync.enabled", false, "Send changes to the cloud and apply what it sends"));
  s.add(string_option("sync.url", "http://127.0.0.1:8090", "The cloud's base URL (http or https)"));
  Option store_secret = string_option(
      "sync.store_secret", "", "This store's credential at the cloud (at least 16 characters)");
  store_secret.secret = true;
  s.add(store_secret);
  s.add(string_option("sync.ca_file", "", "Trust only this CA for the cloud's certificate"));
  s.add(bool_option("sync.allow_plain_http", false,
                    "Allow an http:// sync.url to a host other than loopback (the store's "
                    "credential and stock then cross the network unencrypted)"));
  s.add(int_option("sync.batch_max_changes", 2000, 1, 10000, "Changes per sync request"));
  s.add(int_option("sync.heartbeat_ms", 5000, 100, 600000,
                   "With nothing to send, contact the cloud this often"));
  s.add(int_option("sync.reconcile_every_ms", 30000, 0, 86400000,
                   "When caught up, compare stock checksums with the cloud this often (0: never)"));
  s.add(int_option("sync.near_expiry_days", 3, 0, 30,
                   "Tell the cloud of lots expiring within this many days, for its markdowns "
                   "(0: never)"));
  s.add(int_option("sync.stock_cover_overstock_days", 21, 0, 365,
                   "Tell the cloud of SKUs with at least this many days of demand on hand, for "
                   "its overstock discount (0: tell it of no SKU's cover)"));
  s.add(int_option("sync.stock_cover_scarce_days", 2, 0, 364,
                   "Tell the cloud of SKUs with at most this many days of demand on hand, which "
                   "it does not promote (less than sync.stock_cover_overstock_days)"));
  s.add(int_option("sync.keep_acked_events", 100000, 0, 100000000,
                   "Acknowledged events kept for live-stream replay"));
  s.add(int_option("storage.disk_cap_bytes", 0, 0, std::int64_t{1} << 50,
                   "Budget for the state directory in bytes (0: the whole filesystem)"));
  s.add(double_option("storage.disk_warn_ratio", 0.70, 0.1, 0.99,
                      "Alert and start purging the least valuable data at this share"));
  s.add(double_option("storage.disk_critical_ratio", 0.90, 0.1, 0.999,
                      "Critical alert at this share of the budget"));
  s.add(json_option("telemetry.runners", nlohmann::json::array(),
                    "Runner ids allowed at this store (more can be added via the API)"));
  s.add(double_option("telemetry.stale_after_s", 10, 0.5, 3600,
                      "A runner silent this long is shown as stale"));
  s.add(double_option("telemetry.max_speed_mps", 50, 1, 1000,
                      "Fixes implying a faster move are rejected as teleports"));
  s.add(double_option("telemetry.trail_min_interval_s", 10, 0, 3600,
                      "Keep a trail point at least this often per runner"));
  s.add(double_option("telemetry.trail_min_distance_m", 25, 0, 10000,
                      "or when the runner moved this far since the last kept point"));
  s.add(
      double_option("telemetry.retention_h", 48, 1, 8760, "Trail rows older than this are purged"));
  s.add(int_option("telemetry.max_payload_bytes", 4096, 256, 1 << 20,
                   "Larger runner payloads are dropped unread"));
  s.add(double_option("telemetry.per_runner_rate", 20, 0.1, 10000,
                      "Telemetry messages per second allowed per runner (status and events "
                      "are never limited)"));
  s.add(double_option("telemetry.per_runner_burst", 40, 1, 100000, "Burst per runner"));
  s.add(int_option("events.buffer", 16384, 256, 1 << 20,
                   "Events kept in memory for live streams; slower readers replay from disk"));
  vision::add_vision_options(s);
  return s;
}

EdgeDaemon::EdgeDaemon(config::Config config, log::Logger logger)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      bus_(static_cast<std::size_t>(config_.get_int("events.buffer"))) {}

EdgeDaemon::~EdgeDaemon() { stop(); }

// Start-up, one step per part in dependency order (docs/ARCHITECTURE.md, "Start-up order").
// Each step builds its part and starts its threads, or returns the problem that makes the
// daemon exit; stop() undoes the steps in reverse.
Status EdgeDaemon::start() {
  started_at_ = clock_.mono_now();
  SHOPEASY_RETURN_IF_ERROR(open_state_dir());
  SHOPEASY_RETURN_IF_ERROR(open_users());
  SHOPEASY_RETURN_IF_ERROR(open_ledger());
  SHOPEASY_RETURN_IF_ERROR(start_telemetry());
  SHOPEASY_RETURN_IF_ERROR(start_cameras());
  SHOPEASY_RETURN_IF_ERROR(start_broker());
  SHOPEASY_RETURN_IF_ERROR(start_dispatch());
  SHOPEASY_RETURN_IF_ERROR(start_sync());
  SHOPEASY_RETURN_IF_ERROR(start_disk_guard());
  SHOPEASY_RETURN_IF_ERROR(start_alert_board());
  SHOPEASY_RETURN_IF_ERROR(start_http());
  return Status::ok();
}

// The steps of start() in reverse. Each stop is a no-op for a part never built (a start
// that failed part-way) and safe to repeat; the state directory, users and disk budget have
// no threads to stop.
void EdgeDaemon::stop() {
  stop_http();
  stop_alert_board();
  stop_sync();
  stop_dispatch();
  stop_broker();
  stop_cameras();
  stop_telemetry();
  stop_ledger();
}

// Everything acknowledged lives in the state directory.
Status EdgeDaemon::open_state_dir() {
  state_dir_ = config_.get_string("state_dir");
  return service::ensure_directory(state_dir_, "state_dir");
}

// Staff users and sessions (their own file, kept apart from the ledger), with the
// configured machine tokens as the fallback; and the per-client request rate limit.
Status EdgeDaemon::open_users() {
  security::UserStoreOptions uo;
  uo.path = state_dir_ + "/users.db";
  uo.session_ttl = std::chrono::seconds(config_.get_int("auth.session_ttl_s"));
  uo.durable = config_.get_bool("store.durable");
  auto users = security::UserStore::open(uo, clock_);
  if (!users.ok()) return users.status();
  users_ = std::move(*users);
  SHOPEASY_RETURN_IF_ERROR(install_authenticator(config_));
  rate_limit_ =
      std::make_unique<security::RequestRateLimit>(clock_, metrics_, logger_.child("http"));
  rate_limit_->configure(config_.get_double("http.rate_limit_per_s"),
                         config_.get_double("http.rate_limit_burst"));
  return Status::ok();
}

// The ledger database (migrations run before anything can read or write it) and the
// services over it: inventory, demand, replenishment, the order book.
Status EdgeDaemon::open_ledger() {
  store::StoreOptions so;
  so.path = state_dir_ + "/edge.db";
  so.durable = config_.get_bool("store.durable");
  so.readers = static_cast<std::size_t>(config_.get_int("store.readers"));
  auto opened = store::EdgeStore::open(so, clock_, bus_, logger_.child("store"), metrics_);
  if (!opened.ok()) return opened.status();
  store_ = std::move(*opened);
  inventory_ = std::make_unique<inventory::Inventory>(*store_, config_.get_string("store.id"),
                                                      logger_.child("inventory"), metrics_);
  product_search_ = std::make_unique<search::ProductSearch>(*store_, clock_, metrics_);
  SHOPEASY_RETURN_IF_ERROR(product_search_->rebuild());
  demand_ = std::make_unique<demand::DemandService>(
      *store_,
      demand::DemandOptions{static_cast<int>(config_.get_int("forecast.history_days")),
                            static_cast<int>(config_.get_int("forecast.utc_offset_minutes"))});
  replenish_ = std::make_unique<replenish::Replenishment>(
      *store_, *inventory_, *demand_, clock_,
      replenish::ReplenishOptions{config_.get_string("store.id"),
                                  static_cast<int>(config_.get_int("forecast.utc_offset_minutes")),
                                  demand::DemandService::kMaxHours},
      logger_.child("replenish"), metrics_);
  orders::OrderBookOptions oo;
  oo.store_id = config_.get_string("store.id");
  oo.auto_accept = config_.get_bool("orders.auto_accept");
  oo.claim_timeout = std::chrono::seconds(config_.get_int("orders.claim_timeout_s"));
  orders_ = std::make_unique<orders::OrderBook>(*store_, *inventory_, oo, clock_,
                                                logger_.child("orders"), metrics_);
  return Status::ok();
}

// Runner telemetry (its own SQLite files: trails are the least valuable data).
Status EdgeDaemon::start_telemetry() {
  telemetry::TelemetryOptions to;
  to.state_dir = state_dir_;
  for (const auto& id : config_.get_json("telemetry.runners")) {
    if (!id.is_string()) {
      return invalid_argument("telemetry.runners must be an array of runner ids",
                              "telemetry.runners");
    }
    to.runners.push_back(id.get<std::string>());
  }
  to.stale_after_s = config_.get_double("telemetry.stale_after_s");
  to.max_speed_mps = config_.get_double("telemetry.max_speed_mps");
  to.trail_min_interval_s = config_.get_double("telemetry.trail_min_interval_s");
  to.trail_min_distance_m = config_.get_double("telemetry.trail_min_distance_m");
  to.retention_h = config_.get_double("telemetry.retention_h");
  to.max_payload_bytes = static_cast<std::size_t>(config_.get_int("telemetry.max_payload_bytes"));
  to.per_runner_rate = config_.get_double("telemetry.per_runner_rate");
  to.per_runner_burst = config_.get_double("telemetry.per_runner_burst");
  to.tick_interval_ms = 200;
  auto tele =
      telemetry::Telemetry::open(to, clock_, bus_, nullptr, logger_.child("telemetry"), metrics_);
  if (!tele.ok()) return tele.status();
  telemetry_ = std::move(*tele);
  return Status::ok();
}

// Cameras: each polled on its own schedule by the service's thread; a failing camera is
// retried with backoff and reported, never fatal.
Status EdgeDaemon::start_cameras() {
  auto cameras = vision::open_store_cameras(config_, state_dir_, *inventory_, clock_, bus_,
                                            logger_.child("vision"), metrics_);
  if (!cameras.ok()) return cameras.status();
  vision_ = std::move(*cameras);
  return Status::ok();
}

// The broker and the MQTT scan intake: connection problems are retried in the background,
// never fatal.
Status EdgeDaemon::start_broker() {
  if (config_.get_bool("mqtt.enabled")) {
    mqtt::MosquittoOptions mo;
    mo.host = config_.get_string("mqtt.host");
    mo.port = static_cast<int>(config_.get_int("mqtt.port"));
    mo.client_id = config_.get_string("mqtt.client_id");
    mo.username = config_.get_string("mqtt.username");
    mo.password = config_.get_string("mqtt.password");
    mo.ca_file = config_.get_string("mqtt.ca_file");
    mqtt_ = std::make_unique<mqtt::MosquittoClient>(
        mo, [this](const mqtt::Message& m) { route_message(m); }, logger_.child("mqtt"), metrics_,
        clock_);
    scan_intake_ = std::make_unique<scan::MqttScanIntake>(
        *inventory_, mqtt_.get(), &bus_, logger_.child("scan"), metrics_,
        scan::MqttScanIntake::kDefaultMaxQueue, clock_);
    mqtt_->subscribe(scan::MqttScanIntake::kTopicFilter, 1);
    telemetry_->set_publisher(mqtt_.get());
    for (const auto& sub : telemetry::Telemetry::subscriptions()) {
      mqtt_->subscribe(sub.topic_filter, sub.qos);
    }
    SHOPEASY_RETURN_IF_ERROR(mqtt_->start());
  }
  return Status::ok();
}

// Dispatch: packed orders go to runners over the broker (assignments are published through
// telemetry, so without a broker orders simply wait).
Status EdgeDaemon::start_dispatch() {
  if (config_.get_bool("dispatch.enabled")) {
    dispatch_source_ = std::make_unique<OrderBookDispatchSource>(*orders_);
    dispatch::DispatcherOptions d;
    d.store = {config_.get_double("store.lat"), config_.get_double("store.lon")};
    d.tick_interval_ms = static_cast<int>(config_.get_int("dispatch.tick_ms"));
    d.speed_mps = config_.get_double("dispatch.speed_mps");
    d.assignment_prefix = "as";
    d.solver.max_batch = static_cast<int>(config_.get_int("dispatch.max_batch"));
    d.solver.handover_ms = config_.get_int("dispatch.handover_s") * 1000;
    d.solver.detour_factor = config_.get_double("dispatch.detour_factor");
    auto dispatcher = dispatch::Dispatcher::start(d, *dispatch_source_, *telemetry_, clock_,
                                                  logger_.child("dispatch"), metrics_);
    if (!dispatcher.ok()) return dispatcher.status().with_field_prefix("dispatch");
    dispatcher_ = std::move(*dispatcher);
  }
  return Status::ok();
}

// Cloud sync: an unreachable cloud is retried forever; the store keeps working.
Status EdgeDaemon::start_sync() {
  if (config_.get_bool("sync.enabled")) {
    if (config_.get_string("sync.store_secret").size() < 16) {
      return invalid_argument("sync.store_secret must be at least 16 characters when sync is on",
                              "sync.store_secret");
    }
    const std::string url = config_.get_string("sync.url");
    if (url.rfind("http://", 0) == 0 && !is_loopback_url(url)) {
      // Allowed by sync.allow_plain_http (validate_edge_config refuses it otherwise).
      logger_.warn("sync_plain_http",
                   {{"url", url}, {"effect", "store credential and stock sent unencrypted"}});
    }
    sync::SyncOptions opts;
    opts.cloud_url = url;
    opts.store_id = config_.get_string("store.id");
    opts.store_secret = config_.get_string("sync.store_secret");
    opts.ca_file = config_.get_string("sync.ca_file");
    opts.max_changes = static_cast<std::size_t>(config_.get_int("sync.batch_max_changes"));
    opts.heartbeat = std::chrono::milliseconds(config_.get_int("sync.heartbeat_ms"));
    opts.keep_acked_events = config_.get_int("sync.keep_acked_events");
    opts.reconcile_every = std::chrono::milliseconds(config_.get_int("sync.reconcile_every_ms"));
    opts.load = [this]() { return load_report(); };
    if (const std::int64_t days = config_.get_int("sync.near_expiry_days"); days > 0) {
      opts.near_expiry = [this, days]() { return near_expiry_report(days); };
    }
    if (const std::int64_t overstock = config_.get_int("sync.stock_cover_overstock_days");
        overstock > 0) {
      stock_cover_ = std::make_unique<replenish::StockCoverReport>(
          *store_,
          replenish::CoverThresholds{
              .overstock_days = static_cast<double>(overstock),
              .scarce_days = static_cast<double>(config_.get_int("sync.stock_cover_scarce_days"))},
          // Only a forecast the reorder page already fitted: a fit per SKU would stall the
          // sync thread for seconds in a large store.
          [this](const std::string& sku, std::int64_t now_ms) {
            return replenish_->cached_daily_demand(sku, now_ms);
          });
      opts.stock_cover = [this]() { return stock_cover_report(); };
    }
    sync_ = std::make_unique<sync::SyncClient>(
        opts, *store_, bus_,
        [this](store::WriteContext& ctx, const std::string& kind, const nlohmann::json& body) {
          if (kind == "catalog_item") return inventory_->apply_cloud_catalog_item(ctx, body);
          if (orders::OrderBook::handles(kind)) return orders_->apply_downstream(ctx, kind, body);
          return failed_precondition("this edge does not handle downstream '" + kind + "'");
        },
        clock_, logger_.child("sync"), metrics_);
    SHOPEASY_RETURN_IF_ERROR(sync_->start());
    pricing_ = std::make_unique<pricing::PricingFollower>(
        pricing::PricingFollowerOptions{.cloud_url = opts.cloud_url,
                                        .store_id = opts.store_id,
                                        .store_secret = opts.store_secret,
                                        .ca_file = opts.ca_file},
        *store_, bus_, clock_, logger_.child("pricing"), metrics_);
    SHOPEASY_RETURN_IF_ERROR(pricing_->start());
  }
  return Status::ok();
}

// Disk budget: least valuable data goes first, unsynced changes never.
Status EdgeDaemon::start_disk_guard() {
  diskguard::DiskGuardOptions dg{state_dir_, config_.get_int("storage.disk_cap_bytes"),
                                 config_.get_double("storage.disk_warn_ratio"),
                                 config_.get_double("storage.disk_critical_ratio")};
  disk_guard_ = std::make_unique<diskguard::DiskGuard>(dg, diskguard::filesystem_probe(dg),
                                                       logger_.child("disk"), metrics_);
  disk_guard_->add_purger(10, "telemetry_trails", [this]() -> std::int64_t {
    // Under pressure keep only the last six hours of trails.
    const std::int64_t cutoff = to_unix_ms(clock_.wall_now()) - 6 * 3600 * 1000;
    auto dropped = telemetry_->trail_store().purge(cutoff, std::chrono::seconds(30));
    return dropped.ok() ? *dropped : 0;
  });
  disk_guard_->add_purger(20, "acknowledged_events", [this]() -> std::int64_t {
    // Only what the cloud has applied (or everything, when this store does not sync).
    const std::int64_t acked = sync_ ? sync_->status()["acked_seq"].get<std::int64_t>() : INT64_MAX;
    auto dropped = store_->write([acked](store::WriteContext& ctx) -> StatusOr<std::int64_t> {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq "
          "LIMIT 50000)",
          acked));
      return ctx.db().changes();
    });
    return dropped.ok() ? *dropped : 0;
  });
  disk_guard_->tick();
  return Status::ok();
}

// The alert board (its own alerts.db): inventory, health and camera alerts.
Status EdgeDaemon::start_alert_board() {
  alerts::AlertBoardOptions ao;
  ao.path = state_dir_ + "/alerts.db";
  ao.durable = config_.get_bool("store.durable");
  const int expiry_days = static_cast<int>(config_.get_int("inventory.expiry_warn_days"));
  auto board = alerts::AlertBoard::open(
      ao, clock_, bus_,
      [this, expiry_days] {
        return inventory_->alerts(alerts::utc_date(clock_.wall_now()), expiry_days);
      },
      [this] { return health(); }, logger_.child("alerts"), metrics_);
  if (!board.ok()) return board.status();
  alert_board_ = std::move(*board);
  alert_board_->start();
  return Status::ok();
}

// The HTTP API last, so /health never reports a daemon that is half built.
Status EdgeDaemon::start_http() {
  http_ = std::make_unique<http::HttpServer>(service::http_options(config_),
                                             authenticators_.back().get(), logger_.child("http"),
                                             metrics_);
  http_->set_admission(rate_limit_->admission());
  http_->set_audit_sink(
      security::make_audit_sink(users_->audit(), metrics_, logger_.child("audit")));
  register_routes();
  auto port = http_->start();
  if (!port.ok()) return port.status();
  service::log_routes(*http_, logger_);
  logger_.info(
      "started",
      {{"store", config_.get_string("store.id")}, {"http_port", *port}, {"state_dir", state_dir_}});
  return Status::ok();
}

void EdgeDaemon::stop_http() {
  if (http_) http_->stop();
}

void EdgeDaemon::stop_alert_board() {
  if (alert_board_) alert_board_->stop();
}

// Before dispatch and the broker: what those write to the ledger while they stop stays in
// the outbox and goes up after the next start.
void EdgeDaemon::stop_sync() {
  if (pricing_) pricing_->stop();
  if (sync_) sync_->stop();
}

void EdgeDaemon::stop_dispatch() {
  if (dispatcher_) dispatcher_->stop();
}

// The broker first, so no scan arrives any more, then the intake applies what it queued.
void EdgeDaemon::stop_broker() {
  if (mqtt_) mqtt_->stop();
  if (scan_intake_) scan_intake_->stop();
}

void EdgeDaemon::stop_cameras() {
  if (vision_) vision_->stop();
}

void EdgeDaemon::stop_telemetry() {
  if (telemetry_) telemetry_->stop();
}

// Last: every other part may still write to the ledger while it stops.
void EdgeDaemon::stop_ledger() {
  if (store_) store_->stop();
}

bool EdgeDaemon::healthy() const { return !(store_ && store_->stalled(std::chrono::seconds(30))); }

std::optional<wire::StoreLoadReport> EdgeDaemon::load_report() const {
  auto counts = store_->read([](db::Database& db) -> StatusOr<wire::StoreLoadReport> {
    wire::StoreLoadReport out;
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::int64_t> open,
        db.query_one<std::int64_t>("SELECT count(*) FROM orders WHERE status IN ('routed', "
                                   "'accepted', 'picking', 'packed')"));
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<std::int64_t> waiting,
                              db.query_one<std::int64_t>("SELECT count(*) FROM orders WHERE "
                                                         "status IN ('routed', 'accepted')"));
    out.open_orders = open.value_or(0);
    out.pick_queue = waiting.value_or(0);
    return out;
  });
  if (!counts.ok()) return std::nullopt;
  if (telemetry_) {
    for (const telemetry::RunnerView& r : telemetry_->runners()) {
      if (r.presence == telemetry::Presence::kOnline && r.state == wire::RunnerState::kIdle) {
        ++counts->available_runners;
      }
    }
  }
  return *counts;
}

std::optional<std::vector<wire::NearExpiryLot>> EdgeDaemon::near_expiry_report(
    std::int64_t days) const {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  auto lots = store_->read([&](db::Database& db) -> StatusOr<std::vector<wire::NearExpiryLot>> {
    // Expiry dates are calendar days; a lot is good to the end of its day (UTC here, as
    // the store's ledger dates are). Units already reserved for an order are not for sale.
    // Asked on every sync batch, so it walks only the lots in the window (lots_expiry)
    // and their stock rows (by SKU), however many lots the store has ever received.
    std::vector<wire::NearExpiryLot> out;
    auto q = db.query(
        "SELECT l.sku, l.lot_code, "
        "CAST(round((julianday(l.expiry, '+1 day') - 2440587.5) * 86400000.0) AS INTEGER), "
        "sum(s.on_hand - s.reserved) AS units "
        "FROM lots l INDEXED BY lots_expiry CROSS JOIN stock s "
        "ON s.sku = l.sku AND s.lot_id = l.id "
        "WHERE l.id <> 0 AND l.lot_code <> '' AND l.expiry IS NOT NULL "
        "AND l.expiry >= date(?1 / 1000, 'unixepoch') "
        "AND l.expiry <= date(?1 / 1000, 'unixepoch', '+' || ?2 || ' days') "
        "GROUP BY l.expiry, l.id HAVING units > 0 ORDER BY l.expiry, l.sku, l.lot_code "
        "LIMIT ?3",
        now, days, static_cast<std::int64_t>(wire::kMaxNearExpiryLots));
    while (const db::Statement* row = q.next()) {
      out.push_back({.sku = row->column_text(0),
                     .lot = row->column_text(1),
                     .expires_ms = row->column_int64(2),
                     .units = std::min<std::int64_t>(row->column_int64(3), 1'000'000)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  });
  if (!lots.ok()) {
    logger_.warn("near_expiry_unread", {{"error", lots.status().to_string()}});
    return std::nullopt;
  }
  return std::move(*lots);
}

std::optional<std::vector<wire::StockCover>> EdgeDaemon::stock_cover_report() const {
  auto cover = stock_cover_->report(to_unix_ms(clock_.wall_now()));
  if (!cover.ok()) {
    logger_.warn("stock_cover_unread", {{"error", cover.status().to_string()}});
    return std::nullopt;
  }
  return std::move(*cover);
}

void EdgeDaemon::tick() {
  if (disk_guard_ && ++ticks_ % 10 == 0) disk_guard_->tick();
}

void EdgeDaemon::route_message(const mqtt::Message& message) {
  if (message.topic.rfind("scanners/", 0) == 0) {
    if (scan_intake_) scan_intake_->on_message(message);
  } else if (message.topic.rfind("runners/", 0) == 0) {
    if (telemetry_) telemetry_->on_message(message);
  }
}

nlohmann::json EdgeDaemon::health() const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.mono_now() - started_at_);
  nlohmann::json mqtt = {{"enabled", mqtt_ != nullptr},
                         {"connected", mqtt_ != nullptr && mqtt_->connected()},
                         {"subscribed", mqtt_ != nullptr && mqtt_->subscribed()}};
  nlohmann::json store = {{"queue_depth", store_ ? store_->queue_depth() : 0}};
  nlohmann::json sync = sync_ ? sync_->status() : nlohmann::json{{"enabled", false}};
  return {{"status", "ok"},
          {"disk", disk_guard_ ? disk_guard_->status() : nlohmann::json()},
          {"store", store},
          {"sync", sync},
          {"service", kProgram.name},
          {"version", kProgram.version},
          {"store_id", config_.get_string("store.id")},
          {"uptime_s", uptime.count()},
          {"mqtt", mqtt}};
}

Status EdgeDaemon::install_authenticator(const config::Config& config) {
  auto tokens = http::TokenAuthenticator::from_json(
      config.get_json("auth.tokens"), {"admin", "manager", "picker", "viewer", "metrics"});
  if (!tokens.ok()) return tokens.status().with_field_prefix("auth.tokens");
  auto owned_tokens = std::make_unique<http::TokenAuthenticator>(std::move(*tokens));
  const http::TokenAuthenticator* fallback = owned_tokens.get();
  authenticators_.push_back(std::move(owned_tokens));
  authenticators_.push_back(
      std::make_unique<security::SessionAuthenticator>(*users_, clock_, fallback));
  if (http_) http_->set_authenticator(authenticators_.back().get());
  auto listed = users_->list_users();
  if (fallback->size() == 0 && listed.ok() && listed->empty()) {
    logger_.warn("no_staff_credentials",
                 {{"effect", "every API route except /health and sign-in answers 401"},
                  {"fix", "add a user with shopeasy-edge-users or tokens in auth.tokens"}});
  }
  return Status::ok();
}

Status EdgeDaemon::reload(const config::Config& fresh) {
  // config_ stays the configuration the parts were built from, so a later reload
  // compares against it again and still reports the keys waiting for a restart.
  return security::apply_reload(fresh, config_, logger_, *rate_limit_, users_->audit(), "edge",
                                [&](const std::string& key) -> StatusOr<bool> {
                                  if (key != "auth.tokens") return false;
                                  SHOPEASY_RETURN_IF_ERROR(install_authenticator(fresh));
                                  return true;
                                });
}

void EdgeDaemon::register_routes() {
  service::add_health_and_metrics(*http_, metrics_, [this] { return health(); });
  staff::StaffRouteOptions so;
  so.secure_cookie = !config_.get_string("http.tls_cert_file").empty();
  staff::register_staff_routes(*http_, *users_, clock_, metrics_, logger_.child("staff"), so);
  api::register_inventory_routes(
      *http_, *inventory_, clock_,
      api::InventoryRouteOptions{static_cast<int>(config_.get_int("inventory.expiry_warn_days"))});
  search::register_search_routes(*http_, *product_search_);
  demand::register_demand_routes(
      *http_, *demand_, clock_,
      forecast::StaffingRates{
          .orders_per_picker_hour = config_.get_double("forecast.orders_per_picker_hour"),
          .orders_per_runner_hour = config_.get_double("forecast.deliveries_per_runner_hour")});
  replenish::register_replenish_routes(*http_, *replenish_);
  api::register_event_stream(
      *http_, bus_,
      [this](std::int64_t after, int limit) { return inventory_->events_after(after, limit); },
      {"viewer", "picker", "manager", "admin"});
  orders::register_order_routes(*http_, *orders_);
  telemetry_->register_routes(*http_);
  vision_->register_routes(*http_);
  api::register_scan_frame_routes(*http_, {}, logger_.child("scan_frames"), metrics_, clock_);
  alert_board_->register_routes(*http_);
  pricing::register_pricing_routes(*http_, pricing_.get());
  apidoc::register_openapi_route(*http_, "edge.openapi.json");
  webui::register_page_routes(*http_,
                              {config_.get_string("store.id"), config_.get_string("store.name"),
                               config_.get_double("store.lat"), config_.get_double("store.lon")});
}

int run_edge(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, edge_schema(), argc, argv,
      [](config::Config config, log::Logger logger) {
        return std::make_unique<EdgeDaemon>(std::move(config), std::move(logger));
      },
      validate_edge_config);
}

}  // namespace shopeasy::edge
