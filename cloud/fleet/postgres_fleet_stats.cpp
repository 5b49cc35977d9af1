// FleetStats on PostgreSQL: one connection of its own (libpq), made again when the
// server drops it. Reads only, each one statement in autocommit, so a lost connection
// costs one retry and nothing else.
#include <libpq-fe.h>

#include <charconv>
#include <string_view>

#include "cloud/fleet/fleet_stats.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::fleet {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::int64_t int64_at(const PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  std::int64_t out = 0;
  if (v != nullptr) std::from_chars(v, v + std::char_traits<char>::length(v), out);
  return out;
}

std::string open_status_list() {
  std::string out;
  for (const char* s : kOpenStatuses) out += std::string(out.empty() ? "'" : ", '") + s + "'";
  return out;
}

class PostgresFleetStats final : public FleetStats {
 public:
  explicit PostgresFleetStats(std::string dsn) : dsn_(std::move(dsn)) {}

  Status connect() {
    sync::MutexLock lock(mutex_);
    return connect_locked();
  }

  StatusOr<std::vector<std::int64_t>> orders_per_minute(std::int64_t since_ms, int minutes,
                                                        const std::string& store_id) override {
    if (minutes < 1 || minutes > 1440) return invalid_argument("must be 1..1440", "minutes");
    const std::int64_t until = since_ms + minutes * std::int64_t{60'000};
    std::string sql =
        "SELECT (created_at_ms - $1::bigint) / 60000, count(*) FROM orders "
        "WHERE created_at_ms >= $1::bigint AND created_at_ms < $2::bigint";
    std::vector<std::string> params = {std::to_string(since_ms), std::to_string(until)};
    if (!store_id.empty()) {
      sql += " AND store_id = $3";
      params.push_back(store_id);
    }
    sql += " GROUP BY 1";
    SHOPEASY_ASSIGN_OR_RETURN(Result r, run(sql, params));
    std::vector<std::int64_t> out(static_cast<std::size_t>(minutes), 0);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      const std::int64_t minute = int64_at(r.get(), i, 0);
      if (minute >= 0 && minute < minutes)
        out[static_cast<std::size_t>(minute)] = int64_at(r.get(), i, 1);
    }
    return out;
  }

  StatusOr<std::vector<DeliveredOrder>> delivered(std::int64_t since_ms, std::int64_t until_ms,
                                                  const std::string& store_id, int limit) override {
    if (limit < 1 || limit > 100'000) return invalid_argument("must be 1..100000", "limit");
    std::string sql =
        "SELECT order_id, store_id, created_at_ms, updated_at_ms, "
        "coalesce((doc::json -> 'order' ->> 'promised_at_ms')::bigint, 0) FROM orders "
        "WHERE status = 'delivered' AND updated_at_ms >= $1::bigint AND updated_at_ms < "
        "$2::bigint";
    std::vector<std::string> params = {std::to_string(since_ms), std::to_string(until_ms)};
    if (!store_id.empty()) {
      params.push_back(store_id);
      sql += " AND store_id = $" + std::to_string(params.size());
    }
    params.push_back(std::to_string(limit));
    sql += " ORDER BY updated_at_ms DESC LIMIT $" + std::to_string(params.size()) + "::bigint";
    SHOPEASY_ASSIGN_OR_RETURN(Result r, run(sql, params));
    std::vector<DeliveredOrder> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(DeliveredOrder{.order_id = PQgetvalue(r.get(), i, 0),
                                   .store_id = PQgetvalue(r.get(), i, 1),
                                   .created_at_ms = int64_at(r.get(), i, 2),
                                   .delivered_at_ms = int64_at(r.get(), i, 3),
                                   .promised_at_ms = int64_at(r.get(), i, 4)});
    }
    return out;
  }

  StatusOr<std::vector<StatusCount>> open_orders(const std::string& store_id) override {
    std::string sql = "SELECT store_id, status, count(*) FROM orders WHERE status IN (" +
                      open_status_list() + ")";
    std::vector<std::string> params;
    if (!store_id.empty()) {
      sql += " AND store_id = $1";
      params.push_back(store_id);
    }
    sql += " GROUP BY store_id, status";
    SHOPEASY_ASSIGN_OR_RETURN(Result r, run(sql, params));
    std::vector<StatusCount> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(StatusCount{.store_id = PQgetvalue(r.get(), i, 0),
                                .status = PQgetvalue(r.get(), i, 1),
                                .count = int64_at(r.get(), i, 2)});
    }
    return out;
  }

  StatusOr<std::vector<ChannelStateCount>> notification_failures(std::int64_t since_ms) override {
    // "state <> 'pending'" lets the partial index notify_outbox_done bound the scan.
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, run("SELECT channel, state, count(*) FROM notify_outbox WHERE state <> 'pending' "
                      "AND state IN ('failed', 'dead') AND updated_at_ms >= $1::bigint "
                      "GROUP BY channel, state",
                      {std::to_string(since_ms)}));
    std::vector<ChannelStateCount> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(ChannelStateCount{.channel = PQgetvalue(r.get(), i, 0),
                                      .state = PQgetvalue(r.get(), i, 1),
                                      .count = int64_at(r.get(), i, 2)});
    }
    return out;
  }

 private:
  Status connect_locked() REQUIRES(mutex_) {
    conn_.reset(PQconnectdb(dsn_.c_str()));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
      const std::string why = conn_ ? trimmed(PQerrorMessage(conn_.get())) : "out of memory";
      conn_.reset();
      return unavailable("fleet statistics cannot reach PostgreSQL: " + why);
    }
    return Status::ok();
  }

  // Runs one read; a dropped connection is made again and the read tried once more.
  StatusOr<Result> run(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    sync::MutexLock lock(mutex_);
    for (int attempt = 0;; ++attempt) {
      if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        SHOPEASY_RETURN_IF_ERROR(connect_locked());
      }
      Result r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
      if (r && PQresultStatus(r.get()) == PGRES_TUPLES_OK) return r;
      const bool dropped = PQstatus(conn_.get()) == CONNECTION_BAD;
      const std::string why =
          trimmed(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_.get()));
      if (dropped && attempt == 0) {
        conn_.reset();
        continue;
      }
      if (dropped) return unavailable("fleet statistics: connection lost: " + why);
      return internal_error("fleet statistics query failed: " + why);
    }
  }

  const std::string dsn_;
  sync::Mutex mutex_;
  // The connection (null until made, or after it dropped); a PGconn is single-threaded.
  Conn conn_ GUARDED_BY(mutex_);
};

}  // namespace

StatusOr<std::unique_ptr<FleetStats>> open_postgres_fleet_stats(const std::string& dsn) {
  auto stats = std::make_unique<PostgresFleetStats>(dsn);
  SHOPEASY_RETURN_IF_ERROR(stats->connect());
  return std::unique_ptr<FleetStats>(std::move(stats));
}

}  // namespace shopeasy::cloud::fleet
