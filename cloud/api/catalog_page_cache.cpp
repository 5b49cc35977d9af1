#include "cloud/api/catalog_page_cache.hpp"

#include <utility>

namespace shopeasy::cloud::api {

CatalogPageCache::CatalogPageCache(const Clock& clock, Options options, metrics::Registry& metrics)
    : clock_(clock),
      options_(options),
      hits_(metrics.counter("cloud_catalog_page_cache_hits_total",
                            "Customer catalog pages served from the instance's short-lived copy")),
      misses_(metrics.counter("cloud_catalog_page_cache_misses_total",
                              "Customer catalog pages read from the database")) {}

std::string CatalogPageCache::key(const std::string& store_id, const std::string& after,
                                  int limit) {
  // Store ids and SKUs never hold a newline (both are validated), so the key is unique.
  return store_id + '\n' + after + '\n' + std::to_string(limit);
}

std::shared_ptr<const CatalogPageCache::Page> CatalogPageCache::find(const std::string& store_id,
                                                                     const std::string& after,
                                                                     int limit) {
  const MonoTime now = clock_.mono_now();
  {
    sync::MutexLock lock(mutex_);
    const auto it = pages_.find(key(store_id, after, limit));
    if (it != pages_.end() && now < it->second.expires) {
      hits_.inc();
      return it->second.page;
    }
  }
  misses_.inc();
  return nullptr;
}

void CatalogPageCache::put(const std::string& store_id, const std::string& after, int limit,
                           Page page) {
  Entry entry{std::make_shared<const Page>(std::move(page)), clock_.mono_now() + options_.ttl,
              store_id};
  sync::MutexLock lock(mutex_);
  if (pages_.size() >= options_.max_pages) pages_.clear();
  pages_[key(store_id, after, limit)] = std::move(entry);
}

void CatalogPageCache::drop_store(const std::string& store_id) {
  sync::MutexLock lock(mutex_);
  std::erase_if(pages_, [&](const auto& kv) { return kv.second.store_id == store_id; });
}

void CatalogPageCache::drop_all() {
  sync::MutexLock lock(mutex_);
  pages_.clear();
}

}  // namespace shopeasy::cloud::api
