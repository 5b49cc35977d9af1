// A deliberately thin RAII layer over the SQLite C API for the benchmark's baseline
// writer and its bulk data generator: nothing between the caller and sqlite3_step but
// the ownership of the handles, so the baseline measures SQLite itself. One RawDb and
// its statements belong to one thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::bench {

class RawStatement {
 public:
  RawStatement() = default;
  // Binders take 1-based indexes, like SQLite; text is copied (SQLITE_TRANSIENT).
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_.get(), index, value); }
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  }
  void bind_null(int index) { sqlite3_bind_null(stmt_.get(), index); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_.get()); }
  void reset() { sqlite3_reset(stmt_.get()); }
  std::int64_t column_int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  // Steps to the end; kInternal with SQLite's message on an error. Resets afterwards.
  Status run_to_end();

 private:
  friend class RawDb;
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  RawStatement(std::unique_ptr<sqlite3_stmt, Finalizer> stmt, sqlite3* db)
      : stmt_(std::move(stmt)), db_(db) {}
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  sqlite3* db_ = nullptr;  // not owned; for error messages
};

class RawDb {
 public:
  // Opens an existing or new file read-write. kUnavailable when it cannot be opened.
  static StatusOr<RawDb> open(const std::string& path);
  // Runs one or more statements without results; kInternal with SQLite's message.
  Status exec(const std::string& sql);
  // kInternal when the SQL does not compile.
  StatusOr<RawStatement> prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  std::string error_message() const { return sqlite3_errmsg(db_.get()); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit RawDb(std::unique_ptr<sqlite3, Closer> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace shopeasy::bench
