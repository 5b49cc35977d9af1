// Internal to the security module: the staff-user database connection shared by
// UserStore and AuditLog, with the lock that serializes its use (a db::Database is
// single-threaded).
#pragma once

#include <mutex>
#include <utility>

#include "common/db/database.hpp"

namespace shopeasy::security::detail {

struct GuardedDb {
  explicit GuardedDb(db::Database database) : db(std::move(database)) {}
  std::mutex mutex;
  db::Database db;
};

}  // namespace shopeasy::security::detail
