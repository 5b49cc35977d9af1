// DiskGuard: keeps the store box from filling its disk. It watches how full the state
// directory's budget is (a configured cap on the directory's size, or else the
// filesystem) and, when it passes the alert levels (70% and 90% by default), raises an
// alert and asks the registered purgers to free space in an explicit order of value:
// telemetry trails go first, acknowledged events next; unsynced stock changes and
// orders are never purged (they are the store's truth and the cloud's only copy).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::edge::diskguard {

struct DiskGuardOptions {
  std::string path;            // the state directory
  std::int64_t cap_bytes = 0;  // 0: use the filesystem's size and free space
  double warn_ratio = 0.70;
  double critical_ratio = 0.90;
};

// Measures the state directory: used and total bytes. Replaceable in tests.
struct DiskUsage {
  std::int64_t used_bytes = 0;
  std::int64_t total_bytes = 0;
  double ratio() const {
    return total_bytes > 0 ? static_cast<double>(used_bytes) / total_bytes : 0;
  }
};
using UsageProbe = std::function<DiskUsage()>;

// The probe used in production: statvfs of the filesystem, or the directory's size
// against the cap.
UsageProbe filesystem_probe(const DiskGuardOptions& options);

class DiskGuard {
 public:
  DiskGuard(DiskGuardOptions options, UsageProbe probe, log::Logger logger,
            metrics::Registry& metrics);

  // Registers a purger; lower `priority` runs first. `purge` frees what it can and
  // returns the number of rows or bytes it dropped (for the log). Call before tick().
  void add_purger(int priority, std::string name, std::function<std::int64_t()> purge);

  // Measures, alerts on level changes, and under pressure runs purgers in priority
  // order until usage is back under the warning level. Call from one thread.
  void tick() EXCLUDES(mutex_);

  // For /health: usage, level ("ok", "warning", "critical"), last purge.
  nlohmann::json status() const EXCLUDES(mutex_);

 private:
  struct Purger {
    int priority;
    std::string name;
    std::function<std::int64_t()> purge;
  };
  DiskGuardOptions options_;
  UsageProbe probe_;
  log::Logger logger_;
  std::vector<Purger> purgers_;
  // Guards the last measurement and level: tick() writes them, status() reads them for
  // /health on an HTTP thread.
  mutable shopeasy::sync::Mutex mutex_;
  DiskUsage last_ GUARDED_BY(mutex_){};
  std::string level_ GUARDED_BY(mutex_) = "ok";
  metrics::Gauge& used_ratio_;
  metrics::Gauge& level_gauge_;
  metrics::CounterFamily& purged_;
};

}  // namespace shopeasy::edge::diskguard
