#include "edge/replenish/forecast_cache.hpp"

namespace shopeasy::edge::replenish {

ForecastCache::ForecastCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

std::size_t ForecastCache::entry_bytes(const std::string& sku, const DemandForecast& f) {
  // The entry, its map node and key, the forecast and its vector; an estimate of the
  // heap, not allocator-exact.
  return sizeof(Entry) + sizeof(DemandForecast) + 64 + 2 * sku.capacity() +
         f.mean.capacity() * sizeof(double) + f.method.capacity() + sizeof(std::string) * 2;
}

StatusOr<std::shared_ptr<const DemandForecast>> ForecastCache::get(const std::string& sku,
                                                                   std::int64_t hour,
                                                                   const Fit& fit) {
  shopeasy::sync::MutexLock lock(mu_);
  bool waited = false;
  for (;;) {
    Entry& e = entries_[sku];
    if (e.value && e.hour == hour) {
      lru_.splice(lru_.begin(), lru_, e.lru);
      ++stats_.hits;
      return e.value;
    }
    if (!e.fitting) break;
    if (!waited) ++stats_.waits;
    waited = true;
    fitted_.wait(mu_);
  }
  Entry& e = entries_[sku];
  drop_value(e);  // another hour's
  e.fitting = true;
  const std::uint64_t version = e.version;
  ++stats_.misses;
  lock.unlock();
  StatusOr<DemandForecast> result = fit();
  lock.lock();
  // References into the map stay valid across rehashing; the entry is not erased
  // while fitting is set.
  Entry& done = entries_[sku];
  done.fitting = false;
  std::shared_ptr<const DemandForecast> value;
  if (result.ok()) value = std::make_shared<const DemandForecast>(std::move(*result));
  if (value && done.version == version) {
    done.hour = hour;
    done.value = value;
    done.bytes = entry_bytes(sku, *value);
    lru_.push_front(sku);
    done.lru = lru_.begin();
    stats_.bytes += done.bytes;
    evict();
  } else if (!done.value) {
    entries_.erase(sku);
  }
  fitted_.notify_all();
  if (!value) return result.status();
  return value;
}

void ForecastCache::drop_value(Entry& e) {
  if (!e.value) return;
  lru_.erase(e.lru);
  stats_.bytes -= e.bytes;
  e.value.reset();
  e.bytes = 0;
}

void ForecastCache::evict() {
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    const std::string sku = lru_.back();
    auto it = entries_.find(sku);
    drop_value(it->second);
    if (!it->second.fitting) entries_.erase(it);
    ++stats_.evictions;
  }
}

std::shared_ptr<const DemandForecast> ForecastCache::peek(const std::string& sku,
                                                          std::int64_t hour) const {
  shopeasy::sync::MutexLock lock(mu_);
  const auto it = entries_.find(sku);
  if (it == entries_.end() || it->second.hour != hour) return nullptr;
  return it->second.value;  // null while none is kept (a fit under way)
}

void ForecastCache::invalidate(const std::string& sku) {
  shopeasy::sync::MutexLock lock(mu_);
  auto it = entries_.find(sku);
  if (it == entries_.end()) return;
  drop_value(it->second);
  ++it->second.version;
  if (!it->second.fitting) entries_.erase(it);
}

void ForecastCache::invalidate_all() {
  shopeasy::sync::MutexLock lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    drop_value(it->second);
    ++it->second.version;
    it = it->second.fitting ? std::next(it) : entries_.erase(it);
  }
}

ForecastCacheStats ForecastCache::stats() const {
  shopeasy::sync::MutexLock lock(mu_);
  ForecastCacheStats s = stats_;
  s.entries = lru_.size();
  return s;
}

}  // namespace shopeasy::edge::replenish
