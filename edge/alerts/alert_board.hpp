// AlertBoard: the store's alerts in one list people can act on. Conditions come from
// the inventory (below reorder point, expiring or expired lots, impossible stock), the
// daemon's health (cloud sync lagging, disk budget, broker disconnected) and the
// cameras' events (vision.camera_offline / vision.phantom_stock). Each condition gets
// one open alert, identified by a stable key; staff acknowledge it (someone is on it)
// and resolve it (done), both recorded with who and when. A condition that goes away
// resolves its alert as "system". An alert a person resolved while its condition still
// holds stays resolved: it is raised again only after the condition cleared and
// returned, so a known problem does not nag.
//
// State lives in its own SQLite file (alerts.db in the state directory), apart from
// the stock ledger: losing it loses acknowledgements, never stock.
//
// Changes are published on the event bus as live-only events ("alert.raised",
// "alert.updated", "alert.resolved", body: the alert) so pages update without polling.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/events/event_bus.hpp"

namespace shopeasy::edge::alerts {

// Something alert-worthy that holds right now.
struct Condition {
  std::string key;       // stable identity, e.g. "below_reorder_point:MILK-1L"
  std::string kind;      // below_reorder_point, expiring_soon, camera_offline, ...
  std::string source;    // inventory, sync, disk, broker, vision
  std::string severity;  // warning or critical
  std::string title;     // one line for people
  nlohmann::json detail = nlohmann::json::object();
};

// "YYYY-MM-DD" of `t` in UTC: the "today" Inventory::alerts() compares expiry dates with.
std::string utc_date(WallTime t);

// The conditions in an answer of Inventory::alerts() ({"alerts": [...]}).
std::vector<Condition> conditions_from_inventory(const nlohmann::json& answer);
// The conditions in the daemon's /health document (sync, disk, mqtt sections).
std::vector<Condition> conditions_from_health(const nlohmann::json& health);

// What a camera event does to the board: raise a condition, clear a key, or nothing.
struct EventEffect {
  std::optional<Condition> raise;
  std::vector<std::string> clear_keys;
};
EventEffect effect_of_event(const events::Event& event);

struct AlertBoardOptions {
  std::string path;     // the SQLite file
  bool durable = true;  // fsync every commit
  // How often the polled sources (inventory, health) are read again.
  std::chrono::milliseconds refresh_interval{5000};
  // Resolved alerts older than this are deleted.
  std::chrono::hours keep_resolved{24 * 30};
};

struct ListQuery {
  std::string state = "open";  // open (active + acknowledged), resolved or all
  int limit = 500;
};

class AlertBoard {
 public:
  using InventorySource = std::function<StatusOr<nlohmann::json>()>;
  using HealthSource = std::function<nlohmann::json()>;

  // Opens (creating) the database. Either source may be empty. `clock`, `bus` and
  // `metrics` must outlive the board.
  static StatusOr<std::unique_ptr<AlertBoard>> open(AlertBoardOptions options, const Clock& clock,
                                                    events::EventBus& bus,
                                                    InventorySource inventory, HealthSource health,
                                                    log::Logger logger, metrics::Registry& metrics);
  ~AlertBoard();
  AlertBoard(const AlertBoard&) = delete;
  AlertBoard& operator=(const AlertBoard&) = delete;

  // Starts the background thread: camera events as they come, the polled sources every
  // refresh_interval. Without it, call refresh() and apply_event() yourself.
  void start();
  // Stops and joins the thread. Idempotent.
  void stop();

  // Reads the polled sources and brings their alerts up to date. A failing source is
  // logged and its alerts left as they are.
  Status refresh() EXCLUDES(mutex_);
  // Applies one bus event (ignored unless it is a camera event).
  Status apply_event(const events::Event& event) EXCLUDES(mutex_);
  // Brings the alerts of `sources` in line with `present`: raises new ones, updates
  // changed ones, resolves (as "system") open ones whose condition is gone.
  Status reconcile(const std::vector<std::string>& sources, const std::vector<Condition>& present)
      EXCLUDES(mutex_);

  // Alerts newest first. kInvalidArgument for an unknown state.
  StatusOr<nlohmann::json> list(const ListQuery& query) EXCLUDES(mutex_);
  // One alert. kNotFound.
  StatusOr<nlohmann::json> get(std::int64_t id) EXCLUDES(mutex_);
  // Marks an alert acknowledged by `who`. Acknowledging again is a no-op; kNotFound;
  // kFailedPrecondition when it is resolved.
  StatusOr<nlohmann::json> acknowledge(std::int64_t id, const std::string& who,
                                       const std::optional<std::string>& note) EXCLUDES(mutex_);
  // Resolves an alert. kNotFound; kFailedPrecondition when it is resolved already.
  StatusOr<nlohmann::json> resolve(std::int64_t id, const std::string& who,
                                   const std::optional<std::string>& note) EXCLUDES(mutex_);

  // GET /api/alert-board[?state=open|resolved|all][&limit=1..1000] (viewer and up),
  // POST /api/alert-board/{id}/ack and /resolve with an optional {"note"} (manager
  // and admin).
  void register_routes(http::HttpServer& server);

 private:
  AlertBoard(AlertBoardOptions options, const Clock& clock, events::EventBus& bus,
             InventorySource inventory, HealthSource health, db::Database db, log::Logger logger,
             metrics::Registry& metrics);
  void run();
  std::int64_t now_ms() const;
  StatusOr<nlohmann::json> get_locked(std::int64_t id) REQUIRES(mutex_);
  Status raise_locked(const Condition& c, std::vector<events::Event>& out) REQUIRES(mutex_);
  Status clear_locked(const std::string& key, std::vector<events::Event>& out) REQUIRES(mutex_);
  void publish(std::vector<events::Event> events);

  AlertBoardOptions options_;
  const Clock& clock_;
  events::EventBus& bus_;
  InventorySource inventory_;
  HealthSource health_;
  log::Logger logger_;
  // Guards db_: the board's connection, shared by its thread and the HTTP handlers.
  shopeasy::sync::Mutex mutex_;
  db::Database db_ GUARDED_BY(mutex_);
  metrics::Counter& raised_;
  metrics::Gauge& open_gauge_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace shopeasy::edge::alerts
