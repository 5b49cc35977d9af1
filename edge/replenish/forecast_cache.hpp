// Each SKU's fitted demand forecast, kept between proposals so that a manager opening
// the reorder page does not refit every linked SKU on every request.
//
// An entry is for one store-local hour: the forecast reads history up to the start of
// the current hour, so within the hour it can only change when the SKU's ledger
// changes (the owner calls invalidate() for it) and it is refitted at the first request
// of the next hour. Concurrent requests for a SKU being fitted wait for that fit
// instead of fitting it again. Memory is bounded: past max_bytes the least recently
// used entries are dropped. Failed fits are not kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/replenish/policy.hpp"

namespace shopeasy::edge::replenish {

struct ForecastCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // fits run
  std::uint64_t waits = 0;      // requests that waited for another request's fit
  std::uint64_t evictions = 0;  // entries dropped for the memory bound
  std::size_t entries = 0;
  std::size_t bytes = 0;  // estimated heap held by the entries
};

class ForecastCache {
 public:
  using Fit = std::function<StatusOr<DemandForecast>()>;

  explicit ForecastCache(std::size_t max_bytes);

  // The SKU's forecast for local hour `hour`: the kept one if it was fitted for that
  // hour and not invalidated since, else fit()'s (run once however many callers ask
  // for the SKU at the same time).
  StatusOr<std::shared_ptr<const DemandForecast>> get(const std::string& sku, std::int64_t hour,
                                                      const Fit& fit) EXCLUDES(mu_);
  // The SKU's forecast if one is kept for local hour `hour`, else null. Never fits and
  // never waits for a fit under way; not counted in the stats.
  std::shared_ptr<const DemandForecast> peek(const std::string& sku, std::int64_t hour) const
      EXCLUDES(mu_);
  // The SKU's history or supply changed: its next get() fits again, and a fit running
  // now is not kept.
  void invalidate(const std::string& sku) EXCLUDES(mu_);
  void invalidate_all() EXCLUDES(mu_);

  ForecastCacheStats stats() const EXCLUDES(mu_);
  static std::size_t entry_bytes(const std::string& sku, const DemandForecast& f);

 private:
  struct Entry {
    std::int64_t hour = 0;
    std::shared_ptr<const DemandForecast> value;  // null while none is kept
    bool fitting = false;
    std::uint64_t version = 0;  // bumped by invalidate(): a fit started before is stale
    std::size_t bytes = 0;
    std::list<std::string>::iterator lru;  // valid when value is set
  };

  void drop_value(Entry& e) REQUIRES(mu_);
  void evict() REQUIRES(mu_);

  const std::size_t max_bytes_;
  mutable shopeasy::sync::Mutex mu_;  // guards entries_, lru_, stats_ and every Entry
  shopeasy::sync::CondVar fitted_;    // signalled when a fit ends
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
  // SKUs with a kept value, most recently used first.
  std::list<std::string> lru_ GUARDED_BY(mu_);
  ForecastCacheStats stats_ GUARDED_BY(mu_);
};

}  // namespace shopeasy::edge::replenish
