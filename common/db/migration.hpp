// Schema migrations. A program lists every schema change it knows as numbered
// Migrations; migrate() brings a database up to the newest one. PRAGMA user_version is
// the authority on which version a database is at; a schema_migrations table (version,
// name, applied_at_ms) records when each was applied, for people and for catching two
// builds that disagree on what a version number means.
#pragma once

#include <span>
#include <string>

#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/status/status.hpp"

namespace shopeasy::db {

// One schema change. `sql` is a script for Database::exec(); it runs inside a
// transaction, so it must not contain BEGIN/COMMIT, and PRAGMA foreign_keys has no
// effect in it.
struct Migration {
  int version = 0;  // Positive; strictly increasing along the list.
  std::string name;
  std::string sql;
};

// Applies, in order, each migration whose version is above the database's, each in its
// own IMMEDIATE transaction together with the version bump, so a failure leaves the
// database at the last fully applied version. Safe to run again and from several
// processes at once. Errors: kFailedPrecondition if the versions are not positive and
// strictly increasing or a name is empty, if the database is at a version newer than the
// list knows (no downgrades) or at one not in the list, or if a recorded migration has a
// different name than the list gives it; otherwise the failing migration's error, named.
Status migrate(Database& db, std::span<const Migration> migrations, const Clock& clock);
// As above, timestamping with the system clock.
Status migrate(Database& db, std::span<const Migration> migrations);

// The database's schema version (PRAGMA user_version; 0 for a new database).
StatusOr<int> schema_version(Database& db);

}  // namespace shopeasy::db
