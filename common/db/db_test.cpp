#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/db/migration.hpp"
#include "common/db/sqlite_error.hpp"

namespace shopeasy::db {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

#define DB_CONCAT_INNER_(a, b) a##b
#define DB_CONCAT_(a, b) DB_CONCAT_INNER_(a, b)
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const ::shopeasy::Status db_test_status_ = (expr);                   \
    ASSERT_TRUE(db_test_status_.is_ok()) << db_test_status_.to_string(); \
  } while (false)
#define EXPECT_OK(expr)                                                  \
  do {                                                                   \
    const ::shopeasy::Status db_test_status_ = (expr);                   \
    EXPECT_TRUE(db_test_status_.is_ok()) << db_test_status_.to_string(); \
  } while (false)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)   \
  auto tmp = (expr);                                 \
  ASSERT_TRUE(tmp.ok()) << tmp.status().to_string(); \
  lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(DB_CONCAT_(db_test_statusor_, __LINE__), lhs, expr)

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "shopeasy-db-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    ASSERT_NE(mkdtemp(buffer.data()), nullptr) << std::strerror(errno);
    dir_ = buffer.data();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string file(std::string_view name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

constexpr std::string_view kItemsSchema =
    "CREATE TABLE items ("
    " id INTEGER PRIMARY KEY,"
    " sku TEXT NOT NULL UNIQUE,"
    " qty INTEGER NOT NULL CHECK (qty >= 0),"
    " note TEXT,"
    " image BLOB);"
    "CREATE TABLE picks ("
    " id INTEGER PRIMARY KEY,"
    " item_id INTEGER NOT NULL REFERENCES items(id));";

// ---- open ----

TEST_F(DbTest, OpenCreatesFileInWalModeWithForeignKeys) {
  const std::string path = file("store.db");
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  EXPECT_EQ(db.path(), path);
  EXPECT_TRUE(std::filesystem::exists(path));
  ASSERT_OK_AND_ASSIGN(auto mode, db.query_one<std::string>("PRAGMA journal_mode"));
  EXPECT_EQ(mode, "wal");
  ASSERT_OK_AND_ASSIGN(auto fk, db.query_one<std::int64_t>("PRAGMA foreign_keys"));
  EXPECT_EQ(fk, 1);
  ASSERT_OK_AND_ASSIGN(auto sync, db.query_one<std::int64_t>("PRAGMA synchronous"));
  EXPECT_EQ(sync, 2) << "default must be FULL";
  ASSERT_OK_AND_ASSIGN(auto timeout, db.query_one<std::int64_t>("PRAGMA busy_timeout"));
  EXPECT_EQ(timeout, 5000);
}

TEST_F(DbTest, WalModePersistsForLaterConnections) {
  const std::string path = file("store.db");
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER)"));
  }
  ASSERT_OK_AND_ASSIGN(Database plain, Database::open(path, OpenOptions{.wal = false}));
  ASSERT_OK_AND_ASSIGN(auto mode, plain.query_one<std::string>("PRAGMA journal_mode"));
  EXPECT_EQ(mode, "wal");
}

TEST_F(DbTest, OpenAppliesTuningOptions) {
  OpenOptions options;
  options.synchronous = Synchronous::kNormal;
  options.busy_timeout_ms = 250;
  options.cache_size_kib = 8192;
  options.mmap_size = 1 << 20;
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("tuned.db"), options));
  ASSERT_OK_AND_ASSIGN(auto sync, db.query_one<std::int64_t>("PRAGMA synchronous"));
  EXPECT_EQ(sync, 1);
  ASSERT_OK_AND_ASSIGN(auto cache, db.query_one<std::int64_t>("PRAGMA cache_size"));
  EXPECT_EQ(cache, -8192);
  ASSERT_OK_AND_ASSIGN(auto timeout, db.query_one<std::int64_t>("PRAGMA busy_timeout"));
  EXPECT_EQ(timeout, 250);
  ASSERT_OK_AND_ASSIGN(auto mmap, db.query_one<std::int64_t>("PRAGMA mmap_size"));
  EXPECT_EQ(mmap, 1 << 20);
}

TEST_F(DbTest, InMemoryDatabaseWorks) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (41), (1);"));
  ASSERT_OK_AND_ASSIGN(auto sum, db.query_one<std::int64_t>("SELECT sum(x) FROM t"));
  EXPECT_EQ(sum, 42);
}

TEST_F(DbTest, OpenRejectsBadOptions) {
  StatusOr<Database> db = Database::open(file("x.db"), OpenOptions{.busy_timeout_ms = -1});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db.status().field(), "busy_timeout_ms");

  OpenOptions bad_cache;
  bad_cache.cache_size_kib = 0;
  db = Database::open(file("x.db"), bad_cache);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().field(), "cache_size_kib");

  OpenOptions bad_mmap;
  bad_mmap.mmap_size = -5;
  db = Database::open(file("x.db"), bad_mmap);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().field(), "mmap_size");
  EXPECT_FALSE(std::filesystem::exists(file("x.db"))) << "nothing is created for bad options";
}

TEST_F(DbTest, OpenMissingFileWithoutCreateIsUnavailableAndNamesPath) {
  const std::string path = file("missing.db");
  StatusOr<Database> db = Database::open(path, OpenOptions{.create = false});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(db.status().message(), HasSubstr(path));
  EXPECT_THAT(db.status().message(), HasSubstr("unable to open"));
  EXPECT_FALSE(std::filesystem::exists(path));

  db = Database::open(path, OpenOptions{.read_only = true});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);

  db = Database::open(file("no/such/dir/x.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);
}

TEST_F(DbTest, OpenFileThatIsNotADatabaseIsInternal) {
  const std::string path = file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(8192, 'G');
  }
  StatusOr<Database> db = Database::open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kInternal);
  EXPECT_THAT(db.status().message(), HasSubstr("not a database"));
  EXPECT_THAT(db.status().message(), HasSubstr(path));
}

TEST_F(DbTest, ReadOnlyConnectionRefusesWrites) {
  const std::string path = file("ro.db");
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);"));
  }
  ASSERT_OK_AND_ASSIGN(Database ro, Database::open(path, OpenOptions{.read_only = true}));
  ASSERT_OK_AND_ASSIGN(auto x, ro.query_one<std::int64_t>("SELECT x FROM t"));
  EXPECT_EQ(x, 7);
  Status write = ro.run("INSERT INTO t VALUES (?)", 8);
  EXPECT_EQ(write.code(), StatusCode::kFailedPrecondition) << write.to_string();
  EXPECT_THAT(write.message(), HasSubstr("readonly"));
}

// ---- statements, binding, columns ----

TEST_F(DbTest, BlobsTextAndNullsRoundTrip) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("types.db")));
  ASSERT_OK(db.exec("CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, b BLOB, r REAL, i INTEGER)"));
  const std::vector<std::byte> image = bytes({0x00, 0xFF, 0x10, 0x00, 0x7F});
  const std::string with_nul("a\0b", 3);
  const std::optional<std::int64_t> no_int;
  ASSERT_OK(db.run("INSERT INTO v VALUES (1, ?, ?, ?, ?)", with_nul, image, 2.5,
                   std::optional<std::int64_t>(-9)));
  ASSERT_OK(
      db.run("INSERT INTO v VALUES (2, ?, ?, ?, ?)", nullptr, std::nullopt, std::nullopt, no_int));
  ASSERT_OK(db.run("INSERT INTO v VALUES (3, ?, ?, ?, ?)", std::string_view(),
                   std::vector<std::byte>(), 0.0, true));

  Query q = db.query("SELECT t, b, r, i FROM v ORDER BY id");
  const Statement* row = q.next();
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->column_count(), 4);
  EXPECT_EQ(row->column_name(1), "b");
  EXPECT_EQ(row->column_text(0), with_nul);
  EXPECT_EQ(row->column_blob(1), image);
  EXPECT_DOUBLE_EQ(row->column_double(2), 2.5);
  EXPECT_EQ(row->column<std::optional<std::int64_t>>(3), -9);

  row = q.next();
  ASSERT_NE(row, nullptr);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(row->column_is_null(i)) << i;
  EXPECT_EQ(row->column<std::optional<std::string>>(0), std::nullopt);
  EXPECT_EQ(row->column_text(0), "");
  EXPECT_TRUE(row->column_blob(1).empty());

  row = q.next();
  ASSERT_NE(row, nullptr);
  EXPECT_FALSE(row->column_is_null(0)) << "empty text is not NULL";
  EXPECT_FALSE(row->column_is_null(1)) << "empty blob is not NULL";
  EXPECT_EQ(row->column<std::optional<std::string>>(0), std::string());
  EXPECT_TRUE(row->column_blob(1).empty());
  EXPECT_EQ(row->column<bool>(3), true);
  EXPECT_EQ(row->column_is_null(99), true) << "out-of-range column reads as NULL";
  EXPECT_EQ(row->column_int64(-1), 0);

  EXPECT_EQ(q.next(), nullptr);
  EXPECT_EQ(q.next(), nullptr) << "stays exhausted";
  EXPECT_OK(q.status());
}

TEST_F(DbTest, PreparedStatementBindsAndSteps) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (k TEXT, v INTEGER)"));
  ASSERT_OK_AND_ASSIGN(Statement insert, db.prepare("INSERT INTO t VALUES (?1, ?2)"));
  EXPECT_EQ(insert.parameter_count(), 2);
  EXPECT_EQ(insert.sql(), "INSERT INTO t VALUES (?1, ?2)");
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(insert.bind(1, "key" + std::to_string(i)));
    ASSERT_OK(insert.bind(2, i * 10));
    ASSERT_OK(insert.execute());
    EXPECT_EQ(db.changes(), 1);
    EXPECT_EQ(db.last_insert_rowid(), i + 1);
  }
  ASSERT_OK_AND_ASSIGN(Statement select, db.prepare("SELECT k, v FROM t WHERE v >= ? ORDER BY v"));
  ASSERT_OK(select.bind_all(10));
  std::vector<std::string> keys;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool has_row, select.step());
    if (!has_row) break;
    keys.push_back(select.column_text(0));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"key1", "key2"}));
  select.reset();
  ASSERT_OK_AND_ASSIGN(bool again, select.step());
  EXPECT_TRUE(again) << "reset rewinds and keeps bindings";
  EXPECT_EQ(select.column_int64(1), 10);

  ASSERT_OK(db.run("UPDATE t SET v = v + 1"));
  EXPECT_EQ(db.changes(), 3);
}

TEST_F(DbTest, BindErrorsAreReported) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK_AND_ASSIGN(Statement stmt, db.prepare("SELECT ?, ?"));
  Status out_of_range = stmt.bind(3, 1);
  EXPECT_EQ(out_of_range.code(), StatusCode::kInternal);
  EXPECT_THAT(out_of_range.message(), HasSubstr("parameter 3"));

  Status too_few = stmt.bind_all(1);
  EXPECT_EQ(too_few.code(), StatusCode::kInternal);
  EXPECT_THAT(too_few.message(), HasSubstr("2 parameter(s) but 1 value(s)"));

  Status huge = stmt.bind(1, std::uint64_t{1} << 63);
  EXPECT_EQ(huge.code(), StatusCode::kInvalidArgument);
  EXPECT_OK(stmt.bind(1, std::uint64_t{1} << 62));

  Status via_run = db.run("SELECT ?", 1, 2);
  EXPECT_EQ(via_run.code(), StatusCode::kInternal);
  Query q = db.query("SELECT ? + ?", 1);
  EXPECT_EQ(q.next(), nullptr);
  EXPECT_EQ(q.status().code(), StatusCode::kInternal);
}

TEST_F(DbTest, BadSqlIsInternalWithMessageAndSql) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  StatusOr<Statement> stmt = db.prepare("SELEC 1");
  ASSERT_FALSE(stmt.ok());
  EXPECT_EQ(stmt.status().code(), StatusCode::kInternal);
  EXPECT_THAT(stmt.status().message(), HasSubstr("syntax error"));
  EXPECT_THAT(stmt.status().message(), HasSubstr("SELEC 1"));

  const std::string long_sql =
      "SELECT * FROM no_such_table WHERE " + std::string(200, 'x') + " = 1";
  Status missing = db.run(long_sql);
  EXPECT_EQ(missing.code(), StatusCode::kInternal);
  EXPECT_THAT(missing.message(), HasSubstr("no such table: no_such_table"));
  EXPECT_THAT(missing.message(), HasSubstr(long_sql.substr(0, 80) + "..."));
  EXPECT_THAT(missing.message(), Not(HasSubstr(long_sql.substr(0, 81))));

  Status script = db.exec("CREATE TABLE a (x); CREATE TABLEX b (y);");
  EXPECT_EQ(script.code(), StatusCode::kInternal);
  EXPECT_THAT(script.message(), HasSubstr("CREATE TABLEX"));

  Query q = db.query("SELECT nope FROM a");
  EXPECT_EQ(q.next(), nullptr);
  EXPECT_EQ(q.status().code(), StatusCode::kInternal);
  EXPECT_THAT(q.status().message(), HasSubstr("no such column: nope"));
}

TEST_F(DbTest, PrepareRefusesEmptyAndMultipleStatements) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  EXPECT_EQ(db.prepare("").status().code(), StatusCode::kInternal);
  EXPECT_EQ(db.prepare("  ;  ").status().code(), StatusCode::kInternal);
  EXPECT_EQ(db.prepare("-- just a comment").status().code(), StatusCode::kInternal);
  StatusOr<Statement> two = db.prepare("SELECT 1; SELECT 2");
  ASSERT_FALSE(two.ok());
  EXPECT_THAT(two.status().message(), HasSubstr("more than one statement"));
  EXPECT_EQ(db.run("CREATE TABLE a (x); INSERT INTO a VALUES (1)").code(), StatusCode::kInternal);
  EXPECT_OK(db.prepare("SELECT 1; -- trailing comment\n").status());
  EXPECT_OK(db.exec(""));
  EXPECT_OK(db.exec("  -- nothing to do\n"));
}

TEST_F(DbTest, ConstraintErrorsMapToCodes) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("c.db")));
  ASSERT_OK(db.exec(kItemsSchema));
  ASSERT_OK(db.run("INSERT INTO items (id, sku, qty) VALUES (?, ?, ?)", 1, "SKU-1", 5));

  Status unique = db.run("INSERT INTO items (id, sku, qty) VALUES (?, ?, ?)", 2, "SKU-1", 5);
  EXPECT_EQ(unique.code(), StatusCode::kAlreadyExists) << unique.to_string();
  EXPECT_THAT(unique.message(), HasSubstr("UNIQUE constraint failed: items.sku"));

  Status pk = db.run("INSERT INTO items (id, sku, qty) VALUES (?, ?, ?)", 1, "SKU-2", 5);
  EXPECT_EQ(pk.code(), StatusCode::kAlreadyExists) << pk.to_string();

  Status check = db.run("UPDATE items SET qty = ? WHERE id = ?", -1, 1);
  EXPECT_EQ(check.code(), StatusCode::kFailedPrecondition) << check.to_string();
  EXPECT_THAT(check.message(), HasSubstr("CHECK constraint failed"));

  Status not_null = db.run("INSERT INTO items (id, sku, qty) VALUES (?, ?, ?)", 3, nullptr, 1);
  EXPECT_EQ(not_null.code(), StatusCode::kFailedPrecondition) << not_null.to_string();

  Status fk = db.run("INSERT INTO picks (item_id) VALUES (?)", 99);
  EXPECT_EQ(fk.code(), StatusCode::kFailedPrecondition) << fk.to_string();
  EXPECT_THAT(fk.message(), HasSubstr("FOREIGN KEY"));

  ASSERT_OK(
      db.exec("CREATE TABLE guarded (x INTEGER);"
              "CREATE TRIGGER no_neg BEFORE INSERT ON guarded WHEN NEW.x < 0"
              " BEGIN SELECT RAISE(ABORT, 'x must not be negative'); END;"));
  Status trigger = db.run("INSERT INTO guarded VALUES (?)", -3);
  EXPECT_EQ(trigger.code(), StatusCode::kFailedPrecondition) << trigger.to_string();
  EXPECT_THAT(trigger.message(), HasSubstr("x must not be negative"));

  ASSERT_OK_AND_ASSIGN(auto count, db.query_one<std::int64_t>("SELECT count(*) FROM items"));
  EXPECT_EQ(count, 1) << "failed statements left nothing behind";
}

TEST(SqliteErrorTest, ResultCodesMapByWhatTheCallerShouldDo) {
  using detail::status_code_for_sqlite;
  EXPECT_EQ(status_code_for_sqlite(SQLITE_BUSY), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_BUSY_SNAPSHOT), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_LOCKED), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_FULL), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_IOERR), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_IOERR_FSYNC), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CANTOPEN), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CONSTRAINT_UNIQUE), StatusCode::kAlreadyExists);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CONSTRAINT_PRIMARYKEY), StatusCode::kAlreadyExists);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CONSTRAINT_CHECK), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CONSTRAINT_FOREIGNKEY), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CONSTRAINT_NOTNULL), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_READONLY), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_CORRUPT), StatusCode::kInternal);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_NOTADB), StatusCode::kInternal);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_MISUSE), StatusCode::kInternal);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_ERROR), StatusCode::kInternal);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_TOOBIG), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(status_code_for_sqlite(SQLITE_MISMATCH), StatusCode::kInvalidArgument);
}

TEST(SqliteErrorTest, SqlExcerptIsShortSingleLineAndValidUtf8) {
  EXPECT_EQ(detail::sql_excerpt("\n  SELECT 1\nFROM t"), "SELECT 1 FROM t");
  const std::string long_sql(100, 'a');
  EXPECT_EQ(detail::sql_excerpt(long_sql), std::string(80, 'a') + "...");
  // 79 ASCII bytes then a two-byte character straddling the 80-byte cut.
  const std::string straddling = std::string(79, 'a') + "\xC3\xA9" + "tail";
  EXPECT_EQ(detail::sql_excerpt(straddling), std::string(79, 'a') + "...");
}

// ---- statement cache ----

TEST_F(DbTest, StatementCacheReusesStatements) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER)"));
  const std::string insert = "INSERT INTO t VALUES (?)";
  EXPECT_EQ(db.cached_statement_count(), 0u);
  const Statement* first = nullptr;
  {
    ASSERT_OK_AND_ASSIGN(CachedStatement stmt, db.cached(insert));
    first = &*stmt;
    EXPECT_EQ(db.cached_statement_count(), 0u) << "borrowed statements are out of the cache";
    ASSERT_OK(stmt->bind(1, 1));
    ASSERT_OK(stmt->execute());
  }
  EXPECT_EQ(db.cached_statement_count(), 1u);
  {
    ASSERT_OK_AND_ASSIGN(CachedStatement stmt, db.cached(insert));
    EXPECT_EQ(&*stmt, first) << "same statement object handed out again";
    EXPECT_TRUE(stmt->sql() == insert);
    // Bindings were cleared on return: executing now inserts NULL, not 1.
    ASSERT_OK(stmt->execute());
  }
  for (int i = 0; i < 10; ++i) ASSERT_OK(db.run(insert, i));
  EXPECT_EQ(db.cached_statement_count(), 1u);
  ASSERT_OK_AND_ASSIGN(auto nulls,
                       db.query_one<std::int64_t>("SELECT count(*) FROM t WHERE x IS NULL"));
  EXPECT_EQ(nulls, 1);
  db.clear_statement_cache();
  EXPECT_EQ(db.cached_statement_count(), 0u);
  EXPECT_OK(db.run(insert, 5));
}

TEST_F(DbTest, NestedQueriesWithTheSameSqlDoNotInterfere) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);"));
  const std::string sql = "SELECT x FROM t ORDER BY x";
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  Query outer = db.query(sql);
  while (const Statement* a = outer.next()) {
    Query inner = db.query(sql);
    while (const Statement* b = inner.next())
      pairs.emplace_back(a->column_int64(0), b->column_int64(0));
    ASSERT_OK(inner.status());
  }
  ASSERT_OK(outer.status());
  EXPECT_EQ(pairs.size(), 9u);
  EXPECT_EQ(pairs.front(), std::make_pair(std::int64_t{1}, std::int64_t{1}));
  EXPECT_EQ(pairs.back(), std::make_pair(std::int64_t{3}, std::int64_t{3}));
  EXPECT_EQ(db.cached_statement_count(), 1u) << "the second copy was dropped, not leaked";
}

TEST_F(DbTest, AbandonedQueryIsResetForTheNextUser) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);"));
  {
    Query q = db.query("SELECT x FROM t WHERE x > ? ORDER BY x", 0);
    ASSERT_NE(q.next(), nullptr);
  }
  Query q = db.query("SELECT x FROM t WHERE x > ? ORDER BY x", 1);
  const Statement* row = q.next();
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->column_int64(0), 2) << "starts from the top with the new binding";
}

TEST_F(DbTest, QueryOneReturnsNulloptForNoRowOrNull) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("CREATE TABLE t (k TEXT, v REAL)"));
  ASSERT_OK_AND_ASSIGN(auto none, db.query_one<double>("SELECT v FROM t WHERE k = ?", "a"));
  EXPECT_EQ(none, std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto max, db.query_one<double>("SELECT max(v) FROM t"));
  EXPECT_EQ(max, std::nullopt);
  ASSERT_OK(db.run("INSERT INTO t VALUES (?, ?)", "a", 1.5f));
  ASSERT_OK_AND_ASSIGN(auto found, db.query_one<double>("SELECT v FROM t WHERE k = ?", "a"));
  EXPECT_EQ(found, 1.5);
  StatusOr<std::optional<double>> bad = db.query_one<double>("SELECT v FROM nowhere");
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
}

// ---- transactions ----

TEST_F(DbTest, TransactionRollsBackOnDestruction) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("tx.db")));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER)"));
  {
    ASSERT_OK_AND_ASSIGN(Transaction tx, db.begin());
    EXPECT_TRUE(db.in_transaction());
    ASSERT_OK(db.run("INSERT INTO t VALUES (?)", 1));
  }
  EXPECT_FALSE(db.in_transaction());
  ASSERT_OK_AND_ASSIGN(auto count, db.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 0);

  ASSERT_OK_AND_ASSIGN(Transaction tx, db.begin(TxMode::kDeferred));
  ASSERT_OK(db.run("INSERT INTO t VALUES (?)", 2));
  ASSERT_OK(tx.rollback());
  EXPECT_FALSE(tx.is_open());
  EXPECT_EQ(tx.commit().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(tx.rollback().code(), StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(count, db.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 0);
}

TEST_F(DbTest, CommitIsVisibleFromASecondConnectionOnlyAfterCommit) {
  const std::string path = file("shared.db");
  ASSERT_OK_AND_ASSIGN(Database writer, Database::open(path));
  ASSERT_OK(writer.exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK_AND_ASSIGN(Database reader, Database::open(path));

  ASSERT_OK_AND_ASSIGN(Transaction tx, writer.begin(TxMode::kExclusive));
  ASSERT_OK(writer.run("INSERT INTO t VALUES (?)", 42));
  ASSERT_OK_AND_ASSIGN(auto before, reader.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(before, 0) << "WAL readers see the last committed state";
  ASSERT_OK(tx.commit());
  EXPECT_FALSE(tx.is_open());
  ASSERT_OK_AND_ASSIGN(auto after, reader.query_one<std::int64_t>("SELECT x FROM t"));
  EXPECT_EQ(after, 42);
}

TEST_F(DbTest, NestedTransactionsUseSavepoints) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("nest.db")));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER)"));
  {
    ASSERT_OK_AND_ASSIGN(Transaction outer, db.begin());
    EXPECT_FALSE(outer.is_nested());
    ASSERT_OK(db.run("INSERT INTO t VALUES (1)"));
    {
      ASSERT_OK_AND_ASSIGN(Transaction inner, db.begin());
      EXPECT_TRUE(inner.is_nested());
      ASSERT_OK(db.run("INSERT INTO t VALUES (2)"));
      EXPECT_EQ(outer.commit().code(), StatusCode::kFailedPrecondition)
          << "outer cannot commit while inner is open";
    }  // inner rolls back alone
    {
      ASSERT_OK_AND_ASSIGN(Transaction inner, db.begin());
      ASSERT_OK(db.run("INSERT INTO t VALUES (3)"));
      ASSERT_OK(inner.commit());
    }
    ASSERT_OK(outer.commit());
  }
  Query q = db.query("SELECT x FROM t ORDER BY x");
  std::vector<std::int64_t> xs;
  while (const Statement* row = q.next()) xs.push_back(row->column_int64(0));
  ASSERT_OK(q.status());
  EXPECT_EQ(xs, (std::vector<std::int64_t>{1, 3}));

  {
    ASSERT_OK_AND_ASSIGN(Transaction outer, db.begin());
    ASSERT_OK_AND_ASSIGN(Transaction inner, db.begin());
    ASSERT_OK(db.run("INSERT INTO t VALUES (4)"));
    ASSERT_OK(inner.commit());
    // outer is destroyed without commit: the released savepoint goes with it.
  }
  ASSERT_OK_AND_ASSIGN(auto count, db.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 2);

  {
    ASSERT_OK_AND_ASSIGN(Transaction outer, db.begin());
    ASSERT_OK_AND_ASSIGN(Transaction inner, db.begin());
    ASSERT_OK(outer.rollback());  // takes the inner one with it
    EXPECT_EQ(inner.commit().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(db.in_transaction());
    ASSERT_OK_AND_ASSIGN(Transaction next, db.begin());
    ASSERT_OK(next.commit());
  }
}

TEST_F(DbTest, HandStartedTransactionIsNotSilentlyNested) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  ASSERT_OK(db.exec("BEGIN"));
  StatusOr<Transaction> tx = db.begin();
  EXPECT_EQ(tx.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(db.exec("ROLLBACK"));
}

TEST_F(DbTest, TransactionSurvivesMovingTheDatabase) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("move.db")));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK_AND_ASSIGN(Transaction tx, db.begin());
  ASSERT_OK(db.run("INSERT INTO t VALUES (1)"));
  Database moved = std::move(db);
  Transaction moved_tx = std::move(tx);
  ASSERT_OK(moved_tx.commit());
  ASSERT_OK_AND_ASSIGN(auto count, moved.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 1);
}

TEST_F(DbTest, WriteLockHeldElsewhereIsUnavailable) {
  const std::string path = file("busy.db");
  ASSERT_OK_AND_ASSIGN(Database holder, Database::open(path));
  ASSERT_OK(holder.exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK_AND_ASSIGN(Database other, Database::open(path, OpenOptions{.busy_timeout_ms = 0}));

  ASSERT_OK_AND_ASSIGN(Transaction tx, holder.begin(TxMode::kImmediate));
  ASSERT_OK(holder.run("INSERT INTO t VALUES (1)"));

  Status write = other.run("INSERT INTO t VALUES (?)", 2);
  EXPECT_EQ(write.code(), StatusCode::kUnavailable) << write.to_string();
  EXPECT_THAT(write.message(), HasSubstr("locked"));
  StatusOr<Transaction> second = other.begin();
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(other.in_transaction());
  ASSERT_OK_AND_ASSIGN(auto visible, other.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(visible, 0) << "reads still work under a WAL write lock";

  ASSERT_OK(tx.commit());
  EXPECT_OK(other.run("INSERT INTO t VALUES (?)", 2));
}

// ---- migrations ----

std::vector<Migration> store_migrations() {
  return {
      {1, "create_items", "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL);"},
      {2, "add_qty",
       "ALTER TABLE items ADD COLUMN qty INTEGER NOT NULL DEFAULT 0;"
       "CREATE INDEX items_sku ON items (sku);"},
  };
}

TEST_F(DbTest, MigrationsApplyOnceAndAreIdempotentOnReopen) {
  const std::string path = file("migrate.db");
  FakeClock clock;
  const std::vector<Migration> migrations = store_migrations();
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK_AND_ASSIGN(int fresh, schema_version(db));
    EXPECT_EQ(fresh, 0);
    ASSERT_OK(migrate(db, migrations, clock));
    ASSERT_OK_AND_ASSIGN(int version, schema_version(db));
    EXPECT_EQ(version, 2);
    ASSERT_OK(db.run("INSERT INTO items (sku, qty) VALUES (?, ?)", "SKU-1", 4));
    ASSERT_OK(migrate(db, migrations, clock));  // again, same connection
  }
  clock.advance(std::chrono::hours(1));
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  ASSERT_OK(migrate(db, migrations, clock));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(db));
  EXPECT_EQ(version, 2);
  ASSERT_OK_AND_ASSIGN(auto qty, db.query_one<std::int64_t>("SELECT qty FROM items"));
  EXPECT_EQ(qty, 4) << "data untouched by re-running";

  Query history =
      db.query("SELECT version, name, applied_at_ms FROM schema_migrations ORDER BY version");
  std::vector<std::string> names;
  while (const Statement* row = history.next()) {
    names.push_back(row->column_text(1));
    EXPECT_EQ(row->column_int64(2), to_unix_ms(FakeClock().wall_now())) << "applied only once";
  }
  ASSERT_OK(history.status());
  EXPECT_EQ(names, (std::vector<std::string>{"create_items", "add_qty"}));

  std::vector<Migration> extended = migrations;
  extended.push_back({5, "add_picks", "CREATE TABLE picks (id INTEGER PRIMARY KEY);"});
  ASSERT_OK(migrate(db, extended, clock));
  ASSERT_OK_AND_ASSIGN(version, schema_version(db));
  EXPECT_EQ(version, 5);
  ASSERT_OK_AND_ASSIGN(auto rows,
                       db.query_one<std::int64_t>("SELECT count(*) FROM schema_migrations"));
  EXPECT_EQ(rows, 3);
}

TEST_F(DbTest, MigrationRefusesDowngrade) {
  const std::string path = file("newer.db");
  std::vector<Migration> newer = store_migrations();
  newer.push_back({3, "future", "CREATE TABLE future (x);"});
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK(migrate(db, newer));
  }
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  Status older = migrate(db, store_migrations());
  EXPECT_EQ(older.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(older.message(), HasSubstr("newer"));
  EXPECT_EQ(migrate(db, {}).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(int version, schema_version(db));
  EXPECT_EQ(version, 3);
}

TEST_F(DbTest, MigrationRefusesBadLists) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(":memory:"));
  const std::vector<Migration> unordered = {{2, "b", "CREATE TABLE b (x);"},
                                            {1, "a", "CREATE TABLE a (x);"}};
  EXPECT_EQ(migrate(db, unordered).code(), StatusCode::kFailedPrecondition);
  const std::vector<Migration> duplicate = {{1, "a", "CREATE TABLE a (x);"},
                                            {1, "b", "CREATE TABLE b (x);"}};
  EXPECT_EQ(migrate(db, duplicate).code(), StatusCode::kFailedPrecondition);
  const std::vector<Migration> zero = {{0, "a", "CREATE TABLE a (x);"}};
  EXPECT_EQ(migrate(db, zero).code(), StatusCode::kFailedPrecondition);
  const std::vector<Migration> unnamed = {{1, "", "CREATE TABLE a (x);"}};
  EXPECT_EQ(migrate(db, unnamed).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(int version, schema_version(db));
  EXPECT_EQ(version, 0) << "nothing applied from a refused list";
  ASSERT_OK_AND_ASSIGN(auto tables,
                       db.query_one<std::int64_t>("SELECT count(*) FROM sqlite_master"));
  EXPECT_EQ(tables, 0);
}

TEST_F(DbTest, MigrationRefusesRenamedOrUnknownVersions) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("names.db")));
  ASSERT_OK(migrate(db, store_migrations()));
  std::vector<Migration> renamed = store_migrations();
  renamed[1].name = "something_else";
  Status status = migrate(db, renamed);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("something_else"));

  const std::vector<Migration> gap = {store_migrations()[0], {3, "c", "CREATE TABLE c (x);"}};
  status = migrate(db, gap);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("not one of"));
}

TEST_F(DbTest, FailedMigrationLeavesTheLastGoodVersion) {
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(file("fail.db")));
  std::vector<Migration> migrations = store_migrations();
  migrations.push_back({3, "broken", "CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);"});
  Status status = migrate(db, migrations);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("migration 3 'broken'"));
  EXPECT_THAT(status.message(), HasSubstr("no such table: nowhere"));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(db));
  EXPECT_EQ(version, 2);
  ASSERT_OK_AND_ASSIGN(auto half, db.query_one<std::int64_t>(
                                      "SELECT count(*) FROM sqlite_master WHERE name = 'half'"));
  EXPECT_EQ(half, 0) << "the failed migration left nothing behind";
  EXPECT_FALSE(db.in_transaction());

  migrations.back().sql = "CREATE TABLE half (x);";
  ASSERT_OK(migrate(db, migrations));
  ASSERT_OK_AND_ASSIGN(version, schema_version(db));
  EXPECT_EQ(version, 3);
}

// ---- persistence, maintenance ----

TEST_F(DbTest, DataSurvivesCloseAndReopen) {
  const std::string path = file("persist.db");
  const std::vector<std::byte> image = bytes({1, 2, 3});
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK(db.exec(kItemsSchema));
    ASSERT_OK_AND_ASSIGN(Transaction tx, db.begin());
    for (int i = 0; i < 100; ++i) {
      ASSERT_OK(db.run("INSERT INTO items (sku, qty, image) VALUES (?, ?, ?)",
                       "SKU-" + std::to_string(i), i, image));
    }
    ASSERT_OK(tx.commit());
  }
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  ASSERT_OK_AND_ASSIGN(auto total, db.query_one<std::int64_t>("SELECT sum(qty) FROM items"));
  EXPECT_EQ(total, 4950);
  ASSERT_OK_AND_ASSIGN(auto blob, db.query_one<std::vector<std::byte>>(
                                      "SELECT image FROM items WHERE sku = ?", "SKU-7"));
  EXPECT_EQ(blob, image);
  EXPECT_OK(db.integrity_check());
}

TEST_F(DbTest, CheckpointTruncatesTheWal) {
  const std::string path = file("ckpt.db");
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  ASSERT_OK(db.exec("CREATE TABLE t (x BLOB)"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(db.run("INSERT INTO t VALUES (?)", std::vector<std::byte>(4096, std::byte{1})));
  }
  EXPECT_GT(std::filesystem::file_size(path + "-wal"), 0u);
  ASSERT_OK(db.checkpoint());
  EXPECT_EQ(std::filesystem::file_size(path + "-wal"), 0u);
  EXPECT_GT(std::filesystem::file_size(path), 20u * 4096u);
}

TEST_F(DbTest, CheckpointBlockedByAReaderIsUnavailable) {
  const std::string path = file("ckpt-busy.db");
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path, OpenOptions{.busy_timeout_ms = 0}));
  ASSERT_OK(db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"));
  ASSERT_OK_AND_ASSIGN(Database reader, Database::open(path));
  ASSERT_OK_AND_ASSIGN(Transaction read, reader.begin(TxMode::kDeferred));
  ASSERT_OK_AND_ASSIGN(auto seen, reader.query_one<std::int64_t>("SELECT count(*) FROM t"));
  EXPECT_EQ(seen, 1);  // the reader now holds a snapshot
  ASSERT_OK(db.run("INSERT INTO t VALUES (2)"));
  Status status = db.checkpoint();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  ASSERT_OK(read.commit());
  EXPECT_OK(db.checkpoint());
}

TEST_F(DbTest, IntegrityCheckReportsDamage) {
  const std::string path = file("damaged.db");
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path, OpenOptions{.wal = false}));
    ASSERT_OK(
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT);"
                "CREATE INDEX t_pad ON t (pad);"));
    ASSERT_OK_AND_ASSIGN(Transaction tx, db.begin());
    for (int i = 0; i < 500; ++i) {
      ASSERT_OK(db.run("INSERT INTO t (pad) VALUES (?)", std::string(100, 'a' + i % 26)));
    }
    ASSERT_OK(tx.commit());
    EXPECT_OK(db.integrity_check());
  }
  ASSERT_OK_AND_ASSIGN(Database probe, Database::open(path, OpenOptions{.wal = false}));
  ASSERT_OK_AND_ASSIGN(auto page_size, probe.query_one<std::int64_t>("PRAGMA page_size"));
  ASSERT_OK_AND_ASSIGN(auto pages, probe.query_one<std::int64_t>("PRAGMA page_count"));
  ASSERT_GT(*pages, 4);
  {
    // Scribble over the middle of the file, leaving the header page intact.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(*page_size * 2);
    const std::string junk(static_cast<std::size_t>(*page_size), '\x5A');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path, OpenOptions{.wal = false}));
  Status status = db.integrity_check();
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.to_string();
  EXPECT_THAT(status.message(), HasSubstr("integrity check"));
}

// ---- durability ----

// Runs in the forked child: inserts rows one autocommit transaction at a time and
// reports each id on `fd` only after its commit returned.
[[noreturn]] void insert_and_report(const std::string& path, int fd) {
  StatusOr<Database> db = Database::open(path, OpenOptions{.synchronous = Synchronous::kFull});
  if (!db.ok()) _exit(2);
  for (std::int64_t id = 1; id < 1'000'000; ++id) {
    if (!db->run("INSERT INTO acked (id, payload) VALUES (?, ?)", id, "order payload").is_ok()) {
      _exit(3);
    }
    if (write(fd, &id, sizeof id) != static_cast<ssize_t>(sizeof id)) _exit(4);
  }
  _exit(0);
}

TEST_F(DbTest, AcknowledgedCommitsSurviveSigkill) {
  const std::string path = file("durable.db");
  {
    ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
    ASSERT_OK(db.exec("CREATE TABLE acked (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"));
  }  // No connection may be open across fork().

  std::array<int, 2> fds{};
  ASSERT_EQ(pipe(fds.data()), 0) << std::strerror(errno);
  const pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    close(fds[0]);
    insert_and_report(path, fds[1]);
  }
  close(fds[1]);

  constexpr std::size_t kRowsBeforeKill = 100;
  std::vector<std::int64_t> acked;
  std::string pending;
  auto consume = [&](const char* data, std::size_t n) {
    pending.append(data, n);
    while (pending.size() >= sizeof(std::int64_t)) {
      std::int64_t id = 0;
      std::memcpy(&id, pending.data(), sizeof id);
      acked.push_back(id);
      pending.erase(0, sizeof id);
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buffer[4096];
  while (acked.size() < kRowsBeforeKill && std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // The child died on its own.
    consume(buffer, static_cast<std::size_t>(n));
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  // Ids written before the kill are still in the pipe; they were acknowledged too.
  while (true) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    consume(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited early with status "
                                        << (WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
  ASSERT_GE(acked.size(), kRowsBeforeKill) << "child did not make progress before the deadline";

  ASSERT_OK_AND_ASSIGN(Database db, Database::open(path));
  EXPECT_OK(db.integrity_check());
  std::set<std::int64_t> stored;
  Query q = db.query("SELECT id FROM acked");
  while (const Statement* row = q.next()) stored.insert(row->column_int64(0));
  ASSERT_OK(q.status());
  for (std::int64_t id : acked) EXPECT_TRUE(stored.count(id) == 1) << "lost acknowledged id " << id;
  EXPECT_GE(stored.size(), acked.size());
}

}  // namespace
}  // namespace shopeasy::db
