// RateLimiter: a token bucket per client. Each client (a principal's subject or a
// remote address; see client_key()) has a bucket of `capacity` tokens that refills at
// `refill_per_second`; a request takes one token or is refused with the time until one
// is available (for a Retry-After header). Memory is bounded: at most `max_clients`
// buckets are kept, least recently used first out. A bucket that has refilled to full
// carries no information (a new bucket starts full), so those are dropped first and
// dropping them changes no decision; only when every tracked client is mid-burst is a
// partly drained bucket dropped, which can let that client burst again. Idle full
// buckets also leave a few at a time on each new client, without a sweep. Time comes
// from the monotonic clock, so wall-clock jumps neither block nor release anyone.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock/clock.hpp"
#include "common/http/types.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::security {

struct RateLimiterOptions {
  double capacity = 20;           // burst size, 1..1e9
  double refill_per_second = 10;  // sustained rate, 1e-6..1e9
  std::size_t max_clients = 10000;
  // kInvalidArgument naming the field when a value is out of range.
  Status validate() const;
};

struct Decision {
  bool allowed = false;
  // When refused: how long until the request would be allowed (at least 1 ms).
  // Zero when allowed.
  std::chrono::milliseconds retry_after{0};
  double remaining = 0;  // tokens left after this decision
  // Whole seconds for an HTTP Retry-After header (rounded up, at least 1 when refused).
  std::int64_t retry_after_seconds() const;
};

class RateLimiter {
 public:
  // Options must be valid (see validate()); invalid ones are clamped to the nearest
  // valid value. `clock` must outlive the limiter.
  RateLimiter(RateLimiterOptions options, const Clock& clock);

  // Takes `cost` tokens (> 0, at most capacity) from `key`'s bucket if it has them.
  Decision allow(std::string_view key, double cost = 1) EXCLUDES(mutex_);
  // As above at monotonic time `now` (for callers that already read the clock).
  Decision allow(std::string_view key, MonoTime now, double cost = 1) EXCLUDES(mutex_);

  // Buckets currently tracked (<= max_clients).
  std::size_t tracked_clients() const EXCLUDES(mutex_);
  // Partly drained buckets dropped because the table was full; each one may have let a
  // client burst early. A growing count means max_clients is too small.
  std::uint64_t lossy_evictions() const EXCLUDES(mutex_);

 private:
  struct Bucket {
    std::string key;
    double tokens;
    MonoTime updated;
  };
  using Lru = std::list<Bucket>;  // most recently used first

  double refill(const Bucket& b, MonoTime now) const;
  void make_room(MonoTime now) REQUIRES(mutex_);

  RateLimiterOptions options_;
  const Clock& clock_;
  // Guards the buckets and their index: every request thread spends tokens.
  mutable sync::Mutex mutex_;
  Lru lru_ GUARDED_BY(mutex_);
  // Views into lru_ keys.
  std::unordered_map<std::string_view, Lru::iterator> index_ GUARDED_BY(mutex_);
  std::uint64_t lossy_evictions_ GUARDED_BY(mutex_) = 0;
};

// The key a request is limited by: "principal:<subject>" when authenticated, otherwise
// "addr:<remote address>".
std::string client_key(const http::Request& request);

}  // namespace shopeasy::security
