// The libpq layer under PostgresCloudStore: a pool of connections, the Session one call
// runs its statements through (each connection prepares a statement on its first use),
// typed parameters and result rows, and the classification of errors into status codes
// and retry reasons. Internal to cloud/storage; libpq stays out of its public headers.
#pragma once

#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::storage::pg {

// A statement prepared per connection under `name`.
struct Sql {
  const char* name;
  const char* text;
};

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};

struct Connection {
  std::unique_ptr<PGconn, ConnDeleter> conn;
  std::unordered_set<std::string> prepared;  // statement names prepared in this session
};

// The message without libpq's trailing newline.
std::string trimmed(const char* message);

// Why a failed call may run again.
enum class RetryReason { kNone, kDeadlock, kSerialization, kConnection };

// The label of `r` in cloud_pg_retries_total{reason}.
const char* reason_label(RetryReason r);
// Whether the failure (`result` may be null) is one a call may run again after.
RetryReason retry_reason(PGconn* conn, const PGresult* result);
// SQLSTATE classes mapped by what the caller should do next.
Status map_error(PGconn* conn, const PGresult* result, std::string_view what);
// True when the connection has something to read (or is closed).
bool has_pending_input(PGconn* conn);

// Parameters in libpq's text format.
class Params {
 public:
  Params& text(std::string_view v) {
    values_.emplace_back(v);
    return *this;
  }
  Params& int64(std::int64_t v) {
    values_.push_back(std::to_string(v));
    return *this;
  }
  Params& real(double v) {
    // Shortest text that reads back as the same double.
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    values_.emplace_back(buffer, ec == std::errc() ? end : buffer);
    return *this;
  }
  Params& boolean(bool v) {
    values_.emplace_back(v ? "t" : "f");
    return *this;
  }
  // A text[] literal: every element double-quoted, with '"' and '\' escaped.
  template <typename Range, typename Get>
  Params& text_array(const Range& range, Get get) {
    std::string out = "{";
    for (const auto& element : range) {
      if (out.size() > 1) out += ',';
      out += '"';
      for (char c : std::string_view(get(element))) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    out += '}';
    values_.push_back(std::move(out));
    return *this;
  }
  template <typename Range, typename Get>
  Params& int64_array(const Range& range, Get get) {
    std::string out = "{";
    for (const auto& element : range) {
      if (out.size() > 1) out += ',';
      out += std::to_string(get(element));
    }
    out += '}';
    values_.push_back(std::move(out));
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const std::string& v : values_) out.push_back(v.c_str());
    return out;
  }

 private:
  std::vector<std::string> values_;
};

// Typed reads of a text-format result. Columns come from our own typed schema, so a
// failed number parse cannot happen short of server corruption; it reads as 0.
class Rows {
 public:
  explicit Rows(const PGresult* result) : result_(result) {}
  int count() const { return PQntuples(result_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(result_, row, col),
                       static_cast<std::size_t>(PQgetlength(result_, row, col)));
  }
  std::int64_t int64(int row, int col) const {
    const char* v = PQgetvalue(result_, row, col);
    std::int64_t out = 0;
    std::from_chars(v, v + PQgetlength(result_, row, col), out);
    return out;
  }
  double real(int row, int col) const {
    const char* v = PQgetvalue(result_, row, col);
    double out = 0;
    std::from_chars(v, v + PQgetlength(result_, row, col), out);
    return out;
  }
  bool boolean(int row, int col) const { return PQgetvalue(result_, row, col)[0] == 't'; }

 private:
  const PGresult* result_;
};

inline const Status& status_of(const Status& s) { return s; }
template <typename T>
const Status& status_of(const StatusOr<T>& s) {
  return s.status();
}

// One call's use of one pooled connection.
class Session {
 public:
  // `resumed`: an earlier run of the same call may have committed.
  Session(Connection& connection, bool resumed) : c_(connection), resumed_(resumed) {}

  // Runs a prepared statement (preparing it on this connection first if needed).
  StatusOr<Result> run(const Sql& sql, const Params& params);

  // Runs a script through the simple query protocol (transaction control, DDL).
  Status exec(const char* sql, std::string_view what);

  // fn() between BEGIN and COMMIT; rolled back when fn fails. `begin` may add statements
  // to the BEGIN (one round trip for all).
  template <typename Fn>
  auto transaction(Fn&& fn, const char* begin = "BEGIN") -> decltype(fn()) {
    // Set before BEGIN: a BEGIN that fails cannot have committed anything either.
    in_transaction_ = true;
    SHOPEASY_RETURN_IF_ERROR(exec(begin, "begin"));
    auto result = fn();
    if (!status_of(result).is_ok()) {
      rollback();
      in_transaction_ = false;
      return result;
    }
    committing_ = true;
    SHOPEASY_RETURN_IF_ERROR(exec("COMMIT", "commit"));
    committing_ = false;
    in_transaction_ = false;
    return result;
  }

  // Why the last failed command failed, as far as running the call again goes.
  RetryReason failure_reason() const { return reason_; }
  // The connection dropped while a COMMIT or a statement outside a transaction was in
  // flight: the server may have applied it without our hearing so.
  bool may_have_committed() const { return may_have_committed_; }
  bool resumed() const { return resumed_; }

  // True when the first command this session sent failed because the connection was
  // gone: the call never reached the server and may be repeated on a new connection.
  bool lost_before_first_command() const {
    return first_failed_ && PQstatus(c_.conn.get()) == CONNECTION_BAD;
  }

 private:
  Status fail(PGconn* conn, const PGresult* result, std::string_view what);
  void rollback();

  Connection& c_;
  const bool resumed_;
  int commands_ = 0;
  bool first_failed_ = false;
  bool in_transaction_ = false;
  bool committing_ = false;
  bool may_have_committed_ = false;
  RetryReason reason_ = RetryReason::kNone;
};

class Pool {
 public:
  Pool(std::string dsn, int size) : dsn_(std::move(dsn)), size_(size) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> connection, bool fresh)
        : pool_(pool), connection_(std::move(connection)), fresh_(fresh) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) pool_->release(std::move(connection_));
    }
    Connection& operator*() const { return *connection_; }
    // Connected by this lease rather than reused from the pool.
    bool fresh() const { return fresh_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
    bool fresh_;
  };

  // A connected connection. kUnavailable when none frees up in time or the server
  // cannot be reached.
  StatusOr<Lease> acquire() EXCLUDES(mutex_);

 private:
  Status connect(Connection& c);
  void release(std::unique_ptr<Connection> connection) EXCLUDES(mutex_);

  const std::string dsn_;
  const int size_;
  // Guards the idle connections and the count of those made: every request thread
  // leases from the pool.
  sync::Mutex mutex_;
  sync::CondVar available_;
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mutex_);
  int created_ GUARDED_BY(mutex_) = 0;
};

}  // namespace shopeasy::cloud::storage::pg
