// FleetStats on the SQLite file: one read-only connection of its own (WAL lets it read
// while the daemon's writer commits).
#include <string_view>

#include "cloud/fleet/fleet_stats.hpp"
#include "common/db/database.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::fleet {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;

// The IN list of open statuses, for SQL text (constants, never user input).
std::string open_status_list() {
  std::string out;
  for (const char* s : kOpenStatuses) out += std::string(out.empty() ? "'" : ", '") + s + "'";
  return out;
}

class SqliteFleetStats final : public FleetStats {
 public:
  explicit SqliteFleetStats(db::Database db) : db_(std::move(db)) {}

  StatusOr<std::vector<std::int64_t>> orders_per_minute(std::int64_t since_ms, int minutes,
                                                        const std::string& store_id) override {
    if (minutes < 1 || minutes > 1440) return invalid_argument("must be 1..1440", "minutes");
    std::vector<std::int64_t> out(static_cast<std::size_t>(minutes), 0);
    const std::int64_t until = since_ms + minutes * kMinuteMs;
    sync::MutexLock lock(mutex_);
    // orders_by_created bounds the scan to the window; a store's orders are filtered in it.
    db::Query q = store_id.empty()
                      ? db_.query(
                            "SELECT (created_at_ms - ?1) / 60000, count(*) FROM orders "
                            "WHERE created_at_ms >= ?1 AND created_at_ms < ?2 GROUP BY 1",
                            since_ms, until)
                      : db_.query(
                            "SELECT (created_at_ms - ?1) / 60000, count(*) FROM orders "
                            "WHERE created_at_ms >= ?1 AND created_at_ms < ?2 "
                            "AND store_id = ?3 GROUP BY 1",
                            since_ms, until, store_id);
    while (const db::Statement* row = q.next()) {
      const std::int64_t minute = row->column_int64(0);
      if (minute >= 0 && minute < minutes)
        out[static_cast<std::size_t>(minute)] = row->column_int64(1);
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

  StatusOr<std::vector<DeliveredOrder>> delivered(std::int64_t since_ms, std::int64_t until_ms,
                                                  const std::string& store_id, int limit) override {
    if (limit < 1 || limit > 100'000) return invalid_argument("must be 1..100000", "limit");
    std::vector<DeliveredOrder> out;
    sync::MutexLock lock(mutex_);
    constexpr std::string_view kColumns =
        "SELECT order_id, store_id, created_at_ms, updated_at_ms, "
        "coalesce(json_extract(doc, '$.order.promised_at_ms'), 0) FROM orders "
        "WHERE status = 'delivered' AND updated_at_ms >= ?1 AND updated_at_ms < ?2 ";
    db::Query q = store_id.empty()
                      ? db_.query(std::string(kColumns) + "ORDER BY updated_at_ms DESC LIMIT ?3",
                                  since_ms, until_ms, limit)
                      : db_.query(std::string(kColumns) +
                                      "AND store_id = ?3 ORDER BY updated_at_ms DESC "
                                      "LIMIT ?4",
                                  since_ms, until_ms, store_id, limit);
    while (const db::Statement* row = q.next()) {
      out.push_back(DeliveredOrder{.order_id = row->column_text(0),
                                   .store_id = row->column_text(1),
                                   .created_at_ms = row->column_int64(2),
                                   .delivered_at_ms = row->column_int64(3),
                                   .promised_at_ms = row->column_int64(4)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

  StatusOr<std::vector<StatusCount>> open_orders(const std::string& store_id) override {
    std::vector<StatusCount> out;
    const std::string sql =
        "SELECT store_id, status, count(*) FROM orders WHERE status IN (" + open_status_list() +
        ")" + (store_id.empty() ? "" : " AND store_id = ?1") + " GROUP BY store_id, status";
    sync::MutexLock lock(mutex_);
    db::Query q = store_id.empty() ? db_.query(sql) : db_.query(sql, store_id);
    while (const db::Statement* row = q.next()) {
      out.push_back(StatusCount{.store_id = row->column_text(0),
                                .status = row->column_text(1),
                                .count = row->column_int64(2)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

  StatusOr<std::vector<ChannelStateCount>> notification_failures(std::int64_t since_ms) override {
    std::vector<ChannelStateCount> out;
    sync::MutexLock lock(mutex_);
    // "state <> 'pending'" lets the partial index notify_outbox_done bound the scan.
    db::Query q = db_.query(
        "SELECT channel, state, count(*) FROM notify_outbox WHERE state <> 'pending' "
        "AND state IN ('failed', 'dead') AND updated_at_ms >= ?1 GROUP BY channel, state",
        since_ms);
    while (const db::Statement* row = q.next()) {
      out.push_back(ChannelStateCount{.channel = row->column_text(0),
                                      .state = row->column_text(1),
                                      .count = row->column_int64(2)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

 private:
  sync::Mutex mutex_;
  // The one connection; a Database is single-threaded.
  db::Database db_ GUARDED_BY(mutex_);
};

}  // namespace

StatusOr<std::unique_ptr<FleetStats>> open_sqlite_fleet_stats(const std::string& path) {
  db::OpenOptions o;
  o.read_only = true;
  o.create = false;
  StatusOr<db::Database> opened = db::Database::open(path, o);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<FleetStats>(std::make_unique<SqliteFleetStats>(std::move(*opened)));
}

}  // namespace shopeasy::cloud::fleet
