#include "edge/events/event_bus.hpp"

namespace shopeasy::edge::events {

EventBus::EventBus(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void EventBus::publish(std::vector<Event> events) {
  if (events.empty()) return;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    for (auto& e : events) {
      ring_.push_back(std::move(e));
      if (ring_.size() > capacity_) {
        ring_.pop_front();
        ++first_;
      }
    }
  }
  changed_.notify_all();
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (first_ + ring_.size() <= from) {
    if (changed_.wait_until(mutex_, deadline) == std::cv_status::timeout) break;
  }
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

void EventBus::wake_all() { changed_.notify_all(); }

}  // namespace shopeasy::edge::events
