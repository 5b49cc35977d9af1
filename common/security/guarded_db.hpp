// Internal to the security module: the staff-user database connection shared by
// UserStore and AuditLog, with the lock that serializes its use (a db::Database is
// single-threaded).
#pragma once

#include <utility>

#include "common/db/database.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::security::detail {

struct GuardedDb {
  explicit GuardedDb(db::Database database) : db(std::move(database)) {}
  // Guards db: UserStore's and AuditLog's calls come from any HTTP thread.
  sync::Mutex mutex;
  db::Database db GUARDED_BY(mutex);
};

}  // namespace shopeasy::security::detail
