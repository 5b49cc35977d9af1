#include "tests/bench/sync/outbox.hpp"

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <random>

namespace shopeasy::syncbench {

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

Status sqlite_error(sqlite3* db, const std::string& what) {
  return unavailable(what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

StatusOr<DbPtr> open_db(const std::filesystem::path& path, bool create) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, "opening " + path.string());
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = std::string(sql) + ": " + (err != nullptr ? err : "?");
    sqlite3_free(err);
    return unavailable(message);
  }
  return Status::ok();
}

StatusOr<StmtPtr> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return sqlite_error(db, std::string("preparing ") + sql);
  }
  return StmtPtr(raw);
}

}  // namespace

StatusOr<OutboxFill> fill_outbox(const std::filesystem::path& db_path, StoreSimulator& store,
                                 std::int64_t count, std::int64_t first_ts_ms,
                                 std::int64_t spacing_ms, bool keep_replica_rows) {
  const auto started = std::chrono::steady_clock::now();
  auto db = open_db(db_path, false);
  if (!db.ok()) return db.status();
  sqlite3* h = db->get();
  {
    auto existing = prepare(h, "SELECT count(*) FROM events");
    if (!existing.ok()) return existing.status();
    if (sqlite3_step(existing->get()) != SQLITE_ROW) return sqlite_error(h, "counting events");
    if (sqlite3_column_int64(existing->get(), 0) != 0) {
      return failed_precondition("the outbox of " + db_path.string() + " is not empty");
    }
  }
  // Setting up the benchmark is not what it measures: a rollback journal and no fsync
  // make the bulk insert a matter of seconds. The edge switches back to WAL on open.
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA journal_mode = DELETE"));
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA synchronous = OFF"));
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA cache_size = -131072"));
  SHOPEASY_RETURN_IF_ERROR(exec(h, "BEGIN"));
  auto insert = prepare(h, "INSERT INTO events (seq, ts_ms, type, body) VALUES (?1, ?2, ?3, ?4)");
  if (!insert.ok()) return insert.status();
  OutboxFill fill;
  if (keep_replica_rows) fill.replica.reserve(static_cast<std::size_t>(count));
  sqlite3_stmt* s = insert->get();
  // Changes come in bursts, not on a metronome: gaps are drawn around the mean spacing.
  std::mt19937_64 rng(static_cast<std::uint64_t>(count));
  std::uniform_int_distribution<std::int64_t> gap(0, 2 * spacing_ms);
  std::int64_t ts_ms = first_ts_ms;
  for (std::int64_t seq = 1; seq <= count; ++seq) {
    ts_ms += gap(rng);
    StockMove move = store.next(ts_ms);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, move.ts_ms);
    sqlite3_bind_text(s, 3, kStockChanged, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, move.body.data(), static_cast<int>(move.body.size()), SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) return sqlite_error(h, "inserting event");
    sqlite3_reset(s);
    fill.body_bytes += static_cast<std::int64_t>(move.body.size());
    if (keep_replica_rows) {
      fill.replica.push_back(
          ReplicaRow{move.sku_index, move.sku_on_hand, move.sku_reserved, move.version});
    }
  }
  insert->reset();
  SHOPEASY_RETURN_IF_ERROR(exec(h, "COMMIT"));
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA journal_mode = WAL"));
  fill.rows = count;
  fill.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return fill;
}

StatusOr<double> raw_replica_upserts(const std::filesystem::path& db_path,
                                     const std::string& store_id, const StoreSimulator& store,
                                     const std::vector<ReplicaRow>& rows, std::int64_t batch) {
  std::error_code ignored;
  std::filesystem::remove(db_path, ignored);
  auto db = open_db(db_path, true);
  if (!db.ok()) return db.status();
  sqlite3* h = db->get();
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA journal_mode = WAL"));
  SHOPEASY_RETURN_IF_ERROR(exec(h, "PRAGMA synchronous = FULL"));
  SHOPEASY_RETURN_IF_ERROR(
      exec(h,
           "CREATE TABLE replica (store_id TEXT NOT NULL, sku TEXT NOT NULL, on_hand INTEGER NOT "
           "NULL, reserved INTEGER NOT NULL, version INTEGER NOT NULL, updated_seq INTEGER NOT "
           "NULL, PRIMARY KEY (store_id, sku)) WITHOUT ROWID"));
  auto upsert = prepare(
      h,
      "INSERT INTO replica (store_id, sku, on_hand, reserved, version, updated_seq) VALUES (?1, "
      "?2, ?3, ?4, ?5, ?6) ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = excluded.on_hand, "
      "reserved = excluded.reserved, version = excluded.version, updated_seq = "
      "excluded.updated_seq");
  if (!upsert.ok()) return upsert.status();
  sqlite3_stmt* s = upsert->get();
  const auto started = std::chrono::steady_clock::now();
  const auto n = static_cast<std::int64_t>(rows.size());
  for (std::int64_t first = 0; first < n; first += batch) {
    SHOPEASY_RETURN_IF_ERROR(exec(h, "BEGIN"));
    const std::int64_t end = std::min(n, first + batch);
    for (std::int64_t i = first; i < end; ++i) {
      const ReplicaRow& r = rows[static_cast<std::size_t>(i)];
      const std::string& sku = store.sku(r.sku_index);
      sqlite3_bind_text(s, 1, store_id.data(), static_cast<int>(store_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, sku.data(), static_cast<int>(sku.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 3, r.on_hand);
      sqlite3_bind_int64(s, 4, r.reserved);
      sqlite3_bind_int64(s, 5, r.version);
      sqlite3_bind_int64(s, 6, i + 1);
      if (sqlite3_step(s) != SQLITE_DONE) return sqlite_error(h, "upserting");
      sqlite3_reset(s);
    }
    SHOPEASY_RETURN_IF_ERROR(exec(h, "COMMIT"));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace shopeasy::syncbench
