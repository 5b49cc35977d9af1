// EventBus: the edge's in-process stream of what happened, in commit order. Durable
// events (stock changes, counts, unknown codes) carry the sequence number of their row
// in the events table, written in the same transaction as their effect; live-only
// events (runner positions) carry seq 0 and are never stored. Subscribers (the
// Server-Sent Events endpoint, the sync client) read from a bounded ring: a reader that
// falls more than its capacity behind learns it lost events and re-reads what it needs
// from the database instead of slowing the writer down.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/sync/mutex.hpp"

namespace shopeasy::edge::events {

struct Event {
  std::int64_t seq = 0;  // > 0: row in the events table; 0: live-only
  std::string type;      // "stock.changed", "runner.updated", ...
  nlohmann::json body;
  std::int64_t ts_ms = 0;
};

class EventBus {
 public:
  explicit EventBus(std::size_t capacity = 16384);

  // Appends events in order and wakes readers. Thread-safe; never blocks on readers.
  void publish(std::vector<Event> events) EXCLUDES(mutex_);
  void publish(Event event) EXCLUDES(mutex_);

  // Position just past the newest event: a reader starting here sees only new ones.
  std::uint64_t head() const EXCLUDES(mutex_);

  struct ReadResult {
    std::vector<Event> events;
    std::uint64_t next = 0;  // position to read from next time
    bool lost = false;       // events between the asked position and the oldest kept are gone
  };
  // Events from position `from`, waiting up to `timeout` if there are none yet; at most
  // `max` events. Thread-safe.
  ReadResult read(std::uint64_t from, std::size_t max, std::chrono::milliseconds timeout) const
      EXCLUDES(mutex_);

  // Wakes every waiting reader (used at shutdown).
  void wake_all();

 private:
  std::size_t capacity_;
  mutable shopeasy::sync::Mutex mutex_;
  mutable shopeasy::sync::CondVar changed_;  // a publish (or wake_all) for waiting readers
  std::deque<Event> ring_ GUARDED_BY(mutex_);
  std::uint64_t first_ GUARDED_BY(mutex_) = 0;  // position of ring_.front()
};

}  // namespace shopeasy::edge::events
