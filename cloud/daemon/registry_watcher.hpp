// RegistryWatcher: keeps an instance's view of the store registry current without
// reading all of it every second. Several instances share one database, and a store
// registered or moved through one must be routed by all of them within a second; at
// 10,000 stores reading the whole registry each time costs tens of milliseconds. So the
// watcher polls the registry's version (one indexed max() query) often, reads the full
// list only when it moved, and otherwise every `full_read_every` for what the version
// does not cover: when each store was last heard from (sync or heartbeat on any
// instance), which drives the online flags and the lag alerts. On PostgreSQL two
// registrations committing out of their sequence order can leave the version unmoved by
// the later commit; the periodic full read bounds that case.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud {

class RegistryWatcher {
 public:
  struct Options {
    std::chrono::milliseconds poll_every{200};
    std::chrono::milliseconds full_read_every{10000};
    // How often stores heard from recently (through any instance) are read, so the
    // online flags follow syncs taken by other instances within about this much.
    std::chrono::milliseconds seen_every{1000};
    // How far before the newest visit already known the next read starts: visits are
    // stamped by each instance's clock and committed in any order.
    std::chrono::milliseconds seen_overlap{3000};
  };
  // Receives every full read of the registry, on the watcher's thread.
  using OnRead = std::function<void(const std::vector<storage::StoreRecord>&)>;
  // Receives the stores heard from since the last such read, on the watcher's thread.
  using OnSeen = std::function<void(const std::vector<storage::StoreSeen>&)>;

  RegistryWatcher(storage::StoreRegistry& store, const Clock& clock, Options options,
                  OnRead on_read, OnSeen on_seen, log::Logger logger);
  ~RegistryWatcher();  // stops
  RegistryWatcher(const RegistryWatcher&) = delete;
  RegistryWatcher& operator=(const RegistryWatcher&) = delete;

  // One check: reads the list when the version moved or a full read is due, and hands
  // it to OnRead (true when it read); else, when due, the recent visits to OnSeen. For
  // tests, and called by the thread.
  bool poll_once();

  void start() EXCLUDES(mutex_);  // the polling thread
  void stop() EXCLUDES(mutex_);   // idempotent

 private:
  void run() EXCLUDES(mutex_);

  storage::StoreRegistry& store_;
  const Clock& clock_;
  Options options_;
  OnRead on_read_;
  OnSeen on_seen_;
  log::Logger logger_;
  // Touched only by whoever calls poll_once (the thread once started).
  std::optional<std::int64_t> seen_version_;
  MonoTime last_full_read_{};
  MonoTime last_seen_read_{};
  std::int64_t newest_visit_ms_ = 0;  // the latest last_seen_ms read so far
  bool failing_ = false;              // storage refused the last check; logged once per streak

  sync::Mutex mutex_;
  sync::CondVar wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_ GUARDED_BY(mutex_);  // the poll thread, until stop() takes it
};

}  // namespace shopeasy::cloud
