#include "edge/alerts/alert_board.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "common/db/migration.hpp"
#include "common/http/request_helpers.hpp"

namespace shopeasy::edge::alerts {

namespace {

const std::vector<db::Migration>& migrations() {
  static const std::vector<db::Migration> kMigrations = {
      {1, "alerts",
       "CREATE TABLE alerts ("
       "  id INTEGER PRIMARY KEY,"
       "  key TEXT NOT NULL,"
       "  kind TEXT NOT NULL,"
       "  source TEXT NOT NULL,"
       "  severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),"
       "  title TEXT NOT NULL,"
       "  detail TEXT NOT NULL,"
       "  state TEXT NOT NULL CHECK (state IN ('active', 'acknowledged', 'resolved')),"
       "  raised_ms INTEGER NOT NULL,"
       "  updated_ms INTEGER NOT NULL,"
       "  acked_by TEXT, acked_ms INTEGER, ack_note TEXT,"
       "  resolved_by TEXT, resolved_ms INTEGER, resolve_note TEXT,"
       // NULL while the condition is believed to hold.
       "  cleared_ms INTEGER"
       ");"
       "CREATE UNIQUE INDEX alerts_open_key ON alerts(key) WHERE state <> 'resolved';"
       "CREATE INDEX alerts_holding ON alerts(key) WHERE cleared_ms IS NULL;"
       "CREATE INDEX alerts_state ON alerts(state, id);"},
  };
  return kMigrations;
}

constexpr const char* kColumns =
    "id, key, kind, source, severity, title, detail, state, raised_ms, updated_ms, acked_by, "
    "acked_ms, ack_note, resolved_by, resolved_ms, resolve_note, cleared_ms";

nlohmann::json row_json(const db::Statement& r) {
  nlohmann::json a = {{"id", r.column_int64(0)},
                      {"key", r.column_text(1)},
                      {"kind", r.column_text(2)},
                      {"source", r.column_text(3)},
                      {"severity", r.column_text(4)},
                      {"title", r.column_text(5)},
                      {"detail", nlohmann::json::parse(r.column_text(6), nullptr, false)},
                      {"state", r.column_text(7)},
                      {"raised_ms", r.column_int64(8)},
                      {"updated_ms", r.column_int64(9)}};
  if (!r.column_is_null(10)) {
    a["acknowledged"] = {{"by", r.column_text(10)}, {"at_ms", r.column_int64(11)}};
    if (!r.column_is_null(12)) a["acknowledged"]["note"] = r.column_text(12);
  }
  if (!r.column_is_null(13)) {
    a["resolved"] = {{"by", r.column_text(13)}, {"at_ms", r.column_int64(14)}};
    if (!r.column_is_null(15)) a["resolved"]["note"] = r.column_text(15);
  }
  a["condition_holds"] = r.column_is_null(16);
  return a;
}

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return "?";
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return std::to_string(static_cast<std::int64_t>(std::lround(it->get<double>())));
}

}  // namespace

std::string utc_date(WallTime t) {
  const std::time_t secs = static_cast<std::time_t>(to_unix_ms(t) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::vector<Condition> conditions_from_inventory(const nlohmann::json& answer) {
  std::vector<Condition> out;
  auto list = answer.find("alerts");
  if (list == answer.end() || !list->is_array()) return out;
  for (const auto& a : *list) {
    if (!a.is_object()) continue;
    Condition c;
    c.kind = str(a, "type");
    c.source = "inventory";
    c.severity = str(a, "severity") == "critical" ? "critical" : "warning";
    c.detail = a;
    const std::string sku = str(a, "sku");
    const std::string label = str(a, "name").empty() ? sku : str(a, "name") + " (" + sku + ")";
    if (c.kind == "below_reorder_point") {
      c.key = c.kind + ":" + sku;
      c.title = label + " below reorder point: " + num(a, "available") + " available, reorder at " +
                num(a, "reorder_point");
    } else if (c.kind == "expiring_soon" || c.kind == "expired_on_hand") {
      c.key = c.kind + ":" + sku + ":" + str(a, "bin") + ":" + str(a, "lot");
      c.title = label + (c.kind == "expiring_soon" ? " expires " : " expired ") + str(a, "expiry") +
                ": " + num(a, "on_hand") + " in " + str(a, "bin") +
                (str(a, "lot").empty() ? "" : " lot " + str(a, "lot"));
    } else if (c.kind == "impossible_stock") {
      c.key = c.kind + ":" + sku + ":" + str(a, "bin");
      c.title = "Impossible stock for " + sku + " in " + str(a, "bin") + ": on hand " +
                num(a, "on_hand") + ", reserved " + num(a, "reserved");
    } else {
      if (c.kind.empty()) continue;
      c.key = c.kind + ":" + sku + ":" + str(a, "bin");
      c.title = c.kind + " " + sku;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<Condition> conditions_from_health(const nlohmann::json& health) {
  std::vector<Condition> out;
  if (!health.is_object()) return out;
  if (auto sync = health.find("sync"); sync != health.end() && sync->is_object()) {
    if (sync->value("lagging", false)) {
      const double lag = sync->value("lag_s", 0.0);
      Condition c{"sync_lagging",
                  "sync_lagging",
                  "sync",
                  lag > 600 ? "critical" : "warning",
                  "Cloud sync lagging: oldest unsent change " + num(*sync, "lag_s") + " s old, " +
                      num(*sync, "backlog") + " waiting",
                  *sync};
      out.push_back(std::move(c));
    }
  }
  if (auto disk = health.find("disk"); disk != health.end() && disk->is_object()) {
    const std::string level = str(*disk, "level");
    if (level == "warning" || level == "critical") {
      const double ratio = disk->value("used_ratio", 0.0);
      out.push_back(Condition{
          "disk_pressure", "disk_pressure", "disk", level,
          "Disk budget " + std::to_string(static_cast<int>(std::lround(ratio * 100))) + "% used",
          *disk});
    }
  }
  if (auto mqtt = health.find("mqtt"); mqtt != health.end() && mqtt->is_object()) {
    if (mqtt->value("enabled", false) && !mqtt->value("connected", false)) {
      out.push_back(Condition{"broker_disconnected", "broker_disconnected", "broker", "critical",
                              "Store MQTT broker not connected: runner and scanner updates stop",
                              *mqtt});
    }
  }
  return out;
}

EventEffect effect_of_event(const events::Event& event) {
  EventEffect effect;
  const std::string& t = event.type;
  if (t == "sync.resynced") {
    // One alert per resync (keyed by where the new numbering starts): the store's whole
    // stock and its orders' states were sent again, after a backup was restored on one
    // side. Nothing clears it by itself; a manager resolves it once they know why.
    const std::string reason = str(event.body, "reason");
    effect.raise = Condition{"sync_resynced:" + num(event.body, "from_seq"), "sync_resynced",
                             // Not "sync": the health refresh clears that source's
                             // alerts when sync is no longer lagging.
                             "sync_history", "warning",
                             "Cloud sync started over (" + (reason.empty() ? "unknown" : reason) +
                                 "): " + num(event.body, "skus") + " SKUs and " +
                                 num(event.body, "order_statuses") +
                                 " order states sent again; was a backup restored?",
                             event.body};
    return effect;
  }
  if (t.rfind("vision.", 0) != 0 && t.rfind("camera.", 0) != 0) return effect;
  const std::string camera = str(event.body, "camera");
  if (camera.empty()) return effect;
  const std::string offline_key = "camera_offline:" + camera;
  if (t == "vision.camera_offline" || t == "camera.offline") {
    const std::string reason = str(event.body, "reason");
    effect.raise =
        Condition{offline_key,
                  "camera_offline",
                  "vision",
                  "warning",
                  "Camera " + camera + " offline" + (reason.empty() ? "" : ": " + reason),
                  event.body};
  } else if (t == "vision.camera_online" || t == "camera.online") {
    effect.clear_keys.push_back(offline_key);
  } else if (t == "vision.phantom_stock") {
    const std::string slot = str(event.body, "slot");
    const std::string sku = str(event.body, "sku");
    effect.raise =
        Condition{"phantom_stock:" + camera + ":" + slot,
                  "phantom_stock",
                  "vision",
                  "warning",
                  "Phantom stock: shelf slot " + slot + " on " + camera + " looks empty but " +
                      num(event.body, "on_hand") + " of " + sku + " are on hand; count it",
                  event.body};
  } else if (t == "vision.slot_ok" || t == "vision.slot_low" || t == "vision.wrong_product") {
    effect.clear_keys.push_back("phantom_stock:" + camera + ":" + str(event.body, "slot"));
  }
  // Any good frame means the camera works again.
  if (t == "vision.shelf_scan") effect.clear_keys.push_back(offline_key);
  return effect;
}

StatusOr<std::unique_ptr<AlertBoard>> AlertBoard::open(AlertBoardOptions options,
                                                       const Clock& clock, events::EventBus& bus,
                                                       InventorySource inventory,
                                                       HealthSource health, log::Logger logger,
                                                       metrics::Registry& metrics) {
  if (options.path.empty()) return invalid_argument("the alert database path is empty", "path");
  db::OpenOptions o;
  o.synchronous = options.durable ? db::Synchronous::kFull : db::Synchronous::kNormal;
  auto db = db::Database::open(options.path, o);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(db::migrate(*db, migrations(), clock));
  return std::unique_ptr<AlertBoard>(new AlertBoard(std::move(options), clock, bus,
                                                    std::move(inventory), std::move(health),
                                                    std::move(*db), std::move(logger), metrics));
}

AlertBoard::AlertBoard(AlertBoardOptions options, const Clock& clock, events::EventBus& bus,
                       InventorySource inventory, HealthSource health, db::Database db,
                       log::Logger logger, metrics::Registry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      bus_(bus),
      inventory_(std::move(inventory)),
      health_(std::move(health)),
      logger_(std::move(logger)),
      db_(std::move(db)),
      raised_(metrics.counter("edge_alerts_raised_total", "Alerts raised on the alert board")),
      open_gauge_(metrics.gauge("edge_alerts_open", "Alerts not yet resolved")) {}

AlertBoard::~AlertBoard() { stop(); }

std::int64_t AlertBoard::now_ms() const { return to_unix_ms(clock_.wall_now()); }

void AlertBoard::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void AlertBoard::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void AlertBoard::run() {
  std::uint64_t pos = bus_.head();
  MonoTime next_refresh = clock_.mono_now();
  while (!stopping_.load()) {
    if (clock_.mono_now() >= next_refresh) {
      if (Status s = refresh(); !s.is_ok()) {
        logger_.warn("alert_refresh_failed", {{"error", s.to_string()}});
      }
      next_refresh = clock_.mono_now() + options_.refresh_interval;
    }
    auto r = bus_.read(pos, 256, std::chrono::milliseconds(250));
    pos = r.next;
    for (const auto& e : r.events) {
      if (e.type.rfind("alert.", 0) == 0) continue;
      if (Status s = apply_event(e); !s.is_ok()) {
        logger_.warn("alert_event_failed", {{"type", e.type}, {"error", s.to_string()}});
      }
    }
  }
}

Status AlertBoard::refresh() {
  if (inventory_) {
    auto answer = inventory_();
    if (answer.ok()) {
      SHOPEASY_RETURN_IF_ERROR(reconcile({"inventory"}, conditions_from_inventory(*answer)));
    } else {
      logger_.warn("inventory_alerts_unavailable", {{"error", answer.status().to_string()}});
    }
  }
  if (health_) {
    SHOPEASY_RETURN_IF_ERROR(
        reconcile({"sync", "disk", "broker"}, conditions_from_health(health_())));
  }
  shopeasy::sync::MutexLock lock(mutex_);
  const std::int64_t cutoff =
      now_ms() -
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.keep_resolved).count();
  return db_.run(
      "DELETE FROM alerts WHERE state = 'resolved' AND cleared_ms IS NOT NULL AND "
      "resolved_ms < ?",
      cutoff);
}

Status AlertBoard::apply_event(const events::Event& event) {
  EventEffect effect = effect_of_event(event);
  if (!effect.raise && effect.clear_keys.empty()) return Status::ok();
  std::vector<events::Event> out;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    auto tx = db_.begin();
    if (!tx.ok()) return tx.status();
    if (effect.raise) SHOPEASY_RETURN_IF_ERROR(raise_locked(*effect.raise, out));
    for (const auto& key : effect.clear_keys) SHOPEASY_RETURN_IF_ERROR(clear_locked(key, out));
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
  }
  publish(std::move(out));
  return Status::ok();
}

Status AlertBoard::reconcile(const std::vector<std::string>& sources,
                             const std::vector<Condition>& present) {
  std::vector<events::Event> out;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    auto tx = db_.begin();
    if (!tx.ok()) return tx.status();
    std::set<std::string> keys;
    for (const auto& c : present) {
      if (!keys.insert(c.key).second) continue;  // the first of duplicate keys wins
      SHOPEASY_RETURN_IF_ERROR(raise_locked(c, out));
    }
    std::vector<std::string> gone;
    {
      auto q = db_.query("SELECT DISTINCT key, source FROM alerts WHERE cleared_ms IS NULL");
      while (const db::Statement* row = q.next()) {
        const std::string source = row->column_text(1);
        if (std::find(sources.begin(), sources.end(), source) == sources.end()) continue;
        std::string key = row->column_text(0);
        if (!keys.contains(key)) gone.push_back(std::move(key));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    for (const auto& key : gone) SHOPEASY_RETURN_IF_ERROR(clear_locked(key, out));
    auto open =
        db_.query_one<std::int64_t>("SELECT COUNT(*) FROM alerts WHERE state <> 'resolved'");
    if (!open.ok()) return open.status();
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
    open_gauge_.set(static_cast<double>(open->value_or(0)));
  }
  publish(std::move(out));
  return Status::ok();
}

Status AlertBoard::raise_locked(const Condition& c, std::vector<events::Event>& out) {
  const std::string detail = c.detail.dump();
  const std::int64_t now = now_ms();
  std::optional<std::int64_t> open_id;
  bool changed = false;
  {
    auto q = db_.query(
        "SELECT id, severity, title, detail FROM alerts WHERE key = ? AND state <> 'resolved'",
        c.key);
    if (const db::Statement* row = q.next()) {
      open_id = row->column_int64(0);
      changed = row->column_text(1) != c.severity || row->column_text(2) != c.title ||
                row->column_text(3) != detail;
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  if (open_id) {
    if (!changed) return Status::ok();
    SHOPEASY_RETURN_IF_ERROR(db_.run(
        "UPDATE alerts SET severity = ?, title = ?, detail = ?, updated_ms = ? WHERE id = ?",
        c.severity, c.title, detail, now, *open_id));
    auto a = get_locked(*open_id);
    if (!a.ok()) return a.status();
    out.push_back(events::Event{0, "alert.updated", std::move(*a), now});
    return Status::ok();
  }
  // Resolved by a person while the condition still holds: stay quiet until it clears.
  auto suppressed = db_.query_one<std::int64_t>(
      "SELECT id FROM alerts WHERE key = ? AND cleared_ms IS NULL AND state = 'resolved' "
      "LIMIT 1",
      c.key);
  if (!suppressed.ok()) return suppressed.status();
  if (suppressed->has_value()) return Status::ok();
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("INSERT INTO alerts (key, kind, source, severity, title, detail, state, raised_ms, "
              "updated_ms) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)",
              c.key, c.kind, c.source, c.severity, c.title, detail, now, now));
  auto a = get_locked(db_.last_insert_rowid());
  if (!a.ok()) return a.status();
  raised_.inc();
  out.push_back(events::Event{0, "alert.raised", std::move(*a), now});
  return Status::ok();
}

Status AlertBoard::clear_locked(const std::string& key, std::vector<events::Event>& out) {
  const std::int64_t now = now_ms();
  auto open_id = db_.query_one<std::int64_t>(
      "SELECT id FROM alerts WHERE key = ? AND state <> 'resolved'", key);
  if (!open_id.ok()) return open_id.status();
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("UPDATE alerts SET cleared_ms = ? WHERE key = ? AND cleared_ms IS NULL AND state = "
              "'resolved'",
              now, key));
  if (!open_id->has_value()) return Status::ok();
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("UPDATE alerts SET state = 'resolved', resolved_by = 'system', resolved_ms = ?, "
              "resolve_note = 'condition cleared', cleared_ms = ?, updated_ms = ? WHERE id = ?",
              now, now, now, **open_id));
  auto a = get_locked(**open_id);
  if (!a.ok()) return a.status();
  out.push_back(events::Event{0, "alert.resolved", std::move(*a), now});
  return Status::ok();
}

StatusOr<nlohmann::json> AlertBoard::get_locked(std::int64_t id) {
  auto q = db_.query(std::string("SELECT ") + kColumns + " FROM alerts WHERE id = ?", id);
  const db::Statement* row = q.next();
  if (row == nullptr) {
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return not_found("no alert " + std::to_string(id));
  }
  nlohmann::json a = row_json(*row);
  while (q.next()) {
  }
  SHOPEASY_RETURN_IF_ERROR(q.status());
  return a;
}

StatusOr<nlohmann::json> AlertBoard::get(std::int64_t id) {
  shopeasy::sync::MutexLock lock(mutex_);
  return get_locked(id);
}

StatusOr<nlohmann::json> AlertBoard::list(const ListQuery& query) {
  std::string where;
  if (query.state == "open") {
    where = "state <> 'resolved'";
  } else if (query.state == "resolved") {
    where = "state = 'resolved'";
  } else if (query.state == "all") {
    where = "1";
  } else {
    return invalid_argument("must be open, resolved or all", "state");
  }
  const int limit = std::clamp(query.limit, 1, 1000);
  shopeasy::sync::MutexLock lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  {
    // Critical first, then newest: what needs a person now is on top.
    auto q = db_.query(std::string("SELECT ") + kColumns + " FROM alerts WHERE " + where +
                           " ORDER BY state = 'resolved', severity = 'warning', id DESC LIMIT ?",
                       limit);
    while (const db::Statement* row = q.next()) items.push_back(row_json(*row));
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  nlohmann::json counts = {{"active", 0}, {"acknowledged", 0}};
  {
    auto q =
        db_.query("SELECT state, COUNT(*) FROM alerts WHERE state <> 'resolved' GROUP BY state");
    while (const db::Statement* row = q.next()) counts[row->column_text(0)] = row->column_int64(1);
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  return nlohmann::json{{"alerts", std::move(items)}, {"counts", std::move(counts)}};
}

StatusOr<nlohmann::json> AlertBoard::acknowledge(std::int64_t id, const std::string& who,
                                                 const std::optional<std::string>& note) {
  nlohmann::json a;
  const std::int64_t now = now_ms();
  {
    shopeasy::sync::MutexLock lock(mutex_);
    auto current = get_locked(id);
    if (!current.ok()) return current.status();
    const std::string state = (*current)["state"].get<std::string>();
    if (state == "resolved") {
      return failed_precondition("alert " + std::to_string(id) + " is resolved already");
    }
    if (state == "acknowledged") return current;
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_ms = ?, ack_note "
                "= ?, updated_ms = ? WHERE id = ?",
                who, now, note, now, id));
    auto updated = get_locked(id);
    if (!updated.ok()) return updated.status();
    a = std::move(*updated);
  }
  logger_.info("alert_acknowledged", {{"id", id}, {"by", who}});
  publish({events::Event{0, "alert.updated", a, now}});
  return a;
}

StatusOr<nlohmann::json> AlertBoard::resolve(std::int64_t id, const std::string& who,
                                             const std::optional<std::string>& note) {
  nlohmann::json a;
  const std::int64_t now = now_ms();
  {
    shopeasy::sync::MutexLock lock(mutex_);
    auto current = get_locked(id);
    if (!current.ok()) return current.status();
    if ((*current)["state"] == "resolved") {
      return failed_precondition("alert " + std::to_string(id) + " is resolved already");
    }
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE alerts SET state = 'resolved', resolved_by = ?, resolved_ms = ?, "
                "resolve_note = ?, updated_ms = ? WHERE id = ?",
                who, now, note, now, id));
    auto updated = get_locked(id);
    if (!updated.ok()) return updated.status();
    a = std::move(*updated);
  }
  logger_.info("alert_resolved", {{"id", id}, {"by", who}});
  publish({events::Event{0, "alert.resolved", a, now}});
  return a;
}

void AlertBoard::publish(std::vector<events::Event> events) {
  if (!events.empty()) bus_.publish(std::move(events));
}

void AlertBoard::register_routes(http::HttpServer& server) {
  using http::Access;
  using http::Request;
  using http::Response;
  const std::vector<std::string> readers = {"viewer", "picker", "manager", "admin"};
  const std::vector<std::string> managers = {"manager", "admin"};

  server.route("GET", "/api/alert-board", Access::roles_of(readers), [this](const Request& req) {
    ListQuery q;
    q.state = req.query_param("state").value_or("open");
    auto limit = http::int_param(req, "limit", 1, 1000);
    if (!limit.ok()) return Response::error(limit.status());
    q.limit = static_cast<int>(limit->value_or(500));
    return http::reply(list(q));
  });

  // Both actions take an optional {"note": "..."}; an empty body is fine.
  auto action = [this](const Request& req, bool ack) {
    std::int64_t id = 0;
    try {
      id = std::stoll(req.params.at(0));
    } catch (const std::exception&) {
      return Response::error(invalid_argument("must be an alert id", "id"));
    }
    std::optional<std::string> note;
    if (!req.body.empty()) {
      auto body = http::json_body(req);
      if (!body.ok()) return Response::error(body.status());
      if (auto n = body->find("note"); n != body->end() && !n->is_null()) {
        if (!n->is_string() || n->get<std::string>().size() > 500) {
          return Response::error(invalid_argument("must be a string of at most 500 bytes", "note"));
        }
        if (!n->get<std::string>().empty()) note = n->get<std::string>();
      }
    }
    const std::string& who = req.principal.subject;
    return http::reply(ack ? acknowledge(id, who, note) : resolve(id, who, note));
  };
  server.route("POST", R"(/api/alert-board/([0-9]{1,15})/ack)", Access::roles_of(managers),
               [action](const Request& req) { return action(req, true); });
  server.route("POST", R"(/api/alert-board/([0-9]{1,15})/resolve)", Access::roles_of(managers),
               [action](const Request& req) { return action(req, false); });
}

}  // namespace shopeasy::edge::alerts
