#include "common/db/database.hpp"

#include <sqlite3.h>

#include <climits>
#include <string>
#include <utility>

#include "common/db/sqlite_error.hpp"

namespace shopeasy::db {

namespace detail {

// Everything a Database owns lives here, on the heap, so that moving a Database does not
// move the state that borrowed statements and open transactions point at.
struct Connection {
  struct Closer {
    // close_v2 turns the connection into a zombie until any statement that escaped it
    // (a Statement the caller still holds) is finalized, instead of failing.
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> handle;  // Declared first: destroyed after the cache.
  std::string path;
  std::size_t cache_capacity = 0;
  StatementCache cache;
  std::vector<std::uint64_t> tx_stack;  // Serials of the open Transactions, outermost first.
  std::uint64_t next_tx_serial = 1;
};

StatusCode status_code_for_sqlite(int result_code) {
  switch (result_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return StatusCode::kAlreadyExists;
#ifdef SQLITE_CONSTRAINT_DATATYPE
    case SQLITE_CONSTRAINT_DATATYPE:  // A STRICT table got a value of the wrong type.
      return StatusCode::kInvalidArgument;
#endif
    default:
      break;
  }
  switch (result_code & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return StatusCode::kOk;
    // Locks held elsewhere, the disk, the OS or memory: the same call may work later.
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_SCHEMA:
    case SQLITE_NOLFS:
    case SQLITE_PERM:
    case SQLITE_ABORT:
    case SQLITE_INTERRUPT:
      return StatusCode::kUnavailable;
    // CHECK, FOREIGN KEY, NOT NULL and trigger aborts: the data must change first.
    case SQLITE_CONSTRAINT:
    case SQLITE_READONLY:
      return StatusCode::kFailedPrecondition;
    case SQLITE_TOOBIG:
      return StatusCode::kPayloadTooLarge;
    case SQLITE_MISMATCH:
      return StatusCode::kInvalidArgument;
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    // SQLITE_ERROR (bad SQL), CORRUPT, NOTADB, MISUSE, RANGE, INTERNAL, FORMAT: SQL is
    // written by us and files are ours, so these are bugs or damage for a person to see.
    default:
      return StatusCode::kInternal;
  }
}

std::string sql_excerpt(std::string_view sql) {
  constexpr std::size_t kMaxChars = 80;
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n' || sql.front() == '\r' ||
                          sql.front() == '\t')) {
    sql.remove_prefix(1);
  }
  std::size_t cut = sql.size();
  if (cut > kMaxChars) {
    cut = kMaxChars;
    // Never split a UTF-8 sequence: messages end up in JSON logs and responses.
    while (cut > 0 && (static_cast<unsigned char>(sql[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out(sql.substr(0, cut));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (cut < sql.size()) out += "...";
  return out;
}

}  // namespace detail

namespace {

using detail::Connection;

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Builds the Status for a failed SQLite call. `db`'s message is used only when it is
// about this failure; otherwise SQLite's generic text for the code.
Status sqlite_error(sqlite3* db, int rc, std::string_view action, std::string_view sql) {
  std::string message(action);
  if (!sql.empty()) {
    message += " \"";
    message += detail::sql_excerpt(sql);
    message += '"';
  }
  message += ": ";
  const bool db_message_fits = db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff);
  message += db_message_fits ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (sqlite " + std::to_string(rc) + ")";
  return Status(detail::status_code_for_sqlite(rc), std::move(message));
}

Status too_long(std::string_view sql) {
  return Status(StatusCode::kPayloadTooLarge,
                "SQL text \"" + detail::sql_excerpt(sql) + "\" is longer than SQLite accepts");
}

bool only_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n;") == std::string_view::npos;
}

// True if `rest` (what followed the first statement) holds another statement rather than
// only separators and comments. Whatever SQLite cannot even parse counts as a statement.
bool has_another_statement(sqlite3* db, std::string_view rest) {
  if (only_blank(rest)) return false;
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, rest.data(), static_cast<int>(rest.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  return rc != SQLITE_OK || stmt != nullptr;
}

StatusOr<StmtPtr> prepare_one(sqlite3* db, std::string_view sql, unsigned int flags) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return too_long(sql);
  if (only_blank(sql))
    return internal_error("prepare: no SQL statement in \"" + detail::sql_excerpt(sql) + "\"");
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, &tail);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "prepare", sql);
  if (stmt == nullptr) {
    return internal_error("prepare: no SQL statement in \"" + detail::sql_excerpt(sql) + "\"");
  }
  const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  // A second statement would be silently ignored by step(), losing a write.
  if (has_another_statement(db, rest)) {
    return internal_error("prepare \"" + detail::sql_excerpt(sql) +
                          "\": more than one statement; use exec() for scripts");
  }
  return stmt;
}

Status exec_script(sqlite3* db, std::string_view script) {
  if (script.size() > static_cast<std::size_t>(INT_MAX)) return too_long(script);
  const char* pos = script.data();
  const char* const end = script.data() + script.size();
  while (pos < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db, pos, static_cast<int>(end - pos), &raw, &tail);
    StmtPtr stmt(raw);
    const std::string_view remaining(pos, static_cast<std::size_t>(end - pos));
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "prepare", remaining);
    if (stmt == nullptr) break;  // Only whitespace and comments were left.
    int step_rc = SQLITE_ROW;
    while (step_rc == SQLITE_ROW) step_rc = sqlite3_step(stmt.get());
    if (step_rc != SQLITE_DONE) {
      return sqlite_error(db, step_rc, "step",
                          std::string_view(pos, static_cast<std::size_t>(tail - pos)));
    }
    if (tail == nullptr || tail <= pos) break;
    pos = tail;
  }
  return Status::ok();
}

StatusOr<std::string> query_text(sqlite3* db, std::string_view sql) {
  StatusOr<StmtPtr> stmt = prepare_one(db, sql, 0);
  if (!stmt.ok()) return stmt.status();
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return sqlite_error(db, rc, "step", sql);
  const unsigned char* text = sqlite3_column_text(stmt->get(), 0);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

bool in_memory(sqlite3* db) {
  const char* file = sqlite3_db_filename(db, "main");
  return file == nullptr || file[0] == '\0';
}

Status configure(sqlite3* db, const OpenOptions& options) {
  // Reading the header first makes a file that is not a database fail at open, not at
  // some later first query.
  SHOPEASY_RETURN_IF_ERROR(exec_script(db, "PRAGMA schema_version"));
  SHOPEASY_RETURN_IF_ERROR(exec_script(db, options.synchronous == Synchronous::kFull
                                               ? "PRAGMA synchronous = FULL"
                                               : "PRAGMA synchronous = NORMAL"));
  SHOPEASY_RETURN_IF_ERROR(exec_script(db, "PRAGMA foreign_keys = ON"));
  if (options.cache_size_kib.has_value()) {
    // A negative cache_size is a size in KiB rather than in pages.
    SHOPEASY_RETURN_IF_ERROR(
        exec_script(db, "PRAGMA cache_size = -" + std::to_string(*options.cache_size_kib)));
  }
  if (options.mmap_size.has_value()) {
    SHOPEASY_RETURN_IF_ERROR(
        exec_script(db, "PRAGMA mmap_size = " + std::to_string(*options.mmap_size)));
  }
  if (options.wal && !options.read_only && !in_memory(db)) {
    StatusOr<std::string> mode = query_text(db, "PRAGMA journal_mode = WAL");
    if (!mode.ok()) return mode.status();
    // SQLite reports the mode it ended up in instead of failing.
    if (*mode != "wal") {
      return failed_precondition("could not switch to WAL journaling (journal_mode is '" + *mode +
                                 "')");
    }
  }
  return Status::ok();
}

std::string savepoint_name(std::size_t level) { return "shopeasy_sp_" + std::to_string(level); }

}  // namespace

// ---- Statement ----

void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

namespace {
Status bind_result(sqlite3_stmt* stmt, int rc, int index) {
  if (rc == SQLITE_OK) return Status::ok();
  const char* sql = sqlite3_sql(stmt);
  return sqlite_error(sqlite3_db_handle(stmt), rc,
                      "bind parameter " + std::to_string(index) + " of",
                      sql == nullptr ? std::string_view() : std::string_view(sql));
}
}  // namespace

Status Statement::bind_int64(int index, std::int64_t value) {
  return bind_result(stmt_.get(), sqlite3_bind_int64(stmt_.get(), index, value), index);
}

Status Statement::bind(int index, double value) {
  return bind_result(stmt_.get(), sqlite3_bind_double(stmt_.get(), index, value), index);
}

Status Statement::bind(int index, std::string_view value) {
  // SQLite binds NULL for a null pointer, but an empty string_view is an empty string.
  const char* data = value.data() != nullptr ? value.data() : "";
  return bind_result(
      stmt_.get(),
      sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

Status Statement::bind(int index, const char* value) {
  if (value == nullptr) return bind(index, nullptr);
  return bind(index, std::string_view(value));
}

Status Statement::bind(int index, std::nullptr_t) {
  return bind_result(stmt_.get(), sqlite3_bind_null(stmt_.get(), index), index);
}

Status Statement::bind(int index, std::span<const std::byte> blob) {
  // A null data pointer would bind NULL; an empty blob must stay an empty blob.
  if (blob.empty()) {
    return bind_result(stmt_.get(), sqlite3_bind_zeroblob(stmt_.get(), index, 0), index);
  }
  return bind_result(
      stmt_.get(),
      sqlite3_bind_blob64(stmt_.get(), index, blob.data(), blob.size(), SQLITE_TRANSIENT), index);
}

Status Statement::parameter_count_mismatch(int given) const {
  return internal_error("statement \"" + detail::sql_excerpt(sql()) + "\" has " +
                        std::to_string(parameter_count()) + " parameter(s) but " +
                        std::to_string(given) + " value(s) were given");
}

void Statement::clear_bindings() { sqlite3_clear_bindings(stmt_.get()); }

StatusOr<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(stmt_.get()), rc, "step", sql());
}

Status Statement::execute() {
  Status status;
  while (true) {
    StatusOr<bool> row = step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
  }
  // Resetting at once ends the statement's implicit read transaction and readies reuse.
  reset();
  return status;
}

void Statement::reset() { sqlite3_reset(stmt_.get()); }

int Statement::parameter_count() const { return sqlite3_bind_parameter_count(stmt_.get()); }

int Statement::column_count() const { return sqlite3_column_count(stmt_.get()); }

std::string Statement::column_name(int i) const {
  if (i < 0 || i >= column_count()) return {};
  const char* name = sqlite3_column_name(stmt_.get(), i);
  return name == nullptr ? std::string() : std::string(name);
}

bool Statement::column_is_null(int i) const {
  if (i < 0 || i >= column_count()) return true;
  return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int i) const {
  if (i < 0 || i >= column_count()) return 0;
  return sqlite3_column_int64(stmt_.get(), i);
}

double Statement::column_double(int i) const {
  if (i < 0 || i >= column_count()) return 0.0;
  return sqlite3_column_double(stmt_.get(), i);
}

std::string Statement::column_text(int i) const {
  if (i < 0 || i >= column_count()) return {};
  // column_text must come before column_bytes so the length is of the UTF-8 form.
  const unsigned char* text = sqlite3_column_text(stmt_.get(), i);
  const int size = sqlite3_column_bytes(stmt_.get(), i);
  if (text == nullptr || size <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::vector<std::byte> Statement::column_blob(int i) const {
  if (i < 0 || i >= column_count()) return {};
  const void* data = sqlite3_column_blob(stmt_.get(), i);
  const int size = sqlite3_column_bytes(stmt_.get(), i);
  if (data == nullptr || size <= 0) return {};
  const auto* bytes = static_cast<const std::byte*>(data);
  return std::vector<std::byte>(bytes, bytes + size);
}

std::string_view Statement::sql() const {
  const char* text = stmt_ ? sqlite3_sql(stmt_.get()) : nullptr;
  return text == nullptr ? std::string_view() : std::string_view(text);
}

// ---- CachedStatement ----

CachedStatement::CachedStatement(detail::Connection* owner, detail::StatementCache::node_type node)
    : owner_(owner), node_(std::move(node)) {}

CachedStatement::CachedStatement(CachedStatement&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), node_(std::move(other.node_)) {}

CachedStatement& CachedStatement::operator=(CachedStatement&& other) noexcept {
  if (this != &other) {
    give_back();
    owner_ = std::exchange(other.owner_, nullptr);
    node_ = std::move(other.node_);
  }
  return *this;
}

CachedStatement::~CachedStatement() { give_back(); }

void CachedStatement::give_back() noexcept {
  if (owner_ != nullptr && !node_.empty()) {
    Statement& stmt = node_.mapped();
    stmt.reset();
    // Also drops copies of large bound values while the statement sits idle.
    stmt.clear_bindings();
    if (owner_->cache.size() < owner_->cache_capacity) {
      try {
        // If another borrower already returned a statement for this SQL, the insert is
        // refused and the node, left in the result, is finalized with it.
        owner_->cache.insert(std::move(node_));
      } catch (...) {
        // Out of memory growing the table: dropping the statement is harmless.
      }
    }
  }
  owner_ = nullptr;
  node_ = detail::StatementCache::node_type();
}

// ---- Query ----

const Statement* Query::next() {
  if (done_ || !stmt_.has_value()) return nullptr;
  Statement& stmt = **stmt_;
  StatusOr<bool> row = stmt.step();
  if (row.ok() && *row) return &stmt;
  if (!row.ok()) status_ = row.status();
  done_ = true;
  // Hand the statement back now: it ends the read transaction and frees it for reuse.
  stmt_.reset();
  return nullptr;
}

// ---- Transaction ----

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), serial_(other.serial_), level_(other.level_) {}

Transaction::~Transaction() {
  if (conn_ != nullptr) (void)rollback();
}

bool Transaction::still_on_stack() const {
  return level_ < conn_->tx_stack.size() && conn_->tx_stack[level_] == serial_;
}

Status Transaction::commit() {
  if (conn_ == nullptr) return failed_precondition("transaction already ended");
  if (!still_on_stack()) {
    conn_ = nullptr;
    return failed_precondition("transaction was rolled back with an enclosing transaction");
  }
  std::vector<std::uint64_t>& stack = conn_->tx_stack;
  if (level_ + 1 != stack.size()) {
    return failed_precondition("cannot commit while a nested transaction is open");
  }
  sqlite3* db = conn_->handle.get();
  if (sqlite3_get_autocommit(db) != 0) {
    // SQLite rolls back by itself on some errors (disk full, I/O, out of memory).
    stack.resize(level_);
    conn_ = nullptr;
    return unavailable("transaction was rolled back by SQLite after an earlier error; redo it");
  }
  Status status =
      exec_script(db, level_ == 0 ? std::string("COMMIT") : "RELEASE " + savepoint_name(level_));
  // A failed COMMIT either leaves the transaction open (busy: may be retried) or SQLite has
  // already rolled it back; only in the first case is it still ours to end.
  if (status.is_ok() || sqlite3_get_autocommit(db) != 0) {
    stack.resize(level_);
    conn_ = nullptr;
  }
  return status;
}

Status Transaction::rollback() {
  if (conn_ == nullptr) return failed_precondition("transaction already ended");
  const bool on_stack = still_on_stack();
  Connection* conn = std::exchange(conn_, nullptr);
  if (!on_stack) return Status::ok();  // An enclosing rollback already undid it.
  sqlite3* db = conn->handle.get();
  Status status;
  if (sqlite3_get_autocommit(db) == 0) {
    if (level_ == 0) {
      status = exec_script(db, "ROLLBACK");
    } else {
      // ROLLBACK TO keeps the savepoint open; RELEASE then removes it.
      const std::string name = savepoint_name(level_);
      status = exec_script(db, "ROLLBACK TO " + name + "; RELEASE " + name);
    }
  }
  conn->tx_stack.resize(level_);
  return status;
}

// ---- Database ----

Database::Database(std::unique_ptr<detail::Connection> conn) : conn_(std::move(conn)) {}
Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

StatusOr<Database> Database::open(const std::string& path, const OpenOptions& options) {
  if (options.busy_timeout_ms < 0) {
    return invalid_argument("busy_timeout_ms must not be negative", "busy_timeout_ms");
  }
  if (options.cache_size_kib.has_value() && *options.cache_size_kib <= 0) {
    return invalid_argument("cache_size_kib must be positive", "cache_size_kib");
  }
  if (options.mmap_size.has_value() && *options.mmap_size < 0) {
    return invalid_argument("mmap_size must not be negative", "mmap_size");
  }
  // NOMUTEX: one thread per connection at a time is the documented contract, so
  // SQLite's per-call connection mutex would only cost time.
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  auto conn = std::make_unique<detail::Connection>();
  conn->handle.reset(raw);  // Even a failed open allocates a handle that must be closed.
  conn->path = path;
  conn->cache_capacity = options.statement_cache_capacity;
  if (rc != SQLITE_OK) {
    return unavailable("cannot open database '" + path +
                       "': " + (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                       " (sqlite " + std::to_string(rc) + ")");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  Status configured = configure(raw, options);
  if (!configured.is_ok()) {
    return Status(configured.code(), "open '" + path + "': " + configured.message());
  }
  return Database(std::move(conn));
}

Status Database::exec(std::string_view sql) { return exec_script(conn_->handle.get(), sql); }

StatusOr<Statement> Database::prepare(std::string_view sql) {
  StatusOr<StmtPtr> stmt = prepare_one(conn_->handle.get(), sql, 0);
  if (!stmt.ok()) return stmt.status();
  return Statement(stmt->release());
}

StatusOr<CachedStatement> Database::cached(std::string_view sql) {
  detail::StatementCache& cache = conn_->cache;
  if (auto it = cache.find(sql); it != cache.end()) {
    return CachedStatement(conn_.get(), cache.extract(it));
  }
  // PERSISTENT tells SQLite the statement will be reused many times.
  StatusOr<StmtPtr> stmt = prepare_one(conn_->handle.get(), sql, SQLITE_PREPARE_PERSISTENT);
  if (!stmt.ok()) return stmt.status();
  // Going through the cache's own emplace is the simplest way to get a node to lend out.
  auto [it, inserted] = cache.emplace(std::string(sql), Statement(stmt->release()));
  (void)inserted;
  return CachedStatement(conn_.get(), cache.extract(it));
}

StatusOr<Transaction> Database::begin(TxMode mode) {
  sqlite3* db = conn_->handle.get();
  std::vector<std::uint64_t>& stack = conn_->tx_stack;
  const std::size_t level = stack.size();
  if (level == 0) {
    if (sqlite3_get_autocommit(db) == 0) {
      return failed_precondition("a transaction started outside Transaction is open");
    }
    const char* sql = mode == TxMode::kDeferred    ? "BEGIN DEFERRED"
                      : mode == TxMode::kImmediate ? "BEGIN IMMEDIATE"
                                                   : "BEGIN EXCLUSIVE";
    SHOPEASY_RETURN_IF_ERROR(exec_script(db, sql));
  } else {
    if (sqlite3_get_autocommit(db) != 0) {
      return unavailable(
          "enclosing transaction was rolled back by SQLite after an earlier error; redo it");
    }
    SHOPEASY_RETURN_IF_ERROR(exec_script(db, "SAVEPOINT " + savepoint_name(level)));
  }
  const std::uint64_t serial = conn_->next_tx_serial++;
  stack.push_back(serial);
  return Transaction(conn_.get(), serial, level);
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(conn_->handle.get());
}

std::int64_t Database::changes() const {
#if SQLITE_VERSION_NUMBER >= 3037000
  return sqlite3_changes64(conn_->handle.get());
#else
  return sqlite3_changes(conn_->handle.get());
#endif
}

bool Database::in_transaction() const { return sqlite3_get_autocommit(conn_->handle.get()) == 0; }

const std::string& Database::path() const { return conn_->path; }

Status Database::checkpoint() {
  sqlite3* db = conn_->handle.get();
  const int rc =
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "wal_checkpoint(TRUNCATE)", {});
  return Status::ok();
}

Status Database::integrity_check() {
  constexpr int kMaxReported = 5;
  Query q = query("PRAGMA integrity_check");
  std::string problems;
  int count = 0;
  while (const Statement* row = q.next()) {
    std::string line = row->column_text(0);
    if (line == "ok") continue;
    if (count < kMaxReported) {
      if (!problems.empty()) problems += "; ";
      problems += line;
    }
    ++count;
  }
  if (!q.status().is_ok()) {
    return Status(q.status().code(), "integrity check: " + q.status().message());
  }
  if (count > 0) {
    return internal_error("integrity check found " + std::to_string(count) +
                          " problem(s): " + problems + (count > kMaxReported ? "; ..." : ""));
  }
  return Status::ok();
}

std::size_t Database::cached_statement_count() const { return conn_->cache.size(); }

void Database::clear_statement_cache() { conn_->cache.clear(); }

}  // namespace shopeasy::db
