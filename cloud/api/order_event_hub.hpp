// OrderEventHub: wakes an instance's order-tracking streams when their order has a new
// event, so an idle stream costs no database queries. Without it every open stream
// asked the database for new events five times a second (10,000 customers watching
// their orders: 50,000 queries a second). The hub instead asks once per interval which
// orders have events stamped within a recent window, through any instance (the events
// live in the shared database), and signals the streams waiting on those orders.
//
// When an order with waiting streams moves, the hub reads its new events once and hands
// them to every waiting stream, so one status change fanned out to 10,000 streams is one
// read, not 10,000. A stream the hub cannot serve that way (it first saw the order, or
// the stream is behind what the hub read) is told to look itself, and every stream looks
// anyway when its wait times out, so an event the hub cannot see (stamped by an
// instance whose clock is off by more than the window, or committed later than that)
// reaches the stream within the stream's fallback interval instead of never.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::api {

class OrderEventHub {
 public:
  struct Options {
    std::chrono::milliseconds poll_every{50};
    // How far back a poll looks: covers commit delays and clock differences between
    // instances up to this much.
    std::chrono::milliseconds window{10000};
    int max_orders_per_poll = 10000;
  };

  OrderEventHub(storage::OrderStore& store, const Clock& clock, Options options, log::Logger logger,
                metrics::Registry& metrics);
  ~OrderEventHub();  // stops
  OrderEventHub(const OrderEventHub&) = delete;
  OrderEventHub& operator=(const OrderEventHub&) = delete;

  struct Wake {
    enum class Kind {
      kTimedOut,  // nothing new known (or the hub stopped)
      kLook,      // something new: read the order's events past after_seq yourself
      kEvents,    // `events` are every event past after_seq, oldest first
    };
    Kind kind = Kind::kTimedOut;
    std::vector<storage::OrderEvent> events;
  };
  // What wake_locked found: the kind, and for kEvents the hub's shared read to pick from.
  struct Found {
    Wake::Kind kind = Wake::Kind::kTimedOut;
    std::shared_ptr<const std::vector<storage::OrderEvent>> events;
  };

  // Waits until the hub knows of an event of `order_id` past `after_seq`, `timeout`
  // passes or the hub stops. Thread-safe.
  Wake wait(const std::string& order_id, std::int64_t after_seq, std::chrono::milliseconds timeout)
      EXCLUDES(mutex_);

  // One poll of the database; wakes the streams of orders with new events. Returns
  // how many orders had a new event. For tests, and called by the thread.
  int poll_once() EXCLUDES(mutex_);

  void start() EXCLUDES(mutex_);
  void stop() EXCLUDES(mutex_);  // wakes every waiting stream; idempotent
  bool stopped() const EXCLUDES(mutex_);

 private:
  // Every field is guarded by the hub's mutex_ (not annotated: a nested struct cannot
  // name the enclosing object's member); it is only reached through waiters_, which is.
  struct Waiters {
    sync::CondVar cv;
    int count = 0;
    // The order's events past `covered_after` as the hub last read them (at most one
    // page); a waiter at or past covered_after is served from here.
    std::int64_t covered_after = -1;  // -1: nothing read
    // Shared with the woken streams, which pick their events out after the lock.
    std::shared_ptr<const std::vector<storage::OrderEvent>> events;
  };
  // What a waiter at `after_seq` gets, with mutex_ held.
  Found wake_locked(const std::string& order_id, std::int64_t after_seq) const REQUIRES(mutex_);
  void run() EXCLUDES(mutex_);
  static constexpr int kEventsPerRead = 100;

  storage::OrderStore& store_;
  const Clock& clock_;
  Options options_;
  log::Logger logger_;
  metrics::Counter& polls_failed_;
  metrics::Counter& wakeups_;

  mutable sync::Mutex mutex_;
  // The latest seq seen per order with an event inside the window.
  std::unordered_map<std::string, std::int64_t> heads_ GUARDED_BY(mutex_);
  // Streams waiting, per order: each order has its own condition variable, so an event
  // wakes only that order's streams.
  std::unordered_map<std::string, std::shared_ptr<Waiters>> waiters_ GUARDED_BY(mutex_);
  sync::CondVar poll_wake_;  // ends the poll thread's wait on stop
  bool stopping_ GUARDED_BY(mutex_) = false;
  bool failing_ = false;  // only the poll thread (or a test calling poll_once) touches it
  std::thread thread_ GUARDED_BY(mutex_);  // the poll thread, until stop() takes it
  metrics::CallbackGauge waiting_gauge_;   // last: unregistered before the rest goes
};

}  // namespace shopeasy::cloud::api
