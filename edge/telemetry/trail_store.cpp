#include "edge/telemetry/trail_store.hpp"

#include <algorithm>
#include <cstdlib>

#include "common/db/migration.hpp"
#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::telemetry {

namespace {

std::vector<db::Migration> trail_migrations() {
  return {{1, "trail", std::string(kTrailTableSql)}};
}

db::OpenOptions trail_db_options() {
  db::OpenOptions o;
  o.synchronous = db::Synchronous::kNormal;
  return o;
}

std::optional<double> column_opt(const db::Statement& s, int i) {
  return s.column<std::optional<double>>(i);
}

}  // namespace

StatusOr<std::unique_ptr<TrailStore>> TrailStore::open(TrailOptions options, log::Logger logger,
                                                       metrics::Registry& metrics) {
  if (options.path.empty()) return invalid_argument("must not be empty", "path");
  if (!(options.min_interval_s >= 0)) {
    return invalid_argument("must not be negative", "min_interval_s");
  }
  if (!(options.min_distance_m >= 0)) {
    return invalid_argument("must not be negative", "min_distance_m");
  }
  if (options.queue_capacity == 0 || options.batch_rows == 0 || options.purge_batch_rows == 0) {
    return invalid_argument("queue_capacity, batch_rows and purge_batch_rows must be positive");
  }
  auto writer = db::Database::open(options.path, trail_db_options());
  if (!writer.ok()) return writer.status();
  const auto migrations = trail_migrations();
  SHOPEASY_RETURN_IF_ERROR(db::migrate(*writer, migrations));
  auto reader = db::Database::open(options.path, trail_db_options());
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<TrailStore>(new TrailStore(
      std::move(options), std::move(*writer), std::move(*reader), std::move(logger), metrics));
}

TrailStore::TrailStore(TrailOptions options, db::Database writer, db::Database reader,
                       log::Logger logger, metrics::Registry& metrics)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      writer_db_(std::move(writer)),
      reader_db_(std::move(reader)),
      written_(metrics.counter("edge_telemetry_trail_rows_written_total",
                               "Trail points committed to the trail database")),
      write_failures_(metrics.counter("edge_telemetry_trail_write_failures_total",
                                      "Trail points lost because their batch failed to commit")),
      queue_drops_(metrics.counter("edge_telemetry_trail_queue_drops_total",
                                   "Trail points dropped because the writer fell behind")),
      purged_(metrics.counter("edge_telemetry_trail_rows_purged_total",
                              "Trail rows deleted by retention")) {
  thread_ = std::thread([this] { run(); });
  pending_gauge_ =
      metrics.gauge_fn("edge_telemetry_trail_pending", "Trail points waiting for the writer",
                       [this] { return static_cast<double>(pending()); });
}

TrailStore::~TrailStore() { stop(); }

void TrailStore::stop() {
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t TrailStore::pending() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return queue_.size();
}

bool TrailStore::keep(std::string_view runner_id, const TrailPoint& p) {
  const auto min_interval_ms = static_cast<std::int64_t>(options_.min_interval_s * 1000.0);
  shopeasy::sync::MutexLock lock(sample_mutex_);
  auto it = last_.find(runner_id);
  if (it == last_.end()) {
    last_.emplace(std::string(runner_id), Last{p.ts_ms, p.lat, p.lon, std::nullopt, 0, 0});
    return true;
  }
  Last& l = it->second;
  if (p.ts_ms > l.ts_ms) {
    if (p.ts_ms - l.ts_ms >= min_interval_ms ||
        geohash::haversine_m({l.lat, l.lon}, {p.lat, p.lon}) >= options_.min_distance_m) {
      l.ts_ms = p.ts_ms;
      l.lat = p.lat;
      l.lon = p.lon;
      return true;
    }
    return false;
  }
  // Backlog (older than the newest kept point): thinned against the previous backlog
  // point, so an hour of replayed fixes keeps the same density as live ones.
  if (!l.backlog_ts_ms || std::llabs(p.ts_ms - *l.backlog_ts_ms) >= min_interval_ms ||
      geohash::haversine_m({l.backlog_lat, l.backlog_lon}, {p.lat, p.lon}) >=
          options_.min_distance_m) {
    l.backlog_ts_ms = p.ts_ms;
    l.backlog_lat = p.lat;
    l.backlog_lon = p.lon;
    return p.ts_ms != l.ts_ms;
  }
  return false;
}

bool TrailStore::offer(std::string_view runner_id, const TrailPoint& point) {
  if (!keep(runner_id, point)) return false;
  bool wake = false;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (stopping_) return false;
    if (queue_.size() >= options_.queue_capacity) {
      queue_drops_.inc();
      return false;
    }
    queue_.push_back(Pending{std::string(runner_id), point});
    ++enqueued_;
    wake = queue_.size() >= options_.batch_rows;
  }
  if (wake) work_cv_.notify_one();
  return true;
}

void TrailStore::forget(std::string_view runner_id) {
  shopeasy::sync::MutexLock lock(sample_mutex_);
  auto it = last_.find(runner_id);
  if (it != last_.end()) last_.erase(it);
}

Status TrailStore::flush(std::chrono::milliseconds timeout) {
  // A real-time wait for the writer thread, so steady_clock rather than a Clock.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  shopeasy::sync::MutexLock lock(mutex_);
  if (stopped_) return failed_precondition("trail store is stopped");
  const std::uint64_t target = enqueued_;
  flush_now_ = true;
  work_cv_.notify_one();
  while (completed_ < target && !stopped_) {
    if (done_cv_.wait_until(mutex_, deadline) == std::cv_status::timeout && completed_ < target &&
        !stopped_) {
      return Status(StatusCode::kDeadlineExceeded, "trail writer did not catch up in time");
    }
  }
  return Status::ok();
}

void TrailStore::request_purge(std::int64_t cutoff_ms) {
  {
    shopeasy::sync::MutexLock lock(mutex_);
    PurgeJob job;
    job.cutoff_ms = cutoff_ms;
    job.generation = ++purge_requested_;
    purge_ = std::move(job);
  }
  work_cv_.notify_one();
}

StatusOr<std::int64_t> TrailStore::purge(std::int64_t cutoff_ms,
                                         std::chrono::milliseconds timeout) {
  request_purge(cutoff_ms);
  // A real-time wait for the writer thread, so steady_clock rather than a Clock.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  shopeasy::sync::MutexLock lock(mutex_);
  const std::uint64_t generation = purge_requested_;
  while (purge_finished_ < generation && !stopped_) {
    if (done_cv_.wait_until(mutex_, deadline) == std::cv_status::timeout &&
        purge_finished_ < generation && !stopped_) {
      return Status(StatusCode::kDeadlineExceeded, "trail purge did not finish in time");
    }
  }
  if (purge_finished_ < generation) return failed_precondition("trail store is stopped");
  if (!purge_status_.is_ok()) return purge_status_;
  return purge_deleted_;
}

void TrailStore::run() {
  std::vector<Pending> batch;
  while (true) {
    bool purge_active = false;
    {
      // Batch for up to flush_interval unless a batch is full, a flush or purge is
      // asked for, or we are stopping: fewer, larger transactions. (A real-time wait,
      // so steady_clock rather than a Clock.)
      const auto deadline = std::chrono::steady_clock::now() + options_.flush_interval;
      shopeasy::sync::MutexLock lock(mutex_);
      while (!stopping_ && !flush_now_ && !purge_.has_value() &&
             queue_.size() < options_.batch_rows) {
        if (work_cv_.wait_until(mutex_, deadline) == std::cv_status::timeout) break;
      }
      flush_now_ = false;
      const std::size_t n = std::min(queue_.size(), options_.batch_rows);
      if (n == queue_.size()) {
        batch.clear();
        batch.swap(queue_);
      } else {
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      // A purge is abandoned at shutdown: retention catches up after the next start.
      purge_active = purge_.has_value() && !stopping_;
      if (batch.empty() && stopping_) break;
      if (!queue_.empty()) flush_now_ = true;  // more than one batch waiting
    }
    if (!batch.empty()) {
      write_batch(batch);
      shopeasy::sync::MutexLock lock(mutex_);
      completed_ += batch.size();
      done_cv_.notify_all();
    }
    if (purge_active) {
      shopeasy::sync::MutexLock lock(mutex_);
      if (!purge_) continue;
      PurgeJob job = *purge_;
      lock.unlock();
      auto more = purge_step(job);
      lock.lock();
      // A newer request may have replaced the job while we worked on it.
      const bool same = purge_ && purge_->generation == job.generation;
      if (!more.ok() || !*more) {
        if (same) purge_.reset();
        purge_finished_ = std::max(purge_finished_, job.generation);
        purge_deleted_ = job.deleted;
        purge_status_ = more.ok() ? Status::ok() : more.status();
        done_cv_.notify_all();
      } else if (same) {
        *purge_ = std::move(job);
      }
    }
  }
  shopeasy::sync::MutexLock lock(mutex_);
  stopped_ = true;
  done_cv_.notify_all();
}

void TrailStore::write_batch(std::vector<Pending>& batch) {
  auto fail = [&](const Status& s) {
    write_failures_.inc(batch.size());
    logger_.warn("trail_write_failed",
                 {{"rows", static_cast<std::uint64_t>(batch.size())}, {"error", s.to_string()}});
  };
  auto tx = writer_db_.begin(db::TxMode::kImmediate);
  if (!tx.ok()) return fail(tx.status());
  {
    auto stmt = writer_db_.cached(
        "INSERT OR IGNORE INTO trail (runner_id, ts_ms, lat, lon, accuracy_m, speed_mps, "
        "heading_deg) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return fail(stmt.status());
    for (const Pending& p : batch) {
      const TrailPoint& t = p.point;
      Status s = (*stmt)->bind_all(p.runner_id, t.ts_ms, t.lat, t.lon, t.accuracy_m, t.speed_mps,
                                   t.heading_deg);
      if (s.is_ok()) s = (*stmt)->execute();
      (*stmt)->reset();
      if (!s.is_ok()) return fail(s);
    }
  }
  Status committed = tx->commit();
  if (!committed.is_ok()) return fail(committed);
  written_.inc(batch.size());
}

StatusOr<bool> TrailStore::purge_step(PurgeJob& job) {
  // Runners are visited one at a time by seeking the primary key, so finding the next
  // runner never scans rows and a step never holds the write lock for long.
  for (int seeks = 0; seeks < 256; ++seeks) {
    if (!job.current) {
      auto next = writer_db_.query_one<std::string>(
          "SELECT runner_id FROM trail WHERE runner_id > ? ORDER BY runner_id LIMIT 1", job.cursor);
      if (!next.ok()) return next.status();
      if (!next->has_value()) return false;
      job.current = std::move(**next);
    }
    auto boundary = writer_db_.query_one<std::int64_t>(
        "SELECT ts_ms FROM trail WHERE runner_id = ? AND ts_ms < ? ORDER BY ts_ms LIMIT 1 "
        "OFFSET ?",
        *job.current, job.cutoff_ms, static_cast<std::int64_t>(options_.purge_batch_rows - 1));
    if (!boundary.ok()) return boundary.status();
    const bool full_batch = boundary->has_value();
    const std::int64_t below = full_batch ? **boundary + 1 : job.cutoff_ms;
    auto tx = writer_db_.begin(db::TxMode::kImmediate);
    if (!tx.ok()) return tx.status();
    SHOPEASY_RETURN_IF_ERROR(
        writer_db_.run("DELETE FROM trail WHERE runner_id = ? AND ts_ms < ?", *job.current, below));
    const std::int64_t deleted = writer_db_.changes();
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
    job.deleted += deleted;
    purged_.inc(static_cast<std::uint64_t>(deleted));
    if (!full_batch) {
      job.cursor = std::move(*job.current);
      job.current.reset();
    }
    if (deleted > 0) return true;
  }
  return true;
}

StatusOr<std::vector<TrailPoint>> TrailStore::trail(std::string_view runner_id,
                                                    std::int64_t since_ms, std::int64_t until_ms,
                                                    std::size_t limit) const {
  std::vector<TrailPoint> out;
  shopeasy::sync::MutexLock lock(read_mutex_);
  auto q = reader_db_.query(
      "SELECT ts_ms, lat, lon, accuracy_m, speed_mps, heading_deg FROM trail "
      "WHERE runner_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms LIMIT ?",
      runner_id, since_ms, until_ms, static_cast<std::int64_t>(limit));
  while (const db::Statement* row = q.next()) {
    out.push_back(TrailPoint{row->column_int64(0), row->column_double(1), row->column_double(2),
                             column_opt(*row, 3), column_opt(*row, 4), column_opt(*row, 5)});
  }
  if (!q.status().is_ok()) return q.status();
  return out;
}

}  // namespace shopeasy::edge::telemetry
