// EdgeDaemon owns every part of the store box's service and wires them together:
// configuration, the SQLite state, the broker connection, and the staff HTTP API.
// The start-up order is deliberate (see start()); main() only calls run_edge().
#pragma once

#include <memory>
#include <optional>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/service/service.hpp"
#include "common/status/status.hpp"
#include "edge/diskguard/disk_guard.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "edge/scan/mqtt_scan_intake.hpp"
#include "edge/store/edge_store.hpp"
#include "edge/sync/sync_client.hpp"
#include "edge/telemetry/telemetry.hpp"

namespace shopeasy::edge {

// The edge's option table; every key is documented in --help and docs/CONFIG.md.
config::Schema edge_schema();

class EdgeDaemon final : public service::Daemon {
 public:
  EdgeDaemon(config::Config config, log::Logger logger);
  ~EdgeDaemon() override;

  // Starts, in order: state directory, database, broker connection (retried in the
  // background, never fatal), HTTP API. Returns the first fatal problem.
  Status start() override;
  // Stops in reverse order. Idempotent.
  void stop() override;
  // Housekeeping once a second: disk budget.
  void tick() override;
  // False when the ledger writer has stopped making progress.
  bool healthy() const override;

  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  void register_routes();
  nlohmann::json health() const;
  // Hands each broker message to the part that owns its topic. Runs on the MQTT thread.
  void route_message(const mqtt::Message& message);

  config::Config config_;
  log::Logger logger_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::optional<http::TokenAuthenticator> auth_;
  events::EventBus bus_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inventory_;
  std::unique_ptr<mqtt::MosquittoClient> mqtt_;
  std::unique_ptr<scan::MqttScanIntake> scan_intake_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<sync::SyncClient> sync_;
  std::unique_ptr<diskguard::DiskGuard> disk_guard_;
  int ticks_ = 0;
  std::unique_ptr<http::HttpServer> http_;
  MonoTime started_at_;
};

// The whole program: parse flags and config, run until SIGTERM/SIGINT.
int run_edge(int argc, const char* const* argv);

}  // namespace shopeasy::edge
