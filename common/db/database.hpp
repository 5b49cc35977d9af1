// SQLite access for the whole project. A Database is one connection to one SQLite file,
// opened in WAL mode with foreign keys enforced. Statement is a prepared statement; the
// Database keeps a cache of them keyed by SQL text, lent out as CachedStatement and used
// by the run()/query()/query_one() helpers. Transaction is an RAII BEGIN ... COMMIT that
// rolls back unless committed and nests as SAVEPOINTs.
//
// Errors: SQLite result codes become Status codes by what the caller should do next.
// SQLITE_BUSY/LOCKED/FULL/IOERR/CANTOPEN -> kUnavailable (retry with backoff);
// UNIQUE/PRIMARY KEY collisions -> kAlreadyExists; CHECK/FOREIGN KEY/NOT NULL violations
// and trigger RAISE(ABORT) -> kFailedPrecondition; writing a read-only database ->
// kFailedPrecondition; too-big values -> kPayloadTooLarge; datatype mismatch ->
// kInvalidArgument; corruption, not-a-database, bad SQL and API misuse -> kInternal.
// Messages carry SQLite's own message and the first 80 characters of the SQL.
//
// Thread-safety: connections are opened with SQLITE_OPEN_NOMUTEX, so a Database and
// everything obtained from it (statements, queries, transactions) must be used by one
// thread at a time. Give each thread its own Database (WAL lets many readers and one
// writer proceed across connections) or guard a shared one with a mutex.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status/status.hpp"

struct sqlite3_stmt;

namespace shopeasy::db {

// How hard SQLite syncs to disk on commit. In WAL mode kFull fsyncs the log on every
// commit, so an acknowledged commit survives power loss; kNormal fsyncs only at
// checkpoints, so the last commits may be lost on power loss (never on a process crash)
// but the database is never corrupted.
enum class Synchronous { kNormal, kFull };

struct OpenOptions {
  // Opens with SQLITE_OPEN_READONLY; writes fail with kFailedPrecondition.
  bool read_only = false;
  // Creates the file if missing (ignored when read_only).
  bool create = true;
  // How long a statement waits for another connection's lock before kUnavailable.
  int busy_timeout_ms = 5000;
  Synchronous synchronous = Synchronous::kFull;
  // Switches the file to WAL journaling (persistent; skipped for read-only and in-memory
  // databases). When false the journal mode stored in the file is left as it is (new
  // files use a rollback journal).
  bool wal = true;
  // Page cache size in KiB; SQLite's default (2 MiB) when unset.
  std::optional<int> cache_size_kib = std::nullopt;
  // Bytes of the file to memory-map; SQLite's default (0, off) when unset.
  std::optional<std::int64_t> mmap_size = std::nullopt;
  // Idle prepared statements kept per connection; beyond it returned ones are finalized.
  std::size_t statement_cache_capacity = 64;
};

// BEGIN DEFERRED / IMMEDIATE / EXCLUSIVE. kImmediate takes the write lock up front, so a
// write transaction cannot fail half-way because another connection started writing.
enum class TxMode { kDeferred, kImmediate, kExclusive };

namespace detail {
struct Connection;
template <typename T>
inline constexpr bool kIsOptional = false;
template <typename T>
inline constexpr bool kIsOptional<std::optional<T>> = true;
template <typename T>
inline constexpr bool kDependentFalse = false;
// Integers bind as INTEGER; character types are excluded so a stray char is not
// silently stored as its code point.
template <typename T>
concept SqlInteger =
    std::integral<T> && !std::same_as<T, char> && !std::same_as<T, wchar_t> &&
    !std::same_as<T, char8_t> && !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;
}  // namespace detail

// A prepared statement (RAII, move-only). Parameters are 1-based as in SQLite, columns
// 0-based. Values are copied when bound, so arguments need not outlive the bind call.
// Column accessors read the current row (after step() returned true) and follow SQLite's
// conversion rules; an out-of-range column index reads as NULL.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;
  ~Statement() = default;

  // Bind one parameter. Errors: kInternal for an index outside 1..parameter_count(),
  // kPayloadTooLarge beyond SQLite's length limit, kInvalidArgument for an unsigned value
  // above INT64_MAX. bool binds as 0/1; nullptr, std::nullopt and empty optionals as NULL;
  // an empty string or blob binds as an empty value, not NULL.
  template <detail::SqlInteger T>
  Status bind(int index, T value) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (value > static_cast<T>(std::numeric_limits<std::int64_t>::max())) {
        return invalid_argument("integer parameter " + std::to_string(index) +
                                " does not fit in a signed 64-bit SQLite INTEGER");
      }
    }
    return bind_int64(index, static_cast<std::int64_t>(value));
  }
  Status bind(int index, double value);
  Status bind(int index, std::string_view value);
  Status bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  // A null `const char*` binds NULL.
  Status bind(int index, const char* value);
  Status bind(int index, std::nullptr_t);
  Status bind(int index, std::nullopt_t) { return bind(index, nullptr); }
  Status bind(int index, std::span<const std::byte> blob);
  Status bind(int index, const std::vector<std::byte>& blob) {
    return bind(index, std::span<const std::byte>(blob));
  }
  template <typename T>
  Status bind(int index, const std::optional<T>& value) {
    return value.has_value() ? bind(index, *value) : bind(index, nullptr);
  }

  // Binds args to parameters 1..N in order, stopping at the first error. Errors as bind(),
  // plus kInternal if N differs from parameter_count() (unbound parameters would be NULL).
  template <typename... Args>
  Status bind_all(const Args&... args) {
    if (parameter_count() != static_cast<int>(sizeof...(Args))) {
      return parameter_count_mismatch(static_cast<int>(sizeof...(Args)));
    }
    [[maybe_unused]] int index = 1;
    Status status;
    [[maybe_unused]] const bool all_bound = ((status = bind(index++, args)).is_ok() && ...);
    return status;
  }

  // Sets every parameter back to NULL.
  void clear_bindings();

  // Runs the statement to its next row: true = a row is available, false = done.
  // Errors per the table in the header comment; after an error call reset() before reuse.
  [[nodiscard]] StatusOr<bool> step();
  // Steps until done, discarding any rows (for INSERT/UPDATE/DELETE/DDL/PRAGMA).
  Status execute();
  // Rewinds so the statement can run again; bindings are kept. Any error of the last
  // step() was already returned by it, so nothing is reported here.
  void reset();

  int parameter_count() const;
  int column_count() const;
  // Column name as written in the SQL (or its AS alias); empty when out of range.
  std::string column_name(int i) const;
  bool column_is_null(int i) const;
  std::int64_t column_int64(int i) const;
  double column_double(int i) const;
  // NULL reads as "". Text may contain NUL bytes.
  std::string column_text(int i) const;
  // NULL and empty blobs read as an empty vector; use column_is_null to tell them apart.
  std::vector<std::byte> column_blob(int i) const;

  // Typed read: std::int64_t and other integers, bool, double, std::string,
  // std::vector<std::byte>, or std::optional<any of those> (nullopt for NULL).
  template <typename T>
  T column(int i) const {
    if constexpr (detail::kIsOptional<T>) {
      if (column_is_null(i)) return std::nullopt;
      return column<typename T::value_type>(i);
    } else if constexpr (std::is_same_v<T, bool>) {
      return column_int64(i) != 0;
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(column_int64(i));
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(column_double(i));
    } else if constexpr (std::is_same_v<T, std::string>) {
      return column_text(i);
    } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
      return column_blob(i);
    } else {
      static_assert(detail::kDependentFalse<T>, "unsupported column type");
    }
  }

  // The SQL text the statement was prepared from.
  std::string_view sql() const;

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Status bind_int64(int index, std::int64_t value);
  Status parameter_count_mismatch(int given) const;

  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

namespace detail {
struct SqlHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view sql) const noexcept {
    return std::hash<std::string_view>{}(sql);
  }
};
using StatementCache = std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>>;
}  // namespace detail

// A statement borrowed from its Database's cache (move-only). While borrowed it is out of
// the cache, so borrowing the same SQL again (e.g. a nested query) prepares a second
// statement instead of disturbing this one. Destruction resets it, clears its bindings
// and returns it to the cache. Must be destroyed before its Database (moving the
// Database is fine).
class CachedStatement {
 public:
  CachedStatement(CachedStatement&& other) noexcept;
  CachedStatement& operator=(CachedStatement&& other) noexcept;
  ~CachedStatement();

  Statement& operator*() const { return node_.mapped(); }
  Statement* operator->() const { return &node_.mapped(); }

 private:
  friend class Database;
  CachedStatement(detail::Connection* owner, detail::StatementCache::node_type node);
  void give_back() noexcept;

  detail::Connection* owner_ = nullptr;
  detail::StatementCache::node_type node_;
};

// Iterates the rows of a query started by Database::query():
//   auto q = db.query("SELECT id, name FROM sku WHERE qty > ?", 0);
//   while (auto row = q.next()) use(row->column_int64(0), row->column_text(1));
//   SHOPEASY_RETURN_IF_ERROR(q.status());
// Errors (prepare, bind or step) end the iteration and are reported by status(), which
// the caller must check after the loop. Must be destroyed before its Database.
class [[nodiscard]] Query {
 public:
  Query(Query&&) noexcept = default;
  Query& operator=(Query&&) noexcept = default;
  ~Query() = default;

  // The next row, or nullptr once the rows are exhausted or an error occurred. The
  // pointer is valid until the next call or the Query's destruction.
  const Statement* next();
  // OK unless preparing, binding or stepping failed.
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  friend class Database;
  explicit Query(Status error) : status_(std::move(error)), done_(true) {}
  explicit Query(CachedStatement stmt) : stmt_(std::move(stmt)) {}

  std::optional<CachedStatement> stmt_;
  Status status_;
  bool done_ = false;
};

// An open transaction (RAII, move-only). The outermost one is BEGIN ... COMMIT; one begun
// while another is open on the same Database is a SAVEPOINT that commits into its parent
// (RELEASE) or rolls back alone. Destruction rolls back unless committed. Must be
// destroyed before its Database. Do not issue BEGIN/COMMIT/ROLLBACK through exec() while
// Transactions are in use.
class [[nodiscard]] Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  // Commits (outermost) or releases into the parent (nested). Errors: kFailedPrecondition
  // if already ended or a nested transaction is still open; kUnavailable if SQLite rolled
  // the transaction back after an earlier error (redo the whole unit of work) or the
  // commit hit a lock (the transaction stays open: retry commit() or let it roll back).
  Status commit();
  // Rolls back now instead of at destruction. Errors: kFailedPrecondition if already ended.
  Status rollback();
  // True until commit() succeeds or the transaction is rolled back.
  bool is_open() const { return conn_ != nullptr; }
  // True for a SAVEPOINT inside another Transaction.
  bool is_nested() const { return level_ > 0; }

 private:
  friend class Database;
  Transaction(detail::Connection* conn, std::uint64_t serial, std::size_t level)
      : conn_(conn), serial_(serial), level_(level) {}
  // False once an enclosing transaction ended (and took this one with it).
  bool still_on_stack() const;

  detail::Connection* conn_;
  std::uint64_t serial_;
  std::size_t level_;
};

// One SQLite connection (RAII, move-only; moving keeps borrowed statements, queries and
// transactions valid). A moved-from Database may only be destroyed or assigned to.
// Not thread-safe: see the header comment.
class Database {
 public:
  // Opens (and by default creates) the file at `path`, or an in-memory database for
  // ":memory:". Applies busy timeout, synchronous mode, WAL, foreign_keys=ON and the
  // cache/mmap sizes. Errors: kInvalidArgument for bad options (field names the option),
  // kUnavailable with the path and SQLite's message when the file cannot be opened,
  // kInternal if the file is not a database, kFailedPrecondition if WAL cannot be enabled.
  static StatusOr<Database> open(const std::string& path, const OpenOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  ~Database();

  // Runs a script of zero or more ';'-separated statements, stopping at the first error.
  // Statements before the failing one stay applied unless inside a Transaction.
  Status exec(std::string_view sql);

  // Prepares exactly one statement, owned by the caller and not cached. Errors: kInternal
  // for invalid SQL, for empty SQL and for more than one statement.
  StatusOr<Statement> prepare(std::string_view sql);

  // Borrows the cached statement for `sql`, preparing it on first use. Handed out reset,
  // with every parameter NULL. Errors as prepare().
  StatusOr<CachedStatement> cached(std::string_view sql);

  // Runs one statement with `args` bound to its parameters, to completion.
  // Example: db.run("UPDATE stock SET qty = qty - ? WHERE sku = ?", 2, "SKU-1").
  template <typename... Args>
  Status run(std::string_view sql, const Args&... args) {
    StatusOr<CachedStatement> stmt = cached(sql);
    if (!stmt.ok()) return stmt.status();
    SHOPEASY_RETURN_IF_ERROR((*stmt)->bind_all(args...));
    return (*stmt)->execute();
  }

  // Starts a query over a cached statement; see Query for the iteration pattern.
  template <typename... Args>
  Query query(std::string_view sql, const Args&... args) {
    StatusOr<CachedStatement> stmt = cached(sql);
    if (!stmt.ok()) return Query(stmt.status());
    Status bound = (*stmt)->bind_all(args...);
    if (!bound.is_ok()) return Query(std::move(bound));
    return Query(std::move(stmt).value());
  }

  // Column 0 of the first row read as T (see Statement::column), or nullopt when there is
  // no row or the value is NULL. Further rows are ignored.
  // Example: db.query_one<std::int64_t>("SELECT qty FROM stock WHERE sku = ?", sku).
  template <typename T, typename... Args>
  StatusOr<std::optional<T>> query_one(std::string_view sql, const Args&... args) {
    Query q = query(sql, args...);
    const Statement* row = q.next();
    if (row == nullptr) {
      if (!q.status().is_ok()) return q.status();
      return std::optional<T>();
    }
    if (row->column_is_null(0)) return std::optional<T>();
    return std::optional<T>(row->column<T>(0));
  }

  // Opens a Transaction (a SAVEPOINT if one is already open; `mode` then has no effect).
  // Errors: kUnavailable when the lock is held elsewhere beyond the busy timeout or an
  // enclosing transaction was rolled back by SQLite; kFailedPrecondition if a transaction
  // was started by hand through exec().
  StatusOr<Transaction> begin(TxMode mode = TxMode::kImmediate);

  // Rowid of the most recent successful INSERT on this connection (0 if none).
  std::int64_t last_insert_rowid() const;
  // Rows changed by the most recent INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const;
  // True while a transaction is open on this connection.
  bool in_transaction() const;
  // The path given to open().
  const std::string& path() const;

  // Copies the WAL into the database file and truncates the WAL
  // (wal_checkpoint(TRUNCATE)). A no-op outside WAL mode. Errors: kUnavailable when
  // readers or a writer on other connections keep it from completing.
  Status checkpoint();
  // Runs PRAGMA integrity_check. Errors: kInternal naming the first problems found.
  Status integrity_check();

  // Idle statements in the cache (borrowed ones are not counted).
  std::size_t cached_statement_count() const;
  // Finalizes the idle cached statements; borrowed ones are unaffected.
  void clear_statement_cache();

 private:
  explicit Database(std::unique_ptr<detail::Connection> conn);

  std::unique_ptr<detail::Connection> conn_;
};

}  // namespace shopeasy::db
