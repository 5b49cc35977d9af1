// Roster: the runners allowed at this store. Seeded from configuration and edited
// through the staff API, persisted in a small SQLite file of its own. A retired runner
// keeps its row (marked inactive) so that a configuration seed does not bring it back
// on the next start; putting it again reactivates it. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::edge::telemetry {

struct RosterEntry {
  std::string id;
  std::string name;
  bool active = true;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

// True for 1..64 characters of [A-Za-z0-9_-], the ids that may appear in topics.
bool is_valid_runner_id(std::string_view id);

class Roster {
 public:
  // Opens (creating and migrating) the file at `path` and adds every seed id that has
  // no row yet. kInvalidArgument naming "telemetry.runners[i]" for a bad seed id;
  // otherwise errors as db::Database::open and db::migrate.
  static StatusOr<std::unique_ptr<Roster>> open(const std::string& path,
                                                const std::vector<std::string>& seed,
                                                const Clock& clock);

  // Active runners, sorted by id.
  StatusOr<std::vector<RosterEntry>> active() const EXCLUDES(mutex_);
  // The runner's row, active or retired; nullopt when never added.
  StatusOr<std::optional<RosterEntry>> find(std::string_view id) const EXCLUDES(mutex_);
  // Adds or reactivates a runner; sets its name when one is given (a new runner without
  // one gets ""). Returns true when it was not active before. kInvalidArgument for a bad
  // id ("id") or a name over 64 bytes ("name").
  StatusOr<bool> put(std::string_view id, std::optional<std::string_view> name) EXCLUDES(mutex_);
  // Retires an active runner. kNotFound when it is not active.
  Status retire(std::string_view id) EXCLUDES(mutex_);

 private:
  Roster(db::Database db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}

  // Guards db_: one SQLite connection shared by the HTTP handlers and the ingest thread.
  mutable shopeasy::sync::Mutex mutex_;
  mutable db::Database db_ GUARDED_BY(mutex_);
  const Clock& clock_;
};

}  // namespace shopeasy::edge::telemetry
