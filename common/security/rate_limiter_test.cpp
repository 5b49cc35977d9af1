#include "common/security/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace shopeasy::security {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RateLimiterOptions opts(double capacity, double rate, std::size_t max_clients = 100) {
  RateLimiterOptions o;
  o.capacity = capacity;
  o.refill_per_second = rate;
  o.max_clients = max_clients;
  return o;
}

TEST(RateLimiterTest, AllowsABurstThenRefusesWithRetryAfter) {
  FakeClock clock;
  RateLimiter limiter(opts(3, 1), clock);
  for (int i = 0; i < 3; ++i) {
    Decision d = limiter.allow("addr:10.0.0.1");
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.retry_after, milliseconds(0));
    EXPECT_EQ(d.retry_after_seconds(), 0);
    EXPECT_DOUBLE_EQ(d.remaining, 2 - i);
  }
  Decision refused = limiter.allow("addr:10.0.0.1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(1000));
  EXPECT_EQ(refused.retry_after_seconds(), 1);

  clock.advance(milliseconds(400));
  Decision still = limiter.allow("addr:10.0.0.1");
  EXPECT_FALSE(still.allowed);
  EXPECT_EQ(still.retry_after, milliseconds(600));
  clock.advance(milliseconds(600));
  EXPECT_TRUE(limiter.allow("addr:10.0.0.1").allowed);
  EXPECT_FALSE(limiter.allow("addr:10.0.0.1").allowed);
}

TEST(RateLimiterTest, SustainsTheRefillRateAndNeverExceedsCapacity) {
  FakeClock clock;
  RateLimiter limiter(opts(5, 10), clock);
  // An hour idle does not bank more than the capacity.
  clock.advance(std::chrono::hours(1));
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += limiter.allow("k").allowed ? 1 : 0;
  EXPECT_EQ(allowed, 5);
  // Then 10 per second: over 2 s of requests every 50 ms, 20 are allowed.
  allowed = 0;
  for (int i = 0; i < 40; ++i) {
    clock.advance(milliseconds(50));
    allowed += limiter.allow("k").allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 20);
}

TEST(RateLimiterTest, ClientsHaveSeparateBuckets) {
  FakeClock clock;
  RateLimiter limiter(opts(1, 1), clock);
  EXPECT_TRUE(limiter.allow("addr:a").allowed);
  EXPECT_FALSE(limiter.allow("addr:a").allowed);
  EXPECT_TRUE(limiter.allow("addr:b").allowed);
  EXPECT_TRUE(limiter.allow("principal:a").allowed);
}

TEST(RateLimiterTest, CostTakesSeveralTokens) {
  FakeClock clock;
  RateLimiter limiter(opts(10, 2), clock);
  EXPECT_TRUE(limiter.allow("k", 8).allowed);
  Decision d = limiter.allow("k", 4);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(1000));  // 2 missing tokens at 2/s
  EXPECT_TRUE(limiter.allow("k", 2).allowed);
}

TEST(RateLimiterTest, WallClockJumpsDoNotMatter) {
  FakeClock clock;
  RateLimiter limiter(opts(1, 1), clock);
  EXPECT_TRUE(limiter.allow("k").allowed);
  clock.set_wall(clock.wall_now() + std::chrono::hours(24));
  EXPECT_FALSE(limiter.allow("k").allowed);
  clock.set_wall(clock.wall_now() - std::chrono::hours(48));
  clock.advance(seconds(1));
  EXPECT_TRUE(limiter.allow("k").allowed);
}

TEST(RateLimiterTest, AnEarlierTimestampDoesNotRewindABucket) {
  FakeClock clock;
  RateLimiter limiter(opts(1, 1), clock);
  const MonoTime t0 = clock.mono_now();
  EXPECT_TRUE(limiter.allow("k", t0 + seconds(5)).allowed);
  // A thread that read the clock earlier arrives late: no refill from the past.
  EXPECT_FALSE(limiter.allow("k", t0).allowed);
}

TEST(RateLimiterTest, BoundsTrackedClientsDroppingFullBucketsFirst) {
  FakeClock clock;
  RateLimiter limiter(opts(2, 1, 3), clock);
  EXPECT_TRUE(limiter.allow("busy").allowed);
  EXPECT_TRUE(limiter.allow("busy").allowed);  // drained
  EXPECT_TRUE(limiter.allow("idle-1").allowed);
  EXPECT_TRUE(limiter.allow("idle-2").allowed);
  EXPECT_EQ(limiter.tracked_clients(), 3u);
  // The idle clients refill to full; the busy one spends what it gets back.
  clock.advance(milliseconds(1500));
  EXPECT_TRUE(limiter.allow("busy").allowed);  // 0.5 left

  // A new client replaces the full buckets, which is exact: no one gains anything.
  EXPECT_TRUE(limiter.allow("new-0").allowed);
  EXPECT_EQ(limiter.tracked_clients(), 2u);
  EXPECT_EQ(limiter.lossy_evictions(), 0u);
  EXPECT_FALSE(limiter.allow("busy").allowed) << "the busy client must keep its drained bucket";

  // With every tracked bucket partly drained, the least recently used one goes.
  EXPECT_TRUE(limiter.allow("new-1").allowed);
  EXPECT_TRUE(limiter.allow("new-2").allowed);
  EXPECT_EQ(limiter.tracked_clients(), 3u);
  EXPECT_EQ(limiter.lossy_evictions(), 1u);
  EXPECT_FALSE(limiter.allow("busy").allowed);
  // new-0 was the one forgotten: it starts over with a full bucket.
  EXPECT_TRUE(limiter.allow("new-0").allowed);
  EXPECT_TRUE(limiter.allow("new-0").allowed);
  EXPECT_LE(limiter.tracked_clients(), 3u);
}

TEST(RateLimiterTest, IdleClientsLeaveTheTable) {
  FakeClock clock;
  RateLimiter limiter(opts(2, 1, 1000), clock);
  for (int i = 0; i < 8; ++i) (void)limiter.allow("c" + std::to_string(i));
  EXPECT_EQ(limiter.tracked_clients(), 8u);
  clock.advance(seconds(10));
  (void)limiter.allow("late");
  (void)limiter.allow("later");
  EXPECT_EQ(limiter.tracked_clients(), 2u);
  EXPECT_EQ(limiter.lossy_evictions(), 0u);
}

TEST(RateLimiterTest, OptionsAreValidatedAndClamped) {
  EXPECT_TRUE(opts(1, 1).validate().is_ok());
  EXPECT_EQ(opts(0.5, 1).validate().field(), "capacity");
  EXPECT_EQ(opts(5, 0).validate().field(), "refill_per_second");
  EXPECT_EQ(opts(5, -1).validate().field(), "refill_per_second");
  EXPECT_EQ(opts(5, 1, 0).validate().field(), "max_clients");
  FakeClock clock;
  RateLimiter clamped(opts(0, 0, 0), clock);
  EXPECT_TRUE(clamped.allow("k").allowed);
  Decision d = clamped.allow("k");
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after, milliseconds(0));
}

TEST(RateLimiterTest, ClientKeyPrefersThePrincipal) {
  http::Request r;
  r.remote_addr = "192.0.2.7";
  EXPECT_EQ(client_key(r), "addr:192.0.2.7");
  r.principal = http::Principal{"asha", "picker"};
  EXPECT_EQ(client_key(r), "principal:asha");
}

TEST(RateLimiterTest, ConcurrentCallersShareOneBudget) {
  FakeClock clock;
  RateLimiter limiter(opts(100, 1e-6, 10), clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (limiter.allow("shared").allowed) ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace shopeasy::security
