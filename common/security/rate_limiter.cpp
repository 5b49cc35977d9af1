#include "common/security/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace shopeasy::security {

namespace {

constexpr std::size_t kMaxClientsBound = 10'000'000;

// Bounds that keep every computed wait within a 64-bit millisecond count.
constexpr double kMaxCapacity = 1e9;
constexpr double kMinRefill = 1e-6;
constexpr double kMaxRefill = 1e9;
// Full buckets dropped from the cold end per call, so idle clients leave the table
// without a sweep over all of it.
constexpr int kIdleDropsPerCall = 4;

RateLimiterOptions clamped(RateLimiterOptions o) {
  o.capacity = std::isfinite(o.capacity) ? std::clamp(o.capacity, 1.0, kMaxCapacity) : 1.0;
  o.refill_per_second = std::isfinite(o.refill_per_second)
                            ? std::clamp(o.refill_per_second, kMinRefill, kMaxRefill)
                            : 1.0;
  o.max_clients = std::clamp<std::size_t>(o.max_clients, 1, kMaxClientsBound);
  return o;
}

}  // namespace

Status RateLimiterOptions::validate() const {
  if (!(capacity >= 1 && capacity <= kMaxCapacity)) {
    return invalid_argument("capacity must be 1..1e9", "capacity");
  }
  if (!(refill_per_second >= kMinRefill && refill_per_second <= kMaxRefill)) {
    return invalid_argument("refill_per_second must be 1e-6..1e9", "refill_per_second");
  }
  if (max_clients < 1 || max_clients > kMaxClientsBound) {
    return invalid_argument("max_clients must be 1..10000000", "max_clients");
  }
  return Status::ok();
}

std::int64_t Decision::retry_after_seconds() const {
  if (allowed) return 0;
  return std::max<std::int64_t>(1, (retry_after.count() + 999) / 1000);
}

RateLimiter::RateLimiter(RateLimiterOptions options, const Clock& clock)
    : options_(clamped(options)), clock_(clock) {}

double RateLimiter::refill(const Bucket& b, MonoTime now) const {
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.updated).count());
  return std::min(options_.capacity, b.tokens + elapsed * options_.refill_per_second);
}

void RateLimiter::make_room(MonoTime now) {
  // Full buckets are dropped from the cold end first: forgetting them is exact.
  for (int i = 0; i < kIdleDropsPerCall && !lru_.empty(); ++i) {
    Bucket& oldest = lru_.back();
    if (refill(oldest, now) < options_.capacity) break;
    index_.erase(oldest.key);
    lru_.pop_back();
  }
  while (!lru_.empty() && lru_.size() >= options_.max_clients) {
    Bucket& oldest = lru_.back();
    if (refill(oldest, now) < options_.capacity) break;
    index_.erase(oldest.key);
    lru_.pop_back();
  }
  if (lru_.size() >= options_.max_clients) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++lossy_evictions_;
  }
}

Decision RateLimiter::allow(std::string_view key, double cost) {
  return allow(key, clock_.mono_now(), cost);
}

Decision RateLimiter::allow(std::string_view key, MonoTime now, double cost) {
  cost = std::clamp(std::isfinite(cost) ? cost : options_.capacity, 1e-9, options_.capacity);
  sync::MutexLock lock(mutex_);
  auto it = index_.find(key);
  Lru::iterator bucket;
  if (it == index_.end()) {
    make_room(now);
    lru_.push_front(Bucket{std::string(key), options_.capacity, now});
    bucket = lru_.begin();
    index_.emplace(bucket->key, bucket);
  } else {
    bucket = it->second;
    lru_.splice(lru_.begin(), lru_, bucket);  // iterators and the key's storage stay valid
  }
  // A clock read before another thread's later one must not move the bucket backwards.
  const MonoTime at = std::max(now, bucket->updated);
  bucket->tokens = refill(*bucket, at);
  bucket->updated = at;

  Decision d;
  if (bucket->tokens >= cost) {
    bucket->tokens -= cost;
    d.allowed = true;
    d.remaining = bucket->tokens;
    return d;
  }
  const double wait_s = (cost - bucket->tokens) / options_.refill_per_second;
  d.retry_after =
      std::max(std::chrono::milliseconds(1),
               std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(wait_s * 1000))));
  d.remaining = bucket->tokens;
  return d;
}

std::size_t RateLimiter::tracked_clients() const {
  sync::MutexLock lock(mutex_);
  return lru_.size();
}

std::uint64_t RateLimiter::lossy_evictions() const {
  sync::MutexLock lock(mutex_);
  return lossy_evictions_;
}

std::string client_key(const http::Request& request) {
  if (request.principal.authenticated()) return "principal:" + request.principal.subject;
  return "addr:" + request.remote_addr;
}

}  // namespace shopeasy::security
