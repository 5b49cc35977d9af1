// A thread-safe in-memory OrderSource for the dispatcher's tests: packed orders wait
// until marked assigned, and every call is recorded for the test to check.
#pragma once

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/sync/mutex.hpp"
#include "edge/dispatch/order_source.hpp"

namespace shopeasy::edge::dispatch {

class FakeOrderSource final : public OrderSource {
 public:
  struct Assigned {
    std::string order_id, runner_id, assignment_id;
    std::int64_t eta_ms = 0;
  };
  struct Event {
    std::string runner_id;
    wire::RunnerEventType type;
    std::string order_id;
    std::int64_t at_ms = 0;
    std::string reason;
  };
  struct Position {
    std::string order_id, runner_id;
    double lat = 0, lon = 0;
    std::int64_t eta_ms = 0, at_ms = 0;
  };

  void add(PackedOrder order) EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    waiting_.push_back(std::move(order));
  }

  StatusOr<std::vector<PackedOrder>> packed_awaiting_dispatch() override EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    if (fail_reads) return unavailable("order book is closed");
    return waiting_;
  }
  Status mark_assigned(const std::string& order_id, const std::string& runner_id,
                       const std::string& assignment_id, std::int64_t eta_ms) override
      EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    if (refuse.count(order_id) != 0) return failed_precondition("order " + order_id + " cancelled");
    auto it = std::find_if(waiting_.begin(), waiting_.end(),
                           [&](const PackedOrder& o) { return o.order_id == order_id; });
    if (it == waiting_.end()) return not_found("order " + order_id + " is not waiting");
    held_.push_back(*it);
    waiting_.erase(it);
    assigned_.push_back({order_id, runner_id, assignment_id, eta_ms});
    return Status::ok();
  }
  Status on_runner_event(const std::string& runner_id, wire::RunnerEventType type,
                         const std::string& order_id, std::int64_t at_ms,
                         const std::string& reason) override EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    events_.push_back({runner_id, type, order_id, at_ms, reason});
    return Status::ok();
  }
  Status on_position(const std::string& order_id, const std::string& runner_id, double lat,
                     double lon, std::int64_t eta_ms, std::int64_t at_ms) override
      EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    positions_.push_back({order_id, runner_id, lat, lon, eta_ms, at_ms});
    return Status::ok();
  }
  void unassign(const std::string& order_id) override EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    unassigned_.push_back(order_id);
    auto it = std::find_if(held_.begin(), held_.end(),
                           [&](const PackedOrder& o) { return o.order_id == order_id; });
    if (it != held_.end()) {
      waiting_.push_back(*it);
      held_.erase(it);
    }
  }

  std::vector<Assigned> assigned() const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return assigned_;
  }
  std::vector<Event> events() const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return events_;
  }
  std::vector<Position> positions() const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return positions_;
  }
  std::vector<std::string> unassigned() const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return unassigned_;
  }
  bool has_event(wire::RunnerEventType type, const std::string& order_id) const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return std::any_of(events_.begin(), events_.end(),
                       [&](const Event& e) { return e.type == type && e.order_id == order_id; });
  }

  // Set before the dispatcher runs.
  std::set<std::string> refuse;
  bool fail_reads = false;

 private:
  // Guards the orders and the record of calls below: the dispatcher's thread calls in
  // while the test reads.
  mutable shopeasy::sync::Mutex mutex_;
  std::vector<PackedOrder> waiting_ GUARDED_BY(mutex_);
  std::vector<PackedOrder> held_ GUARDED_BY(mutex_);
  std::vector<Assigned> assigned_ GUARDED_BY(mutex_);
  std::vector<Event> events_ GUARDED_BY(mutex_);
  std::vector<Position> positions_ GUARDED_BY(mutex_);
  std::vector<std::string> unassigned_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::edge::dispatch
