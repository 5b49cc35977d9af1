#include "cloud/api/order_event_hub.hpp"

#include <utility>
#include <vector>

namespace shopeasy::cloud::api {

OrderEventHub::OrderEventHub(storage::OrderStore& store, const Clock& clock, Options options,
                             log::Logger logger, metrics::Registry& metrics)
    : store_(store),
      clock_(clock),
      options_(options),
      logger_(std::move(logger)),
      polls_failed_(metrics.counter("cloud_order_event_polls_failed_total",
                                    "Polls for new order events the database refused")),
      wakeups_(metrics.counter("cloud_order_event_wakeups_total",
                               "Orders whose waiting tracking streams were woken by a new event")),
      waiting_gauge_(metrics.gauge_fn("cloud_order_streams_waiting",
                                      "Order-tracking streams waiting for their next event",
                                      [this] {
                                        sync::MutexLock lock(mutex_);
                                        double n = 0;
                                        for (const auto& [id, w] : waiters_) n += w->count;
                                        return n;
                                      })) {}

OrderEventHub::~OrderEventHub() { stop(); }

OrderEventHub::Found OrderEventHub::wake_locked(const std::string& order_id,
                                                std::int64_t after_seq) const {
  Found found;
  const auto head = heads_.find(order_id);
  if (head == heads_.end() || head->second <= after_seq) return found;  // nothing new
  found.kind = Wake::Kind::kLook;
  const auto w = waiters_.find(order_id);
  if (w == waiters_.end() || !w->second->events || w->second->covered_after < 0 ||
      after_seq < w->second->covered_after) {
    return found;  // the hub's read does not reach back to this stream's position
  }
  // Served from the read only when it reaches the head; else the stream reads itself.
  const auto& events = *w->second->events;
  if (!events.empty() && events.back().seq >= head->second) {
    found.kind = Wake::Kind::kEvents;
    found.events = w->second->events;
  }
  return found;
}

OrderEventHub::Wake OrderEventHub::wait(const std::string& order_id, std::int64_t after_seq,
                                        std::chrono::milliseconds timeout) {
  Found found;
  {
    sync::MutexLock lock(mutex_);
    if (stopping_) return Wake{};
    found = wake_locked(order_id, after_seq);
    if (found.kind == Wake::Kind::kTimedOut) {
      std::shared_ptr<Waiters>& slot = waiters_[order_id];
      if (!slot) slot = std::make_shared<Waiters>();
      const std::shared_ptr<Waiters> waiters = slot;  // kept while this call waits on it
      ++waiters->count;
      // Woken (or timed out): looks once more, as a predicate wait would.
      const auto done = [&]() REQUIRES(mutex_) {
        if (stopping_) return true;
        found = wake_locked(order_id, after_seq);
        return found.kind != Wake::Kind::kTimedOut;
      };
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (!done()) {
        if (waiters->cv.wait_until(mutex_, deadline) == std::cv_status::timeout) {
          done();
          break;
        }
      }
      if (--waiters->count == 0) waiters_.erase(order_id);
      if (stopping_) return Wake{};
    }
  }
  Wake wake;
  wake.kind = found.kind;
  if (found.events) {
    for (const storage::OrderEvent& e : *found.events) {
      if (e.seq > after_seq) wake.events.push_back(e);
    }
  }
  return wake;
}

int OrderEventHub::poll_once() {
  const std::int64_t since =
      to_unix_ms(clock_.wall_now()) - static_cast<std::int64_t>(options_.window.count());
  StatusOr<std::vector<storage::OrderEventHead>> heads =
      store_.recent_order_event_heads(since, options_.max_orders_per_poll);
  if (!heads.ok()) {
    polls_failed_.inc();
    if (!failing_) {
      logger_.warn("order_event_poll_failed", {{"error", heads.status().to_string()},
                                               {"effect", "streams fall back to their own reads"}});
    }
    failing_ = true;
    return 0;
  }
  if (failing_) logger_.info("order_event_poll_recovered", {});
  failing_ = false;
  // Orders that moved, with the head the hub knew before (-1: none), and which of them
  // have streams waiting and a known previous head (their new events are read here).
  std::vector<std::pair<std::string, std::int64_t>> moved;
  std::vector<std::size_t> to_read;
  {
    sync::MutexLock lock(mutex_);
    for (const storage::OrderEventHead& h : *heads) {
      const auto before = heads_.find(h.order_id);
      if (before != heads_.end() && h.seq <= before->second) continue;
      moved.emplace_back(h.order_id, before == heads_.end() ? -1 : before->second);
      if (before != heads_.end() && waiters_.count(h.order_id) > 0) {
        to_read.push_back(moved.size() - 1);
      }
    }
  }
  // One read per order with waiting streams, outside the lock; its streams share it.
  std::unordered_map<std::string, std::pair<std::int64_t, std::vector<storage::OrderEvent>>> read;
  for (std::size_t i : to_read) {
    const auto& [order_id, after] = moved[i];
    auto events = store_.order_events(order_id, after, kEventsPerRead);
    if (events.ok()) read.emplace(order_id, std::make_pair(after, std::move(*events)));
  }
  sync::MutexLock lock(mutex_);
  std::unordered_map<std::string, std::int64_t> next;
  next.reserve(heads->size());
  for (storage::OrderEventHead& h : *heads) next.emplace(std::move(h.order_id), h.seq);
  // Orders whose events left the window are forgotten; their streams read on timeout.
  heads_ = std::move(next);
  for (const auto& [order_id, before] : moved) {
    const auto w = waiters_.find(order_id);
    if (w == waiters_.end()) continue;
    Waiters& waiters = *w->second;
    if (auto r = read.find(order_id); r != read.end()) {
      waiters.covered_after = r->second.first;
      waiters.events =
          std::make_shared<const std::vector<storage::OrderEvent>>(std::move(r->second.second));
    } else {
      waiters.covered_after = -1;  // not read here: its streams read themselves
      waiters.events.reset();
    }
    wakeups_.inc();
    waiters.cv.notify_all();
  }
  return static_cast<int>(moved.size());
}

void OrderEventHub::start() {
  sync::MutexLock lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void OrderEventHub::stop() {
  std::thread poller;  // taken under the lock: start() may run on another thread
  {
    sync::MutexLock lock(mutex_);
    stopping_ = true;
    for (auto& [id, w] : waiters_) w->cv.notify_all();
    poller = std::move(thread_);
  }
  poll_wake_.notify_all();
  if (poller.joinable()) poller.join();
}

bool OrderEventHub::stopped() const {
  sync::MutexLock lock(mutex_);
  return stopping_;
}

void OrderEventHub::run() {
  for (;;) {
    {
      sync::MutexLock lock(mutex_);
      const auto deadline = std::chrono::steady_clock::now() + options_.poll_every;
      while (!stopping_) {
        if (poll_wake_.wait_until(mutex_, deadline) == std::cv_status::timeout) break;
      }
      if (stopping_) return;
    }
    poll_once();
  }
}

}  // namespace shopeasy::cloud::api
