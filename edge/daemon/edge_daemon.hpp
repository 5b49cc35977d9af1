// EdgeDaemon owns every part of the store box's service and wires them together:
// configuration, the SQLite state, telemetry, cameras, the broker connection, dispatch,
// cloud sync, the disk budget, the alert board and the staff HTTP API. The start-up
// order is deliberate (see start()); main() only calls run_edge().
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/http_guard.hpp"
#include "common/security/user_store.hpp"
#include "common/service/service.hpp"
#include "common/status/status.hpp"
#include "common/wire/sync.hpp"
#include "edge/alerts/alert_board.hpp"
#include "edge/demand/demand_service.hpp"
#include "edge/diskguard/disk_guard.hpp"
#include "edge/dispatch/dispatcher.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "edge/orders/order_book.hpp"
#include "edge/pricing/pricing_follower.hpp"
#include "edge/replenish/replenishment.hpp"
#include "edge/replenish/stock_cover.hpp"
#include "edge/scan/mqtt_scan_intake.hpp"
#include "edge/search/product_search.hpp"
#include "edge/store/edge_store.hpp"
#include "edge/sync/sync_client.hpp"
#include "edge/telemetry/telemetry.hpp"
#include "edge/vision/vision_service.hpp"

namespace shopeasy::edge {

// The edge's option table; every key is documented in --help and docs/CONFIG.md.
config::Schema edge_schema();

class EdgeDaemon final : public service::Daemon {
 public:
  EdgeDaemon(config::Config config, log::Logger logger);
  ~EdgeDaemon() override;

  // Runs the start-up steps below in order: state directory, users, ledger, telemetry,
  // cameras, broker (retried in the background, never fatal), dispatch, cloud sync,
  // disk budget, alert board, HTTP API. Returns the first fatal problem.
  Status start() override;
  // Stops what the steps started, in reverse order. Idempotent.
  void stop() override;
  // Housekeeping once a second: disk budget.
  void tick() override;
  // False when the ledger writer has stopped making progress.
  bool healthy() const override;
  // SIGHUP: applies log.level, auth.tokens and the http.rate_limit_* keys; logs the
  // other changed keys as needing a restart; records the reload in the audit log.
  Status reload(const config::Config& fresh) override;

  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  // The start-up steps, in start()'s order; each builds one part and starts its threads.
  Status open_state_dir();
  Status open_users();
  Status open_ledger();
  Status start_telemetry();
  Status start_cameras();
  Status start_broker();
  Status start_dispatch();
  Status start_sync();
  Status start_disk_guard();
  Status start_alert_board();
  Status start_http();
  // Their stops, in stop()'s order (the reverse); each is a no-op for a part not built.
  void stop_http();
  void stop_alert_board();
  void stop_sync();
  void stop_dispatch();
  void stop_broker();
  void stop_cameras();
  void stop_telemetry();
  void stop_ledger();

  void register_routes();
  // Builds the session authenticator over `config`'s machine tokens and makes it current.
  Status install_authenticator(const config::Config& config);
  nlohmann::json health() const;
  // Hands each broker message to the part that owns its topic. Runs on the MQTT thread.
  void route_message(const mqtt::Message& message);

  config::Config config_;
  log::Logger logger_;
  std::string state_dir_;  // set by open_state_dir()
  SystemClock clock_;
  metrics::Registry metrics_;
  // Authenticators in use and retired by reloads; retired ones stay alive because
  // requests in flight may still hold them.
  std::vector<std::unique_ptr<http::Authenticator>> authenticators_;
  std::unique_ptr<security::UserStore> users_;
  std::unique_ptr<security::RequestRateLimit> rate_limit_;
  events::EventBus bus_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inventory_;
  std::unique_ptr<search::ProductSearch> product_search_;
  std::unique_ptr<demand::DemandService> demand_;
  std::unique_ptr<replenish::Replenishment> replenish_;
  std::unique_ptr<orders::OrderBook> orders_;
  std::unique_ptr<mqtt::MosquittoClient> mqtt_;
  std::unique_ptr<scan::MqttScanIntake> scan_intake_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  // The store's load for the cloud's surge pricing: orders not yet handed over, those
  // still waiting for a picker, and runners online with nothing to do. nullopt when the
  // ledger cannot be read.
  std::optional<wire::StoreLoadReport> load_report() const;
  // Lots expiring within `days` with units for sale, soonest first (nullopt: unreadable).
  std::optional<std::vector<wire::NearExpiryLot>> near_expiry_report(std::int64_t days) const;
  // The overstocked and scarce SKUs for the cloud's inventory rule (nullopt: unreadable).
  std::optional<std::vector<wire::StockCover>> stock_cover_report() const;
  std::unique_ptr<vision::VisionService> vision_;
  // Null unless sync.stock_cover_overstock_days > 0; outlives sync_, which calls it.
  std::unique_ptr<replenish::StockCoverReport> stock_cover_;
  std::unique_ptr<sync::SyncClient> sync_;
  std::unique_ptr<pricing::PricingFollower> pricing_;  // with sync_: the cloud's prices
  std::unique_ptr<dispatch::OrderSource> dispatch_source_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<diskguard::DiskGuard> disk_guard_;
  std::unique_ptr<alerts::AlertBoard> alert_board_;
  int ticks_ = 0;
  std::unique_ptr<http::HttpServer> http_;
  MonoTime started_at_;
};

// The whole program: parse flags and config, run until SIGTERM/SIGINT.
int run_edge(int argc, const char* const* argv);

}  // namespace shopeasy::edge
