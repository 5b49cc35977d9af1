#include "edge/telemetry/roster.hpp"

#include "common/db/migration.hpp"

namespace shopeasy::edge::telemetry {

namespace {

const std::vector<db::Migration>& roster_migrations() {
  static const std::vector<db::Migration> kMigrations = {
      {1, "runners",
       "CREATE TABLE runners (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', "
       "active INTEGER NOT NULL DEFAULT 1, created_at_ms INTEGER NOT NULL, "
       "updated_at_ms INTEGER NOT NULL) WITHOUT ROWID"}};
  return kMigrations;
}

RosterEntry read_entry(const db::Statement& row) {
  return RosterEntry{row.column_text(0), row.column_text(1), row.column_int64(2) != 0,
                     row.column_int64(3), row.column_int64(4)};
}

constexpr std::string_view kSelect =
    "SELECT id, name, active, created_at_ms, updated_at_ms FROM runners";

}  // namespace

bool is_valid_runner_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

StatusOr<std::unique_ptr<Roster>> Roster::open(const std::string& path,
                                               const std::vector<std::string>& seed,
                                               const Clock& clock) {
  for (std::size_t i = 0; i < seed.size(); ++i) {
    if (!is_valid_runner_id(seed[i])) {
      return invalid_argument("must be 1 to 64 of letters, digits, '-' and '_'",
                              "telemetry.runners[" + std::to_string(i) + "]");
    }
  }
  auto db = db::Database::open(path);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(db::migrate(*db, roster_migrations(), clock));
  const std::int64_t now = to_unix_ms(clock.wall_now());
  auto tx = db->begin();
  if (!tx.ok()) return tx.status();
  for (const std::string& id : seed) {
    // OR IGNORE: a runner retired through the API stays retired.
    SHOPEASY_RETURN_IF_ERROR(
        db->run("INSERT OR IGNORE INTO runners (id, name, active, created_at_ms, updated_at_ms) "
                "VALUES (?, '', 1, ?, ?)",
                id, now, now));
  }
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  return std::unique_ptr<Roster>(new Roster(std::move(*db), clock));
}

StatusOr<std::vector<RosterEntry>> Roster::active() const {
  shopeasy::sync::MutexLock lock(mutex_);
  std::vector<RosterEntry> out;
  auto q = db_.query(std::string(kSelect) + " WHERE active = 1 ORDER BY id");
  while (const db::Statement* row = q.next()) out.push_back(read_entry(*row));
  if (!q.status().is_ok()) return q.status();
  return out;
}

StatusOr<std::optional<RosterEntry>> Roster::find(std::string_view id) const {
  shopeasy::sync::MutexLock lock(mutex_);
  auto q = db_.query(std::string(kSelect) + " WHERE id = ?", id);
  const db::Statement* row = q.next();
  if (row == nullptr) {
    if (!q.status().is_ok()) return q.status();
    return std::optional<RosterEntry>();
  }
  return std::optional<RosterEntry>(read_entry(*row));
}

StatusOr<bool> Roster::put(std::string_view id, std::optional<std::string_view> name) {
  if (!is_valid_runner_id(id)) {
    return invalid_argument("must be 1 to 64 of letters, digits, '-' and '_'", "id");
  }
  if (name && name->size() > 64) return invalid_argument("must be at most 64 bytes", "name");
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  shopeasy::sync::MutexLock lock(mutex_);
  auto tx = db_.begin();
  if (!tx.ok()) return tx.status();
  auto was_active = db_.query_one<std::int64_t>("SELECT active FROM runners WHERE id = ?", id);
  if (!was_active.ok()) return was_active.status();
  // A NULL name keeps the stored one (COALESCE), so a bare PUT only reactivates.
  const std::optional<std::string> new_name =
      name ? std::optional<std::string>(std::string(*name)) : std::nullopt;
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("INSERT INTO runners (id, name, active, created_at_ms, updated_at_ms) "
              "VALUES (?1, COALESCE(?2, ''), 1, ?3, ?3) ON CONFLICT (id) DO UPDATE SET "
              "name = COALESCE(?2, name), active = 1, updated_at_ms = ?3",
              id, new_name, now));
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  return !(was_active->has_value() && **was_active != 0);
}

Status Roster::retire(std::string_view id) {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  shopeasy::sync::MutexLock lock(mutex_);
  SHOPEASY_RETURN_IF_ERROR(db_.run(
      "UPDATE runners SET active = 0, updated_at_ms = ? WHERE id = ? AND active = 1", now, id));
  if (db_.changes() == 0) return not_found("runner " + std::string(id) + " is not on the roster");
  return Status::ok();
}

}  // namespace shopeasy::edge::telemetry
