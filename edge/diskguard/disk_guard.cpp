#include "edge/diskguard/disk_guard.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

namespace shopeasy::edge::diskguard {

UsageProbe filesystem_probe(const DiskGuardOptions& options) {
  return [path = options.path, cap = options.cap_bytes]() {
    DiskUsage u;
    if (cap > 0) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) u.used_bytes += static_cast<std::int64_t>(it->file_size(ec));
      }
      u.total_bytes = cap;
      return u;
    }
    struct statvfs fs {};
    if (statvfs(path.c_str(), &fs) == 0) {
      // As df's Use%: used / (used + available to us); blocks reserved for root or held
      // back by the host count neither way.
      const auto frsize = static_cast<std::int64_t>(fs.f_frsize);
      u.used_bytes = static_cast<std::int64_t>(fs.f_blocks - fs.f_bfree) * frsize;
      u.total_bytes = u.used_bytes + static_cast<std::int64_t>(fs.f_bavail) * frsize;
    }
    return u;
  };
}

DiskGuard::DiskGuard(DiskGuardOptions options, UsageProbe probe, log::Logger logger,
                     metrics::Registry& metrics)
    : options_(std::move(options)),
      probe_(std::move(probe)),
      logger_(std::move(logger)),
      used_ratio_(
          metrics.gauge("edge_disk_used_ratio", "Share of the state directory's budget in use")),
      level_gauge_(
          metrics.gauge("edge_disk_alert_level", "0 ok, 1 warning (70%), 2 critical (90%)")),
      purged_(metrics.counter_family("edge_disk_purged_total",
                                     "Rows dropped to free disk space, by data kind", {"kind"})) {}

void DiskGuard::add_purger(int priority, std::string name, std::function<std::int64_t()> purge) {
  purgers_.push_back(Purger{priority, std::move(name), std::move(purge)});
  std::stable_sort(purgers_.begin(), purgers_.end(),
                   [](const Purger& a, const Purger& b) { return a.priority < b.priority; });
}

void DiskGuard::tick() {
  DiskUsage usage = probe_();
  const auto level_of = [&](double r) {
    return r >= options_.critical_ratio ? std::string("critical")
           : r >= options_.warn_ratio   ? std::string("warning")
                                        : std::string("ok");
  };
  std::string level = level_of(usage.ratio());
  if (level != "ok") {
    // Free space, least valuable data first, until under the warning level again.
    for (const auto& p : purgers_) {
      const std::int64_t dropped = p.purge();
      if (dropped > 0) {
        purged_.with({p.name}).inc(static_cast<std::uint64_t>(dropped));
        logger_.warn("disk_purged",
                     {{"kind", p.name}, {"dropped", dropped}, {"used_ratio", usage.ratio()}});
      }
      usage = probe_();
      if (usage.ratio() < options_.warn_ratio) break;
    }
    level = level_of(usage.ratio());
  }
  shopeasy::sync::MutexLock lock(mutex_);
  if (level != level_) {
    if (level == "ok") {
      logger_.info("disk_alert_cleared", {{"used_ratio", usage.ratio()}});
    } else {
      logger_.log(level == "critical" ? log::Level::kError : log::Level::kWarn, "disk_alert",
                  {{"level", level},
                   {"used_ratio", usage.ratio()},
                   {"used_bytes", usage.used_bytes},
                   {"total_bytes", usage.total_bytes}});
    }
    level_ = level;
  }
  last_ = usage;
  used_ratio_.set(usage.ratio());
  level_gauge_.set(level == "critical" ? 2 : level == "warning" ? 1 : 0);
}

nlohmann::json DiskGuard::status() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return {{"level", level_},
          {"used_ratio", last_.ratio()},
          {"used_bytes", last_.used_bytes},
          {"total_bytes", last_.total_bytes}};
}

}  // namespace shopeasy::edge::diskguard
