// EdgeStore: the store box's SQLite database and its single write path.
//
// Every change to the store's state goes through write(): the function runs on the one
// writer thread inside a transaction, together with the rows of the events it emits
// (the outbox the cloud sync drains), and write() returns only after that transaction
// is durably committed. Writes that arrive together share one commit (group commit);
// each runs in its own savepoint, so one that fails is rolled back alone and the others
// still commit.
//
// Durability is pipelined: the writer commits a batch to the WAL without waiting for
// the disk (synchronous=NORMAL) and goes on with the next batch, while a second thread
// fdatasyncs the WAL file and only then answers the batch's writers and publishes its
// events on the EventBus, in commit order. One fdatasync covers every batch committed
// before it, so the disk's latency no longer caps how many writes a second the single
// writer applies; writes that arrive while a sync is under way join the writer's open
// transaction, so the batch grows with the disk's latency instead of the commits
// multiplying. Other connections may read a committed batch before its fdatasync
// returns; no caller has been told it is stored until then. If fdatasync fails, what the
// kernel had buffered may be lost, so the store answers every waiting and later write
// kUnavailable and reports itself stalled, and the watchdog restarts the daemon (the
// database recovers from what reached the disk).
//
// Reads run on a small pool of separate connections (WAL lets them proceed while the
// writer commits) through read().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/events/event_bus.hpp"

namespace shopeasy::edge::store {

// What a write function sees: the writer's connection, inside its transaction.
class WriteContext {
 public:
  WriteContext(db::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  db::Database& db() { return db_; }
  // Wall time of this batch in Unix milliseconds (one value per write).
  std::int64_t now_ms() const { return now_ms_; }
  // Appends a durable event (a row of the events table, hence of the sync outbox) in
  // this transaction; it is published on the bus only if the transaction commits.
  // Returns its sequence number.
  StatusOr<std::int64_t> emit(std::string type, nlohmann::json body);
  // Publishes a store-local event (seq 0: not in the outbox, so the cloud never hears of
  // it) on the bus once the transaction is durable; dropped with the transaction. For
  // what only the store's own screens need, such as who holds an order's pick.
  void publish_local(std::string type, nlohmann::json body);

 private:
  friend class EdgeStore;
  db::Database& db_;
  const Clock& clock_;
  std::int64_t now_ms_ = 0;
  std::vector<events::Event> pending_;
};

namespace detail {

// What EdgeStore::write returns for a write function returning R: StatusOr<T> for
// StatusOr<T> or a plain T, Status for Status or void.
template <typename R>
struct WriteResult {
  using type = StatusOr<R>;
  using value = R;
};
template <typename T>
struct WriteResult<StatusOr<T>> {
  using type = StatusOr<T>;
  using value = T;
};
template <>
struct WriteResult<Status> {
  using type = Status;
  using value = void;
};
template <>
struct WriteResult<void> {
  using type = Status;
  using value = void;
};

}  // namespace detail

// The writer thread's view of one write: runs the caller's function and leaves its
// value (if any) in the caller's frame, returning only whether it succeeded. Two
// pointers, so std::function keeps it inline without allocating.
using ErasedWriteFn = std::function<Status(WriteContext&)>;

struct StoreOptions {
  std::string path;                // the database file
  bool durable = true;             // acknowledged writes survive power loss (WAL fdatasync)
  std::size_t max_batch = 512;     // writes per group commit
  std::size_t readers = 4;         // read connections
  int cache_size_kib = 16 * 1024;  // per connection
  // Makes the WAL durable; empty means fdatasync on the database's -wal file. Tests
  // replace it to hold a sync back or make it fail.
  std::function<Status()> sync_wal;
};

class EdgeStore {
 public:
  // Opens the database, applies the schema migrations and starts the writer thread.
  // Errors: kUnavailable when the file cannot be opened, kFailedPrecondition when the
  // database was written by a newer version, others from the migration.
  static StatusOr<std::unique_ptr<EdgeStore>> open(StoreOptions options, const Clock& clock,
                                                   events::EventBus& bus, log::Logger logger,
                                                   metrics::Registry& metrics);
  ~EdgeStore();
  EdgeStore(const EdgeStore&) = delete;
  EdgeStore& operator=(const EdgeStore&) = delete;

  // Runs `fn(WriteContext&)` in the next group commit and waits until it is durable.
  // Returns fn's result: StatusOr<T> when fn returns StatusOr<T> (or a plain T),
  // Status when it returns Status (or void). If fn fails (or throws: kInternal) its
  // changes are rolled back and its events dropped. If the commit itself fails, every
  // write in that batch gets kUnavailable and no value. After stop(): kUnavailable.
  // Thread-safe; must not be called from inside a write function.
  template <typename Fn>
  auto write(Fn&& fn) ->
      typename detail::WriteResult<std::invoke_result_t<Fn&, WriteContext&>>::type;

  // Runs `fn` with a read connection from the pool. Thread-safe.
  template <typename F>
  auto read(F&& fn) -> decltype(fn(std::declval<db::Database&>())) {
    Lease lease(*this);
    return fn(*lease.db);
  }

  // Processes what is queued, then stops the writer. Idempotent.
  void stop() EXCLUDES(queue_mutex_, sync_mutex_);

  // Number of writes waiting for the writer.
  std::size_t queue_depth() const EXCLUDES(queue_mutex_);
  // True when writes are waiting and the writer has not finished a batch for `limit`:
  // a hung writer (a stuck disk, a bug) that the watchdog should restart. Also true
  // once a WAL sync has failed.
  bool stalled(std::chrono::seconds limit) const;

 private:
  struct Pending {
    ErasedWriteFn fn;
    std::promise<Status> result;  // OK once fn succeeded and its batch is durable
  };
  struct Lease {
    explicit Lease(EdgeStore& s);
    ~Lease();
    EdgeStore& store;
    db::Database* db;
  };

  // A batch committed to the WAL, waiting for its fdatasync before anyone hears of it.
  struct Committed {
    std::vector<std::promise<Status>> promises;
    std::vector<Status> results;
    std::vector<events::Event> events;
    MonoTime started;
  };

  EdgeStore(StoreOptions options, const Clock& clock, events::EventBus& bus, log::Logger logger,
            metrics::Registry& metrics, db::Database writer, std::vector<db::Database> readers);
  // Queues `fn` and waits for its batch; the non-template half of write().
  Status write_erased(ErasedWriteFn fn) EXCLUDES(queue_mutex_);
  void run_writer() EXCLUDES(queue_mutex_);
  void commit_batch(std::vector<Pending>& batch) EXCLUDES(queue_mutex_, sync_mutex_);
  void run_syncer() EXCLUDES(queue_mutex_, sync_mutex_);
  // Answers the batch's writers and publishes its events (after its sync, if durable).
  void acknowledge(Committed& batch);
  Status fdatasync_wal();

  StoreOptions options_;
  const Clock& clock_;
  events::EventBus& bus_;
  log::Logger logger_;
  db::Database writer_db_;

  mutable shopeasy::sync::Mutex queue_mutex_;
  shopeasy::sync::CondVar queue_cv_;
  std::deque<Pending> queue_ GUARDED_BY(queue_mutex_);
  bool stopping_ GUARDED_BY(queue_mutex_) = false;
  std::atomic<std::int64_t> last_progress_ns_{0};  // monotonic, after each batch
  std::thread writer_;

  shopeasy::sync::Mutex sync_mutex_;
  shopeasy::sync::CondVar sync_cv_;
  std::deque<Committed> committed_ GUARDED_BY(sync_mutex_);
  bool writer_done_ GUARDED_BY(sync_mutex_) = false;
  std::atomic<bool> sync_failed_{false};
  // Batches committed but not yet answered; while any are, new writes join the open
  // transaction (see commit_batch). Changed by both threads; the syncer notifies
  // queue_cv_ after lowering it.
  std::atomic<int> unsynced_batches_{0};
  std::atomic<std::int64_t> sync_started_ns_{0};  // monotonic; 0 when no sync is under way
  int wal_fd_ = -1;  // the syncer thread's own descriptor of the -wal file
  std::thread syncer_;

  shopeasy::sync::Mutex readers_mutex_;
  shopeasy::sync::CondVar readers_cv_;
  std::vector<db::Database> readers_;  // fixed at construction; leased through idle_readers_
  std::vector<db::Database*> idle_readers_ GUARDED_BY(readers_mutex_);

  metrics::Histogram& batch_size_;
  metrics::Histogram& commit_seconds_;
  metrics::Counter& writes_ok_;
  metrics::Counter& writes_failed_;
  metrics::Counter& commit_failures_;
  metrics::Histogram& sync_seconds_;
  metrics::Counter& sync_failures_;
  metrics::CallbackGauge queue_gauge_;  // last: unregistered before the rest goes
};

template <typename Fn>
auto EdgeStore::write(Fn&& fn) ->
    typename detail::WriteResult<std::invoke_result_t<Fn&, WriteContext&>>::type {
  using R = std::invoke_result_t<Fn&, WriteContext&>;
  using Value = typename detail::WriteResult<R>::value;
  if constexpr (std::is_void_v<Value>) {
    return write_erased([&fn](WriteContext& ctx) -> Status {
      if constexpr (std::is_void_v<R>) {
        fn(ctx);
        return Status::ok();
      } else {
        return fn(ctx);
      }
    });
  } else {
    // Filled on the writer thread; read here only after the promise says the write is
    // durable (set_value happens before get() returns).
    std::optional<Value> value;
    Status status = write_erased([&fn, &value](WriteContext& ctx) -> Status {
      if constexpr (std::is_same_v<R, StatusOr<Value>>) {
        R r = fn(ctx);
        if (!r.ok()) return r.status();
        value.emplace(std::move(r).value());
      } else {
        value.emplace(fn(ctx));
      }
      return Status::ok();
    });
    if (!status.is_ok()) return status;
    return std::move(*value);
  }
}

}  // namespace shopeasy::edge::store
