// See postgres_session.hpp.
#include "cloud/storage/postgres_session.hpp"

#include <poll.h>

#include <chrono>

namespace shopeasy::cloud::storage::pg {
namespace {

using std::chrono_literals::operator""s;

// How long a call waits for a pooled connection before giving up with kUnavailable.
constexpr std::chrono::seconds kAcquireTimeout = 30s;

}  // namespace

std::string trimmed(const char* message) {
  std::string out = message == nullptr ? "" : message;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

const char* reason_label(RetryReason r) {
  switch (r) {
    case RetryReason::kDeadlock:
      return "deadlock";
    case RetryReason::kSerialization:
      return "serialization";
    case RetryReason::kConnection:
      return "connection";
    case RetryReason::kNone:
      break;
  }
  return "none";
}

RetryReason retry_reason(PGconn* conn, const PGresult* result) {
  if (PQstatus(conn) == CONNECTION_BAD) return RetryReason::kConnection;
  const char* field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view state = field == nullptr ? std::string_view() : std::string_view(field);
  if (state == "40P01") return RetryReason::kDeadlock;
  if (state == "40001") return RetryReason::kSerialization;
  if (state.substr(0, 2) == "08") return RetryReason::kConnection;
  return RetryReason::kNone;
}

Status map_error(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = trimmed(result != nullptr ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  message = std::string(what) + ": " + message;
  if (PQstatus(conn) == CONNECTION_BAD) return unavailable("connection lost: " + message);
  const char* field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view state = field == nullptr ? std::string_view() : std::string_view(field);
  if (state.empty()) return internal_error(message);
  if (state.substr(0, 2) == "08") return unavailable(message);
  if (state == "40001" || state == "40P01") return unavailable(message + " (retry)");
  // Server shutting down or out of resources: another try later may well succeed.
  if (state.substr(0, 3) == "57P" || state.substr(0, 2) == "53") return unavailable(message);
  if (state == "23505") return Status(StatusCode::kAlreadyExists, message);
  if (state.substr(0, 2) == "23") return failed_precondition(message);
  if (state.substr(0, 2) == "22") return invalid_argument(message);
  return internal_error(message + " (SQLSTATE " + std::string(state) + ")");
}

bool has_pending_input(PGconn* conn) {
  pollfd p{PQsocket(conn), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable, closed, or an error
}

StatusOr<Result> Session::run(const Sql& sql, const Params& params) {
  PGconn* conn = c_.conn.get();
  if (c_.prepared.count(sql.name) == 0) {
    ++commands_;
    Result prepared(PQprepare(conn, sql.name, sql.text, 0, nullptr));
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return fail(conn, prepared.get(), std::string("prepare ") + sql.name);
    }
    c_.prepared.insert(sql.name);
  }
  ++commands_;
  std::vector<const char*> values = params.pointers();
  Result result(PQexecPrepared(conn, sql.name, params.size(), values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return fail(conn, result.get(), sql.name);
  }
  return result;
}

Status Session::exec(const char* sql, std::string_view what) {
  PGconn* conn = c_.conn.get();
  ++commands_;
  Result result(PQexec(conn, sql));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return fail(conn, result.get(), what);
  }
  return Status::ok();
}

Status Session::fail(PGconn* conn, const PGresult* result, std::string_view what) {
  if (commands_ == 1) first_failed_ = true;
  reason_ = retry_reason(conn, result);
  // Judged now: transaction() forgets its state once it has rolled back.
  may_have_committed_ = reason_ == RetryReason::kConnection && (committing_ || !in_transaction_);
  return map_error(conn, result, what);
}

void Session::rollback() {
  if (PQstatus(c_.conn.get()) != CONNECTION_OK) return;
  Result ignored(PQexec(c_.conn.get(), "ROLLBACK"));
}

StatusOr<Pool::Lease> Pool::acquire() {
  std::unique_ptr<Connection> connection;
  {
    sync::MutexLock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + kAcquireTimeout;
    bool got = true;
    while (idle_.empty() && created_ >= size_) {
      if (available_.wait_until(mutex_, deadline) == std::cv_status::timeout) {
        got = !idle_.empty() || created_ < size_;
        break;
      }
    }
    if (!got) {
      return unavailable("all " + std::to_string(size_) + " database connections stayed busy for " +
                         std::to_string(kAcquireTimeout.count()) + " s");
    }
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++created_;
      connection = std::make_unique<Connection>();
    }
  }
  bool fresh = false;
  // An idle connection has nothing to read; anything there is the server's goodbye (a
  // termination notice, end of stream), so the connection is replaced before a call
  // sends it a write whose fate it could then not tell.
  if (connection->conn && PQstatus(connection->conn.get()) == CONNECTION_OK &&
      has_pending_input(connection->conn.get())) {
    connection->conn.reset();
  }
  if (!connection->conn || PQstatus(connection->conn.get()) != CONNECTION_OK) {
    fresh = true;
    Status connected = connect(*connection);
    if (!connected.is_ok()) {
      release(std::move(connection));
      return connected;
    }
  }
  return Lease(this, std::move(connection), fresh);
}

Status Pool::connect(Connection& c) {
  c.prepared.clear();
  // Defaults first: settings in the caller's connection string override them.
  const char* keywords[] = {"connect_timeout", "client_encoding", "dbname", nullptr};
  const char* values[] = {"10", "UTF8", dsn_.c_str(), nullptr};
  c.conn.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!c.conn) return unavailable("out of memory connecting to PostgreSQL");
  if (PQstatus(c.conn.get()) != CONNECTION_OK) {
    Status status =
        unavailable("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(c.conn.get())));
    c.conn.reset();
    return status;
  }
  // Server notices ("relation already exists, skipping") are not errors; keep stderr clean.
  PQsetNoticeProcessor(
      c.conn.get(), [](void*, const char*) {}, nullptr);
  return Status::ok();
}

void Pool::release(std::unique_ptr<Connection> connection) {
  // A connection left inside a transaction (or broken) is not reused as it is.
  if (connection->conn && (PQstatus(connection->conn.get()) != CONNECTION_OK ||
                           PQtransactionStatus(connection->conn.get()) != PQTRANS_IDLE)) {
    connection->conn.reset();
  }
  {
    sync::MutexLock lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

}  // namespace shopeasy::cloud::storage::pg
