#include "edge/store/edge_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "edge/store/schema.hpp"

namespace shopeasy::edge::store {

namespace {
const std::vector<double> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
}

StatusOr<std::int64_t> WriteContext::emit(std::string type, nlohmann::json body) {
  const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("INSERT INTO events (ts_ms, type, body) VALUES (?, ?, ?)", now_ms_, type, text));
  const std::int64_t seq = db_.last_insert_rowid();
  pending_.push_back(events::Event{seq, std::move(type), std::move(body), now_ms_});
  return seq;
}

void WriteContext::publish_local(std::string type, nlohmann::json body) {
  pending_.push_back(events::Event{0, std::move(type), std::move(body), now_ms_});
}

StatusOr<std::unique_ptr<EdgeStore>> EdgeStore::open(StoreOptions options, const Clock& clock,
                                                     events::EventBus& bus, log::Logger logger,
                                                     metrics::Registry& metrics) {
  db::OpenOptions wo;
  // Durable or not, commits do not wait for the disk: when durable, the syncer thread
  // fdatasyncs the WAL before anyone is answered (see the header).
  wo.synchronous = db::Synchronous::kNormal;
  wo.cache_size_kib = options.cache_size_kib;
  SHOPEASY_ASSIGN_OR_RETURN(auto writer, db::Database::open(options.path, wo));
  SHOPEASY_RETURN_IF_ERROR(db::migrate(writer, edge_migrations(), clock));

  std::vector<db::Database> readers;
  db::OpenOptions ro;
  ro.create = false;
  // Readers share the OS page cache; a small private cache each keeps the daemon's
  // resident memory low on a big store.
  ro.cache_size_kib = 4096;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options.readers); ++i) {
    SHOPEASY_ASSIGN_OR_RETURN(auto r, db::Database::open(options.path, ro));
    readers.push_back(std::move(r));
  }
  return std::unique_ptr<EdgeStore>(new EdgeStore(std::move(options), clock, bus, std::move(logger),
                                                  metrics, std::move(writer), std::move(readers)));
}

EdgeStore::EdgeStore(StoreOptions options, const Clock& clock, events::EventBus& bus,
                     log::Logger logger, metrics::Registry& metrics, db::Database writer,
                     std::vector<db::Database> readers)
    : options_(std::move(options)),
      clock_(clock),
      bus_(bus),
      logger_(std::move(logger)),
      writer_db_(std::move(writer)),
      readers_(std::move(readers)),
      batch_size_(
          metrics.histogram("edge_store_batch_writes", "Writes per group commit", kBatchBuckets)),
      commit_seconds_(metrics.histogram("edge_store_commit_seconds",
                                        "Time to apply and durably commit one batch",
                                        metrics::default_latency_buckets())),
      writes_ok_(
          metrics.counter("edge_store_writes_total", "Writes committed", {{"result", "ok"}})),
      writes_failed_(
          metrics.counter("edge_store_writes_total", "Writes committed", {{"result", "refused"}})),
      commit_failures_(metrics.counter("edge_store_commit_failures_total",
                                       "Batches whose commit failed (all their writes failed)")),
      sync_seconds_(metrics.histogram("edge_store_sync_seconds",
                                      "Time of one fdatasync of the WAL (covers every batch "
                                      "committed before it)",
                                      metrics::default_latency_buckets())),
      sync_failures_(metrics.counter("edge_store_sync_failures_total",
                                     "Failed WAL syncs (the store then refuses writes until "
                                     "restarted)")) {
  for (auto& r : readers_) idle_readers_.push_back(&r);
  last_progress_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.mono_now().time_since_epoch())
          .count();
  queue_gauge_ = metrics.gauge_fn("edge_store_queue_depth", "Writes waiting for the writer thread",
                                  [this] { return static_cast<double>(queue_depth()); });
  if (options_.durable) syncer_ = std::thread([this] { run_syncer(); });
  writer_ = std::thread([this] { run_writer(); });
}

EdgeStore::~EdgeStore() {
  stop();
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

void EdgeStore::stop() {
  {
    shopeasy::sync::MutexLock lock(queue_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  // The writer has committed everything it took; the syncer makes it durable and answers.
  {
    shopeasy::sync::MutexLock lock(sync_mutex_);
    writer_done_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
}

bool EdgeStore::stalled(std::chrono::seconds limit) const {
  if (sync_failed_.load()) return true;
  // A disk that hangs in fdatasync leaves the writer free but nobody answered.
  if (const std::int64_t since = sync_started_ns_.load(); since != 0) {
    const auto now = clock_.mono_now().time_since_epoch();
    if (now - std::chrono::nanoseconds(since) > limit) return true;
  }
  if (queue_depth() == 0) return false;
  const auto now = clock_.mono_now().time_since_epoch();
  return now - std::chrono::nanoseconds(last_progress_ns_.load()) > limit;
}

std::size_t EdgeStore::queue_depth() const {
  shopeasy::sync::MutexLock lock(queue_mutex_);
  return queue_.size();
}

Status EdgeStore::write_erased(ErasedWriteFn fn) {
  std::future<Status> result;
  {
    shopeasy::sync::MutexLock lock(queue_mutex_);
    if (stopping_) return unavailable("the store is shutting down");
    if (sync_failed_.load()) {
      return unavailable("the store's disk failed to sync; the daemon must restart");
    }
    Pending p{std::move(fn), {}};
    result = p.result.get_future();
    queue_.push_back(std::move(p));
  }
  queue_cv_.notify_one();
  return result.get();
}

void EdgeStore::run_writer() {
  std::vector<Pending> batch;
  for (;;) {
    {
      shopeasy::sync::MutexLock lock(queue_mutex_);
      while (!stopping_ && queue_.empty()) queue_cv_.wait(queue_mutex_);
      if (queue_.empty()) return;  // stopping with nothing left
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
    last_progress_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.mono_now().time_since_epoch())
            .count();
  }
}

void EdgeStore::commit_batch(std::vector<Pending>& batch) {
  const auto started = clock_.mono_now();
  std::vector<Status> results;
  results.reserve(batch.size());
  std::vector<events::Event> published;

  auto fail_all = [&](const Status& why) {
    commit_failures_.inc();
    logger_.error("commit_failed", {{"writes", batch.size()}, {"error", why.to_string()}});
    for (auto& p : batch) p.result.set_value(unavailable("not stored: " + why.message()));
  };

  auto tx = writer_db_.begin(db::TxMode::kImmediate);
  if (!tx.ok()) {
    fail_all(tx.status());
    return;
  }
  WriteContext ctx(writer_db_, clock_);
  ctx.now_ms_ = to_unix_ms(clock_.wall_now());
  auto run = [&](Pending& p) {
    auto savepoint = writer_db_.begin();
    if (!savepoint.ok()) {
      results.emplace_back(savepoint.status());
      return;
    }
    ctx.pending_.clear();
    Status r = internal_error("write function did not run");
    try {
      r = p.fn(ctx);
    } catch (const std::exception& e) {
      r = internal_error(std::string("write failed: ") + e.what());
      logger_.error("write_exception", {{"what", e.what()}});
    }
    if (r.is_ok()) r = savepoint->commit();
    if (r.is_ok()) {
      for (auto& e : ctx.pending_) published.push_back(std::move(e));
    } else {
      (void)savepoint->rollback();
    }
    results.push_back(std::move(r));
  };
  // While the previous batch's fdatasync is under way, writes that arrive join this open
  // transaction instead of waiting for a commit of their own: the disk's latency sets the
  // batch size, so commits (and their page writes) stay few under load, and the writer
  // never waits for the disk.
  for (std::size_t done = 0;;) {
    for (; done < batch.size(); ++done) run(batch[done]);
    if (!options_.durable || batch.size() >= options_.max_batch) break;
    shopeasy::sync::MutexLock lock(queue_mutex_);
    while (!stopping_ && queue_.empty() && unsynced_batches_.load() != 0) {
      queue_cv_.wait(queue_mutex_);
    }
    const std::size_t n = std::min(queue_.size(), options_.max_batch - batch.size());
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (n == 0) break;  // the disk caught up (or the store is stopping): commit now
  }
  Status committed = tx->commit();
  if (!committed.is_ok()) {
    (void)tx->rollback();
    fail_all(committed);
    return;
  }
  batch_size_.observe(static_cast<double>(batch.size()));
  Committed done;
  done.promises.reserve(batch.size());
  for (auto& p : batch) done.promises.push_back(std::move(p.result));
  done.results = std::move(results);
  done.events = std::move(published);
  done.started = started;
  if (!options_.durable) {
    acknowledge(done);
    return;
  }
  unsynced_batches_.fetch_add(1);
  {
    shopeasy::sync::MutexLock lock(sync_mutex_);
    committed_.push_back(std::move(done));
  }
  sync_cv_.notify_one();
}

void EdgeStore::acknowledge(Committed& batch) {
  // Readers of the bus see an event only once it is durable.
  bus_.publish(std::move(batch.events));
  commit_seconds_.observe(std::chrono::duration<double>(clock_.mono_now() - batch.started).count());
  for (std::size_t i = 0; i < batch.promises.size(); ++i) {
    (batch.results[i].is_ok() ? writes_ok_ : writes_failed_).inc();
    batch.promises[i].set_value(std::move(batch.results[i]));
  }
}

void EdgeStore::run_syncer() {
  std::deque<Committed> ready;
  for (;;) {
    {
      shopeasy::sync::MutexLock lock(sync_mutex_);
      while (!writer_done_ && committed_.empty()) sync_cv_.wait(sync_mutex_);
      if (committed_.empty()) return;  // the writer stopped and everything is answered
      ready.swap(committed_);
    }
    Status synced = sync_failed_.load() ? unavailable("an earlier WAL sync failed") : [&] {
      const auto t0 = clock_.mono_now();
      sync_started_ns_ =
          std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
      Status s = options_.sync_wal ? options_.sync_wal() : fdatasync_wal();
      sync_started_ns_ = 0;
      sync_seconds_.observe(std::chrono::duration<double>(clock_.mono_now() - t0).count());
      return s;
    }();
    if (!synced.is_ok() && !sync_failed_.exchange(true)) {
      sync_failures_.inc();
      logger_.error("wal_sync_failed", {{"error", synced.to_string()}, {"batches", ready.size()}});
    }
    for (auto& batch : ready) {
      if (synced.is_ok()) {
        acknowledge(batch);
        continue;
      }
      for (auto& p : batch.promises) {
        writes_failed_.inc();
        p.set_value(unavailable("not known to be stored: " + synced.message()));
      }
    }
    unsynced_batches_.fetch_sub(static_cast<int>(ready.size()));
    ready.clear();
    {
      // Under the writer's mutex, so a writer about to wait for this cannot miss it.
      shopeasy::sync::MutexLock lock(queue_mutex_);
    }
    queue_cv_.notify_all();
  }
}

Status EdgeStore::fdatasync_wal() {
  const std::string wal = options_.path + "-wal";
  struct stat named {};
  if (::stat(wal.c_str(), &named) != 0) {
    return unavailable("cannot stat " + wal + ": " + std::strerror(errno));
  }
  struct stat held {};
  if (wal_fd_ >= 0 && (::fstat(wal_fd_, &held) != 0 || held.st_ino != named.st_ino ||
                       held.st_dev != named.st_dev)) {
    // SQLite deleted and re-created the WAL (it does when the last connection closes).
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  if (wal_fd_ < 0) {
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return unavailable("cannot open " + wal + ": " + std::strerror(errno));
    // The WAL's directory entry must reach the disk too, once per file.
    const auto slash = options_.path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : options_.path.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      const int rc = ::fsync(dir_fd);
      const int err = errno;
      ::close(dir_fd);
      if (rc != 0) return unavailable("cannot fsync " + dir + ": " + std::strerror(err));
    }
  }
  if (::fdatasync(wal_fd_) != 0) {
    return unavailable("fdatasync " + wal + ": " + std::strerror(errno));
  }
  return Status::ok();
}

EdgeStore::Lease::Lease(EdgeStore& s) : store(s) {
  shopeasy::sync::MutexLock lock(s.readers_mutex_);
  while (s.idle_readers_.empty()) s.readers_cv_.wait(s.readers_mutex_);
  db = s.idle_readers_.back();
  s.idle_readers_.pop_back();
}

EdgeStore::Lease::~Lease() {
  {
    shopeasy::sync::MutexLock lock(store.readers_mutex_);
    store.idle_readers_.push_back(db);
  }
  store.readers_cv_.notify_one();
}

}  // namespace shopeasy::edge::store
