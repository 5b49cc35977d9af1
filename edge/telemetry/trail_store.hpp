// TrailStore: where runners have been, downsampled, in a SQLite file of its own.
// Trails are the least valuable data the edge keeps, so the file runs with
// synchronous=NORMAL (a power cut may lose the last seconds, never corrupt it) and is
// kept apart from the store's ledger. A point is kept when it is at least
// min_interval_s or min_distance_m away from the runner's last kept point; rows are
// clustered by (runner_id, ts_ms) so one runner's day is one index range.
//
// Writes are queued and committed by one writer thread in batches (one transaction per
// batch); retention purges run on the same thread in small transactions between
// batches, so readers (their own connection, WAL) are never held up for long.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/db/database.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/telemetry/types.hpp"

namespace shopeasy::edge::telemetry {

struct TrailOptions {
  std::string path;  // SQLite file, created if missing
  // Downsampling: keep a point this long or this far from the last kept one.
  double min_interval_s = 10;
  double min_distance_m = 25;
  // Points waiting for the writer; beyond this new points are dropped and counted.
  std::size_t queue_capacity = 100'000;
  // Most rows per write transaction, and longest a point waits to be written.
  std::size_t batch_rows = 2'000;
  std::chrono::milliseconds flush_interval{500};
  // Most rows deleted per purge transaction.
  std::size_t purge_batch_rows = 5'000;
};

// The schema version and table, for tools that fill a trail file directly.
inline constexpr std::string_view kTrailTableSql =
    "CREATE TABLE trail (runner_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, lat REAL NOT NULL, "
    "lon REAL NOT NULL, accuracy_m REAL, speed_mps REAL, heading_deg REAL, "
    "PRIMARY KEY (runner_id, ts_ms)) WITHOUT ROWID";

class TrailStore {
 public:
  // Opens (creating and migrating) the file and starts the writer thread. Errors as
  // db::Database::open and db::migrate; kInvalidArgument for bad options.
  static StatusOr<std::unique_ptr<TrailStore>> open(TrailOptions options, log::Logger logger,
                                                    metrics::Registry& metrics);
  ~TrailStore();
  TrailStore(const TrailStore&) = delete;
  TrailStore& operator=(const TrailStore&) = delete;

  // Offers a point; queues it when the downsampling rule keeps it (true). Points older
  // than the runner's last kept point (replayed backlog) are downsampled among
  // themselves. false also when the queue is full (counted) or the store is stopped.
  bool offer(std::string_view runner_id, const TrailPoint& point) EXCLUDES(mutex_, sample_mutex_);
  // Forgets the downsampling state of a runner (e.g. when it is retired).
  void forget(std::string_view runner_id) EXCLUDES(sample_mutex_);

  // Waits until every point queued before the call is committed (or failed and was
  // counted). kDeadlineExceeded after `timeout`; kFailedPrecondition once stopped.
  Status flush(std::chrono::milliseconds timeout) EXCLUDES(mutex_);

  // A runner's points with since_ms <= ts_ms <= until_ms, oldest first, at most
  // `limit`. Errors as SQLite reads (kUnavailable when busy).
  StatusOr<std::vector<TrailPoint>> trail(std::string_view runner_id, std::int64_t since_ms,
                                          std::int64_t until_ms, std::size_t limit) const
      EXCLUDES(read_mutex_);

  // Asks the writer to delete rows with ts_ms < cutoff_ms, purge_batch_rows per
  // transaction, between write batches. Returns at once; a newer request replaces an
  // unfinished one.
  void request_purge(std::int64_t cutoff_ms) EXCLUDES(mutex_);
  // As request_purge, then waits for that purge to finish; returns the rows deleted.
  // kDeadlineExceeded after `timeout`, the SQLite error if a purge step failed.
  StatusOr<std::int64_t> purge(std::int64_t cutoff_ms, std::chrono::milliseconds timeout)
      EXCLUDES(mutex_);

  // Points waiting for the writer.
  std::size_t pending() const EXCLUDES(mutex_);
  // Writes what is queued and stops the writer. Idempotent.
  void stop() EXCLUDES(mutex_);

 private:
  struct Pending {
    std::string runner_id;
    TrailPoint point;
  };
  struct Last {
    std::int64_t ts_ms = 0;
    double lat = 0;
    double lon = 0;
    std::optional<std::int64_t> backlog_ts_ms;
    double backlog_lat = 0;
    double backlog_lon = 0;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct PurgeJob {
    std::int64_t cutoff_ms = 0;
    std::uint64_t generation = 0;
    std::string cursor;  // runners up to and including it are done
    std::optional<std::string> current;
    std::int64_t deleted = 0;
  };

  TrailStore(TrailOptions options, db::Database writer, db::Database reader, log::Logger logger,
             metrics::Registry& metrics);
  bool keep(std::string_view runner_id, const TrailPoint& p) EXCLUDES(sample_mutex_);
  void run() EXCLUDES(mutex_);
  void write_batch(std::vector<Pending>& batch);
  // One purge transaction; false when the job is finished.
  StatusOr<bool> purge_step(PurgeJob& job);

  const TrailOptions options_;
  log::Logger logger_;
  db::Database writer_db_;  // writer thread only
  // Guards reader_db_, the connection trail() reads through (HTTP handlers).
  mutable shopeasy::sync::Mutex read_mutex_;
  mutable db::Database reader_db_ GUARDED_BY(read_mutex_);

  // Guards last_, the downsampling state offer() and forget() share.
  shopeasy::sync::Mutex sample_mutex_;
  std::unordered_map<std::string, Last, Hash, std::equal_to<>> last_ GUARDED_BY(sample_mutex_);

  // Guards the queue and the writer thread's progress and purge bookkeeping below.
  mutable shopeasy::sync::Mutex mutex_;
  shopeasy::sync::CondVar work_cv_;  // points, a flush, a purge or stop for the writer
  shopeasy::sync::CondVar done_cv_;  // a batch committed, a purge finished or the writer stopped
  std::vector<Pending> queue_ GUARDED_BY(mutex_);
  std::uint64_t enqueued_ GUARDED_BY(mutex_) = 0;   // points ever queued
  std::uint64_t completed_ GUARDED_BY(mutex_) = 0;  // points ever written or failed
  bool flush_now_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  bool stopped_ GUARDED_BY(mutex_) = false;
  std::optional<PurgeJob> purge_ GUARDED_BY(mutex_);
  std::uint64_t purge_requested_ GUARDED_BY(mutex_) = 0;
  std::uint64_t purge_finished_ GUARDED_BY(mutex_) = 0;
  std::int64_t purge_deleted_ GUARDED_BY(mutex_) = 0;
  Status purge_status_ GUARDED_BY(mutex_);

  metrics::Counter& written_;
  metrics::Counter& write_failures_;
  metrics::Counter& queue_drops_;
  metrics::Counter& purged_;
  std::thread thread_;
  metrics::CallbackGauge pending_gauge_;  // last: unregistered before the rest goes
};

}  // namespace shopeasy::edge::telemetry
