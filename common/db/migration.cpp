#include "common/db/migration.hpp"

#include <algorithm>
#include <string>

namespace shopeasy::db {

namespace {

constexpr std::string_view kCreateHistory =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at_ms INTEGER NOT NULL)";

Status validate(std::span<const Migration> migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return failed_precondition("migration versions must be positive and strictly increasing: " +
                                 std::to_string(m.version) + " follows " +
                                 std::to_string(previous));
    }
    if (m.name.empty()) {
      return failed_precondition("migration " + std::to_string(m.version) + " has no name");
    }
    previous = m.version;
  }
  return Status::ok();
}

const Migration* find_version(std::span<const Migration> migrations, int version) {
  auto it = std::find_if(migrations.begin(), migrations.end(),
                         [version](const Migration& m) { return m.version == version; });
  return it == migrations.end() ? nullptr : &*it;
}

// Catches two builds that gave the same version number to different changes: applying
// "the rest" on top of someone else's version N would build a schema nobody wrote.
Status check_history(Database& db, std::span<const Migration> migrations) {
  StatusOr<std::optional<std::int64_t>> exists = db.query_one<std::int64_t>(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!exists.ok()) return exists.status();
  if (exists->value_or(0) == 0) return Status::ok();
  Query q = db.query("SELECT version, name FROM schema_migrations ORDER BY version");
  while (const Statement* row = q.next()) {
    const std::int64_t version = row->column_int64(0);
    const Migration* known = find_version(migrations, static_cast<int>(version));
    // Versions no longer in the list were squashed into a baseline; nothing to compare.
    if (known == nullptr) continue;
    std::string recorded = row->column_text(1);
    if (recorded != known->name) {
      return failed_precondition("migration " + std::to_string(version) + " was applied as '" +
                                 recorded + "' but this build calls it '" + known->name + "'");
    }
  }
  return q.status();
}

Status apply(Database& db, const Migration& m, const Clock& clock) {
  StatusOr<Transaction> tx = db.begin(TxMode::kImmediate);
  if (!tx.ok()) return tx.status();
  // Re-read under the write lock: another process may have applied it meanwhile.
  StatusOr<int> current = schema_version(db);
  if (!current.ok()) return current.status();
  if (*current >= m.version) return tx->commit();
  SHOPEASY_RETURN_IF_ERROR(db.exec(kCreateHistory));
  SHOPEASY_RETURN_IF_ERROR(db.exec(m.sql));
  SHOPEASY_RETURN_IF_ERROR(
      db.run("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
             m.version, m.name, to_unix_ms(clock.wall_now())));
  // PRAGMA takes no parameters; the version is an int we validated.
  SHOPEASY_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(m.version)));
  return tx->commit();
}

}  // namespace

StatusOr<int> schema_version(Database& db) {
  StatusOr<std::optional<std::int64_t>> version = db.query_one<std::int64_t>("PRAGMA user_version");
  if (!version.ok()) return version.status();
  return static_cast<int>(version->value_or(0));
}

Status migrate(Database& db, std::span<const Migration> migrations, const Clock& clock) {
  SHOPEASY_RETURN_IF_ERROR(validate(migrations));
  StatusOr<int> current = schema_version(db);
  if (!current.ok()) return current.status();
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (*current > newest) {
    return failed_precondition("database schema version " + std::to_string(*current) +
                               " is newer than this build knows (" + std::to_string(newest) +
                               "); refusing to downgrade");
  }
  if (*current > 0 && find_version(migrations, *current) == nullptr) {
    return failed_precondition("database schema version " + std::to_string(*current) +
                               " is not one of this build's migrations");
  }
  SHOPEASY_RETURN_IF_ERROR(check_history(db, migrations));
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    Status applied = apply(db, m, clock);
    if (!applied.is_ok()) {
      return Status(applied.code(), "migration " + std::to_string(m.version) + " '" + m.name +
                                        "': " + applied.message());
    }
  }
  return Status::ok();
}

Status migrate(Database& db, std::span<const Migration> migrations) {
  const SystemClock clock;
  return migrate(db, migrations, clock);
}

}  // namespace shopeasy::db
