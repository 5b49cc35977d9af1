#include "cloud/daemon/registry_watcher.hpp"

#include <algorithm>
#include <utility>

namespace shopeasy::cloud {

RegistryWatcher::RegistryWatcher(storage::StoreRegistry& store, const Clock& clock, Options options,
                                 OnRead on_read, OnSeen on_seen, log::Logger logger)
    : store_(store),
      clock_(clock),
      options_(options),
      on_read_(std::move(on_read)),
      on_seen_(std::move(on_seen)),
      logger_(std::move(logger)) {}

RegistryWatcher::~RegistryWatcher() { stop(); }

bool RegistryWatcher::poll_once() {
  StatusOr<std::int64_t> version = store_.registry_version();
  if (!version.ok()) {
    if (!failing_) {
      logger_.warn("registry_check_failed", {{"error", version.status().to_string()}});
    }
    failing_ = true;
    return false;
  }
  const MonoTime now = clock_.mono_now();
  const bool moved = !seen_version_ || *seen_version_ != *version;
  if (!moved && now - last_full_read_ < options_.full_read_every) {
    if (on_seen_ && now - last_seen_read_ >= options_.seen_every) {
      last_seen_read_ = now;
      // From 1: a store never heard from (0) is not a visit.
      auto seen = store_.stores_seen_since(
          std::max<std::int64_t>(1, newest_visit_ms_ - options_.seen_overlap.count()));
      if (seen.ok()) {
        for (const auto& s : *seen) newest_visit_ms_ = std::max(newest_visit_ms_, s.last_seen_ms);
        if (!seen->empty()) on_seen_(*seen);
      }
    }
    return false;
  }
  // The version was read before the list, so a change saved in between is read again
  // at the next check rather than missed.
  StatusOr<std::vector<storage::StoreRecord>> stores = store_.list_stores();
  if (!stores.ok()) {
    if (!failing_) logger_.warn("store_list_failed", {{"error", stores.status().to_string()}});
    failing_ = true;
    return false;
  }
  if (failing_) logger_.info("registry_check_recovered", {});
  failing_ = false;
  seen_version_ = *version;
  last_full_read_ = now;
  last_seen_read_ = now;
  for (const auto& s : *stores) newest_visit_ms_ = std::max(newest_visit_ms_, s.last_seen_ms);
  on_read_(*stores);
  return true;
}

void RegistryWatcher::start() {
  sync::MutexLock lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void RegistryWatcher::stop() {
  std::thread poller;  // taken under the lock: start() may run on another thread
  {
    sync::MutexLock lock(mutex_);
    stopping_ = true;
    poller = std::move(thread_);
  }
  wake_.notify_all();
  if (poller.joinable()) poller.join();
}

void RegistryWatcher::run() {
  for (;;) {
    {
      sync::MutexLock lock(mutex_);
      const auto deadline = std::chrono::steady_clock::now() + options_.poll_every;
      while (!stopping_) {
        if (wake_.wait_until(mutex_, deadline) == std::cv_status::timeout) break;
      }
      if (stopping_) return;
    }
    poll_once();
  }
}

}  // namespace shopeasy::cloud
