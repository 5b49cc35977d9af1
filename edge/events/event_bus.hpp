// EventBus: the edge's in-process stream of what happened, in commit order. Durable
// events (stock changes, counts, unknown codes) carry the sequence number of their row
// in the events table, written in the same transaction as their effect; live-only
// events (runner positions) carry seq 0 and are never stored. Subscribers (the
// Server-Sent Events endpoint, the sync client) read from a bounded ring: a reader that
// falls more than its capacity behind learns it lost events and re-reads what it needs
// from the database instead of slowing the writer down.
//
// Live events that only say "the newest state of X is ..." (a runner's position, every
// runner every second) carry a `coalesce_key` and never enter the ring: the bus keeps the
// newest event per key, stamped with a version, and a reader asks for the keys changed
// since the version it last saw (read_latest). So 2,000 runners reporting cannot push a
// stock change, an order claim or a scanner read out of the ring before a reader gets
// to it, and a slow reader of positions skips straight to the newest one per runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/sync/mutex.hpp"

namespace shopeasy::edge::events {

struct Event {
  std::int64_t seq = 0;  // > 0: row in the events table; 0: live-only
  std::string type;      // "stock.changed", "runner.updated", ...
  nlohmann::json body;
  std::int64_t ts_ms = 0;
  // Non-empty on a live-only event superseded by the next one with the same key (e.g.
  // "runner.updated/r-12"): kept as the newest per key, outside the ring.
  std::string coalesce_key{};
};

class EventBus {
 public:
  // `capacity` events in the ring; the newest event of at most `max_keys` coalesce keys
  // (past that, the key updated longest ago is forgotten).
  explicit EventBus(std::size_t capacity = 16384, std::size_t max_keys = 20000);

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

  // Version just past the newest coalesced event: a reader starting here sees only
  // keys that change from now on.
  std::uint64_t latest_head() const EXCLUDES(mutex_);

  struct LatestResult {
    std::vector<Event> events;  // the newest event of each key changed, oldest change first
    std::uint64_t next = 0;     // version to read from next time
  };
  // The newest event of every key updated at or after version `from` (at most `max`; the
  // rest come on the next call). Never waits: see wait_any.
  LatestResult read_latest(std::uint64_t from, std::size_t max) const EXCLUDES(mutex_);

  // Waits up to `timeout` until the ring holds an event at position `from` or later, or a
  // key changed at version `latest_from` or later; true when either did. For a reader of
  // both kinds, which then reads each without waiting.
  bool wait_any(std::uint64_t from, std::uint64_t latest_from,
                std::chrono::milliseconds timeout) const EXCLUDES(mutex_);

  // Wakes every waiting reader (used at shutdown).
  void wake_all();

 private:
  // Keeps `event` as its key's newest. Requires the lock.
  void keep_latest(Event event) REQUIRES(mutex_);
  // Whether the ring reaches past `from` or a coalesced event is newer than `latest_from`
  // (kRingOnly: the ring alone counts).
  static constexpr std::uint64_t kRingOnly = std::numeric_limits<std::uint64_t>::max();
  bool has_news(std::uint64_t from, std::uint64_t latest_from) const REQUIRES(mutex_);
  // Waits, releasing mutex_, until has_news or `timeout` (real time) passes.
  void wait_for_news(std::uint64_t from, std::uint64_t latest_from,
                     std::chrono::milliseconds timeout) const REQUIRES(mutex_);

  std::size_t capacity_;
  std::size_t max_keys_;
  mutable shopeasy::sync::Mutex mutex_;
  // A publish, ring or coalesced (or wake_all), for waiting readers.
  mutable shopeasy::sync::CondVar changed_;
  std::deque<Event> ring_ GUARDED_BY(mutex_);
  std::uint64_t first_ GUARDED_BY(mutex_) = 0;  // position of ring_.front()
  // Coalesced events: version -> the newest event of its key, and key -> its version.
  std::map<std::uint64_t, Event> latest_ GUARDED_BY(mutex_);
  std::unordered_map<std::string, std::uint64_t> latest_version_ GUARDED_BY(mutex_);
  std::uint64_t next_version_ GUARDED_BY(mutex_) = 0;
};

}  // namespace shopeasy::edge::events
