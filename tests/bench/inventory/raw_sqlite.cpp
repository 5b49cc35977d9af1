#include "tests/bench/inventory/raw_sqlite.hpp"

namespace shopeasy::bench {

Status RawStatement::run_to_end() {
  int rc;
  while ((rc = step()) == SQLITE_ROW) {
  }
  reset();
  if (rc != SQLITE_DONE) return internal_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  return Status::ok();
}

StatusOr<RawDb> RawDb::open(const std::string& path) {
  sqlite3* handle = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &handle,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> owned(handle);
  if (rc != SQLITE_OK) {
    return unavailable("cannot open " + path + ": " +
                       (handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(handle, 5000);
  return RawDb(std::move(owned));
}

Status RawDb::exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return internal_error("sqlite: " + message + " in: " + sql.substr(0, 80));
  }
  return Status::ok();
}

StatusOr<RawStatement> RawDb::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  std::unique_ptr<sqlite3_stmt, RawStatement::Finalizer> owned(stmt);
  if (rc != SQLITE_OK) {
    return internal_error("sqlite: " + error_message() + " in: " + std::string(sql.substr(0, 80)));
  }
  return RawStatement(std::move(owned), db_.get());
}

}  // namespace shopeasy::bench
