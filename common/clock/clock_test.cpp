#include "common/clock/clock.hpp"

#include <gtest/gtest.h>

namespace shopeasy {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  const auto wall = clock.wall_now();
  const auto mono = clock.mono_now();
  EXPECT_EQ(clock.wall_now(), wall);
  clock.advance(1500ms);
  EXPECT_EQ(clock.wall_now() - wall, 1500ms);
  EXPECT_EQ(clock.mono_now() - mono, 1500ms);
}

TEST(FakeClockTest, SettingWallLeavesMonotonicAlone) {
  FakeClock clock;
  const auto mono = clock.mono_now();
  clock.set_wall(from_unix_ms(0));
  EXPECT_EQ(to_unix_ms(clock.wall_now()), 0);
  EXPECT_EQ(clock.mono_now(), mono);
}

TEST(ClockFormatTest, Rfc3339WithMilliseconds) {
  EXPECT_EQ(format_rfc3339(from_unix_ms(1767225600123)), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(format_rfc3339(from_unix_ms(0)), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace shopeasy
