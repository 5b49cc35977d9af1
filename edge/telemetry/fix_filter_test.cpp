#include "edge/telemetry/fix_filter.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "common/geohash/geohash.hpp"

namespace shopeasy::edge::telemetry {
namespace {

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;
constexpr std::int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr double kMetresPerDegLat = 111'195.0;

double metres_to_dlat(double m) { return m / kMetresPerDegLat; }
double metres_to_dlon(double m, double lat) {
  return m / (kMetresPerDegLat * std::cos(lat * std::numbers::pi / 180.0));
}

wire::Telemetry fix(double lat, double lon, std::int64_t ts, std::optional<double> accuracy = 10,
                    std::optional<double> speed = std::nullopt) {
  wire::Telemetry t;
  t.runner_id = "r1";
  t.lat = lat;
  t.lon = lon;
  t.device_ts_ms = ts;
  t.accuracy_m = accuracy;
  t.speed_mps = speed;
  return t;
}

double dist(double lat1, double lon1, double lat2, double lon2) {
  return geohash::haversine_m({lat1, lon1}, {lat2, lon2});
}

class FixFilterTest : public ::testing::Test {
 protected:
  FilterOptions options_;
  FixFilter filter_{options_};
};

TEST_F(FixFilterTest, FirstFixIsLiveAndShownExactly) {
  auto d = filter_.offer(fix(kLat, kLon, kT0), kT0);
  EXPECT_EQ(d.verdict, FixVerdict::kLive);
  EXPECT_TRUE(d.moved);
  ASSERT_TRUE(d.trail.has_value());
  EXPECT_EQ(d.trail->ts_ms, kT0);
  const Fix shown = filter_.shown(kT0 + 5);
  EXPECT_DOUBLE_EQ(shown.lat, kLat);
  EXPECT_DOUBLE_EQ(shown.lon, kLon);
  EXPECT_EQ(shown.device_ts_ms, kT0);
  EXPECT_EQ(shown.received_ts_ms, kT0 + 5);
}

TEST_F(FixFilterTest, ImpossibleJumpIsRejectedAndLiveFixKept) {
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0), kT0).verdict, FixVerdict::kLive);
  // 5 km in one second is 5,000 m/s.
  auto d = filter_.offer(fix(kLat + metres_to_dlat(5000), kLon, kT0 + 1000), kT0 + 1000);
  EXPECT_EQ(d.verdict, FixVerdict::kTeleport);
  EXPECT_FALSE(d.trail.has_value());
  EXPECT_DOUBLE_EQ(filter_.shown(0).lat, kLat);
  EXPECT_EQ(filter_.shown(0).device_ts_ms, kT0);
  // The next honest fix is judged against the last accepted one and goes through.
  EXPECT_EQ(filter_.offer(fix(kLat + metres_to_dlat(5), kLon, kT0 + 2000), kT0 + 2000).verdict,
            FixVerdict::kLive);
}

TEST_F(FixFilterTest, JumpJustOverTheSpeedBoundIsRejectedJustUnderAccepted) {
  // Accuracy 0 so the allowance does not blur the bound: 50 m/s over 10 s is 500 m.
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0, 0), kT0).verdict, FixVerdict::kLive);
  EXPECT_EQ(
      filter_.offer(fix(kLat + metres_to_dlat(520), kLon, kT0 + 10'000, 0), kT0 + 10'000).verdict,
      FixVerdict::kTeleport);
  EXPECT_EQ(
      filter_.offer(fix(kLat + metres_to_dlat(480), kLon, kT0 + 10'000, 0), kT0 + 10'000).verdict,
      FixVerdict::kLive);
}

TEST_F(FixFilterTest, FarMoveAfterLongSilenceIsARealMove) {
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0), kT0).verdict, FixVerdict::kLive);
  const double far_lat = kLat + metres_to_dlat(5000);
  const std::int64_t t1 = kT0 + 10 * 60'000;  // 5 km in 10 min: 8.3 m/s
  EXPECT_EQ(filter_.offer(fix(far_lat, kLon, t1), t1).verdict, FixVerdict::kLive);
  // One far fix alone could be noise; the second agreeing one moves the marker.
  EXPECT_EQ(filter_.offer(fix(far_lat, kLon, t1 + 1000), t1 + 1000).verdict, FixVerdict::kLive);
  EXPECT_LT(dist(filter_.shown(0).lat, filter_.shown(0).lon, far_lat, kLon), 1.0);
}

TEST_F(FixFilterTest, ReportedSpeedMovesTheMarkerAtOnce) {
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0), kT0).verdict, FixVerdict::kLive);
  const double lat = kLat + metres_to_dlat(40);
  auto d = filter_.offer(fix(lat, kLon, kT0 + 4000, 10, 10.0), kT0 + 4000);
  EXPECT_EQ(d.verdict, FixVerdict::kLive);
  EXPECT_TRUE(d.moved);
  EXPECT_DOUBLE_EQ(filter_.shown(0).lat, lat);
}

TEST_F(FixFilterTest, FarFutureTimestampIsRejected) {
  EXPECT_EQ(filter_.offer(fix(kLat, kLon, kT0 + 61'000), kT0).verdict, FixVerdict::kFuture);
  EXPECT_FALSE(filter_.has_live());
  EXPECT_EQ(filter_.offer(fix(kLat, kLon, kT0 + 59'000), kT0).verdict, FixVerdict::kLive);
}

TEST_F(FixFilterTest, ReplayedBacklogGoesToHistoryOnly) {
  const double live_lat = kLat + metres_to_dlat(2000);
  ASSERT_EQ(filter_.offer(fix(live_lat, kLon, kT0 + 3'600'000), kT0 + 3'600'000).verdict,
            FixVerdict::kLive);
  // An hour of queued fixes from the other end of town arrives after the live one.
  for (int i = 0; i < 10; ++i) {
    const std::int64_t ts = kT0 + i * 1000;
    auto d = filter_.offer(fix(kLat + metres_to_dlat(i), kLon, ts), kT0 + 3'601'000);
    EXPECT_EQ(d.verdict, FixVerdict::kBacklog);
    ASSERT_TRUE(d.trail.has_value());
    EXPECT_EQ(d.trail->ts_ms, ts);
    EXPECT_DOUBLE_EQ(d.trail->lat, kLat + metres_to_dlat(i));
  }
  EXPECT_DOUBLE_EQ(filter_.shown(0).lat, live_lat);
  EXPECT_EQ(filter_.shown(0).device_ts_ms, kT0 + 3'600'000);
}

TEST_F(FixFilterTest, TeleportInsideBacklogIsRejectedToo) {
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0 + 100'000), kT0 + 100'000).verdict,
            FixVerdict::kLive);
  EXPECT_EQ(filter_.offer(fix(kLat, kLon, kT0), kT0 + 100'000).verdict, FixVerdict::kBacklog);
  EXPECT_EQ(filter_.offer(fix(kLat + 1.0, kLon, kT0 + 1000), kT0 + 100'000).verdict,
            FixVerdict::kTeleport);
}

TEST_F(FixFilterTest, SameFixRepeatedIsCountedAndANewFixResets) {
  ASSERT_EQ(filter_.offer(fix(kLat, kLon, kT0), kT0).verdict, FixVerdict::kLive);
  for (int i = 1; i <= 3; ++i) {
    auto d = filter_.offer(fix(kLat, kLon, kT0), kT0 + i * 1000);
    EXPECT_EQ(d.verdict, FixVerdict::kRepeat);
    EXPECT_EQ(d.repeats, i);
  }
  EXPECT_EQ(filter_.repeats(), 3);
  // Same place, new device time: a runner standing still, not a frozen GPS.
  EXPECT_EQ(filter_.offer(fix(kLat, kLon, kT0 + 4000), kT0 + 4000).verdict, FixVerdict::kLive);
  EXPECT_EQ(filter_.repeats(), 0);
}

TEST_F(FixFilterTest, ConsistentFixesAwayFromABadLiveFixRelocate) {
  // The first fix was wrong (a cell-tower guess); the phone then reports from the real
  // place, far away, consistently.
  ASSERT_EQ(filter_.offer(fix(kLat + 0.1, kLon, kT0), kT0).verdict, FixVerdict::kLive);
  EXPECT_EQ(filter_.offer(fix(kLat, kLon, kT0 + 1000), kT0 + 1000).verdict, FixVerdict::kTeleport);
  EXPECT_EQ(
      filter_.offer(fix(kLat, kLon + metres_to_dlon(3, kLat), kT0 + 2000), kT0 + 2000).verdict,
      FixVerdict::kTeleport);
  auto d = filter_.offer(fix(kLat, kLon + metres_to_dlon(6, kLat), kT0 + 3000), kT0 + 3000);
  EXPECT_EQ(d.verdict, FixVerdict::kLive);
  EXPECT_LT(dist(filter_.shown(0).lat, filter_.shown(0).lon, kLat, kLon), 10.0);
}

TEST_F(FixFilterTest, SmoothingTakesTheShortWayRoundTheAntimeridian) {
  ASSERT_EQ(filter_.offer(fix(0, 179.99990, kT0), kT0).verdict, FixVerdict::kLive);
  ASSERT_EQ(filter_.offer(fix(0, -179.99990, kT0 + 1000), kT0 + 1000).verdict, FixVerdict::kLive);
  const double lon = filter_.shown(0).lon;
  EXPECT_GT(std::abs(lon), 179.9998);
  EXPECT_LE(std::abs(lon), 180.0);
}

// Standing still with 20 m accuracy noise (68% of fixes within 20 m) for an hour: the
// marker must stay put: no step a person would see as a jump, never far from the truth.
TEST_F(FixFilterTest, StandingStillNoiseDoesNotMoveTheMarkerAbout) {
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(0.0, 20.0 / 1.51);
  double max_step = 0;
  double max_error = 0;
  double prev_lat = kLat;
  double prev_lon = kLon;
  int rejected = 0;
  for (int i = 0; i < 3600; ++i) {
    const std::int64_t ts = kT0 + i * 1000;
    const double lat = kLat + metres_to_dlat(noise(rng));
    const double lon = kLon + metres_to_dlon(noise(rng), kLat);
    auto d = filter_.offer(fix(lat, lon, ts, 20.0, 0.0), ts);
    if (d.verdict != FixVerdict::kLive) ++rejected;
    const Fix shown = filter_.shown(ts);
    if (i > 0) max_step = std::max(max_step, dist(prev_lat, prev_lon, shown.lat, shown.lon));
    max_error = std::max(max_error, i > 0 ? dist(kLat, kLon, shown.lat, shown.lon) : 0.0);
    prev_lat = shown.lat;
    prev_lon = shown.lon;
  }
  EXPECT_EQ(rejected, 0);
  EXPECT_LT(max_step, 12.0);
  EXPECT_LT(max_error, 25.0);
}

// A walk (no speed reported) and a ride (speed reported) with the same noise: every fix
// accepted and the marker keeps up.
TEST_F(FixFilterTest, RealMovesAreFollowed) {
  for (const auto& [speed, reported] : {std::pair{1.5, false}, std::pair{8.0, true}}) {
    FixFilter f(options_);
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 20.0 / 1.51);
    double worst_lag = 0;
    for (int i = 0; i < 600; ++i) {
      const std::int64_t ts = kT0 + i * 1000;
      const double true_lat = kLat + metres_to_dlat(speed * i);
      auto t = fix(true_lat + metres_to_dlat(noise(rng)), kLon + metres_to_dlon(noise(rng), kLat),
                   ts, 20.0, reported ? std::optional<double>(speed) : std::nullopt);
      ASSERT_EQ(f.offer(t, ts).verdict, FixVerdict::kLive) << "speed " << speed << " fix " << i;
      if (i > 30) {
        const Fix shown = f.shown(ts);
        worst_lag = std::max(worst_lag, dist(true_lat, kLon, shown.lat, shown.lon));
      }
    }
    EXPECT_LT(worst_lag, 60.0) << "speed " << speed;
  }
}

TEST_F(FixFilterTest, OnePercentTeleportsInANoisyTraceAreAllRejected) {
  std::mt19937 rng(1234);
  std::normal_distribution<double> noise(0.0, 20.0 / 1.51);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int teleports = 0;
  int teleports_rejected = 0;
  int honest_rejected = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t ts = kT0 + i * 1000;
    const bool teleport = i > 0 && unit(rng) < 0.01;
    double lat = kLat + metres_to_dlat(noise(rng));
    double lon = kLon + metres_to_dlon(noise(rng), kLat);
    if (teleport) {
      // 150 m to 20 km in a random direction.
      const double r = 150.0 * std::pow(20'000.0 / 150.0, unit(rng));
      const double a = unit(rng) * 2 * std::numbers::pi;
      lat += metres_to_dlat(r * std::sin(a));
      lon += metres_to_dlon(r * std::cos(a), kLat);
    }
    const auto verdict = filter_.offer(fix(lat, lon, ts, 20.0, 0.0), ts).verdict;
    if (teleport) {
      ++teleports;
      if (verdict == FixVerdict::kTeleport) ++teleports_rejected;
    } else if (verdict != FixVerdict::kLive) {
      ++honest_rejected;
    }
  }
  ASSERT_GT(teleports, 150);
  EXPECT_GE(teleports_rejected * 100, teleports * 99);
  EXPECT_EQ(honest_rejected, 0);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
