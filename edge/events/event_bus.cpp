#include "edge/events/event_bus.hpp"

#include <algorithm>

namespace shopeasy::edge::events {

EventBus::EventBus(std::size_t capacity, std::size_t max_keys)
    : capacity_(capacity == 0 ? 1 : capacity), max_keys_(max_keys == 0 ? 1 : max_keys) {}

void EventBus::publish(std::vector<Event> events) {
  if (events.empty()) return;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    for (auto& e : events) {
      if (e.seq == 0 && !e.coalesce_key.empty()) {
        keep_latest(std::move(e));
        continue;
      }
      ring_.push_back(std::move(e));
      if (ring_.size() > capacity_) {
        ring_.pop_front();
        ++first_;
      }
    }
  }
  changed_.notify_all();
}

void EventBus::keep_latest(Event event) {
  auto [it, added] = latest_version_.try_emplace(event.coalesce_key, next_version_);
  if (!added) {
    latest_.erase(it->second);
    it->second = next_version_;
  }
  latest_.emplace(next_version_++, std::move(event));
  if (latest_.size() > max_keys_) {
    auto oldest = latest_.begin();
    latest_version_.erase(oldest->second.coalesce_key);
    latest_.erase(oldest);
  }
}

void EventBus::publish(Event event) {
  std::vector<Event> one;
  one.push_back(std::move(event));
  publish(std::move(one));
}

std::uint64_t EventBus::head() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return first_ + ring_.size();
}

EventBus::ReadResult EventBus::read(std::uint64_t from, std::size_t max,
                                    std::chrono::milliseconds timeout) const {
  shopeasy::sync::MutexLock lock(mutex_);
  wait_for_news(from, kRingOnly, timeout);
  ReadResult out;
  std::uint64_t pos = from;
  if (pos < first_) {
    out.lost = true;
    pos = first_;
  }
  const std::uint64_t end = first_ + ring_.size();
  while (pos < end && out.events.size() < max) {
    out.events.push_back(ring_[pos - first_]);
    ++pos;
  }
  out.next = pos;
  return out;
}

bool EventBus::wait_any(std::uint64_t from, std::uint64_t latest_from,
                        std::chrono::milliseconds timeout) const {
  shopeasy::sync::MutexLock lock(mutex_);
  wait_for_news(from, latest_from, timeout);
  return has_news(from, latest_from);
}

bool EventBus::has_news(std::uint64_t from, std::uint64_t latest_from) const {
  return first_ + ring_.size() > from || (latest_from != kRingOnly && next_version_ > latest_from);
}

void EventBus::wait_for_news(std::uint64_t from, std::uint64_t latest_from,
                             std::chrono::milliseconds timeout) const {
  // A real-time wait: the condition variable's deadline is on steady_clock.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!has_news(from, latest_from)) {
    if (changed_.wait_until(mutex_, deadline) == std::cv_status::timeout) break;
  }
}

std::uint64_t EventBus::latest_head() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return next_version_;
}

EventBus::LatestResult EventBus::read_latest(std::uint64_t from, std::size_t max) const {
  shopeasy::sync::MutexLock lock(mutex_);
  LatestResult out;
  out.next = from;
  for (auto it = latest_.lower_bound(from); it != latest_.end() && out.events.size() < max; ++it) {
    out.events.push_back(it->second);
    out.next = it->first + 1;
  }
  if (out.events.size() < max) out.next = std::max(out.next, next_version_);
  return out;
}

void EventBus::wake_all() { changed_.notify_all(); }

}  // namespace shopeasy::edge::events
