#include "common/log/log.hpp"

#include <gtest/gtest.h>

namespace shopeasy::log {
namespace {

using namespace std::chrono_literals;

TEST(LogFormatTest, OneLineWithQuotedValues) {
  const std::string line =
      format_line(from_unix_ms(1767225600000), Level::kWarn, "edge.mqtt", "payload_dropped",
                  {{"reason", "malformed json"}, {"runner", "r-7"}, {"bytes", 12}, {"ok", false}});
  EXPECT_EQ(line,
            "ts=2026-01-01T00:00:00.000Z level=warn component=edge.mqtt event=payload_dropped "
            "reason=\"malformed json\" runner=r-7 bytes=12 ok=false");
}

TEST(LogFormatTest, HostileValuesCannotBreakTheLine) {
  const std::string line = format_line(from_unix_ms(0), Level::kInfo, "c", "e",
                                       {{"v", "a\nlevel=error \"x\"\x01"}, {"empty", ""}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(R"(v="a\nlevel=error \"x\"\x01")"), std::string::npos);
  EXPECT_NE(line.find("empty=\"\""), std::string::npos);
}

TEST(LoggerTest, LevelsAndChildren) {
  auto sink = std::make_shared<MemorySink>();
  auto clock = std::make_shared<FakeClock>();
  Logger root(sink, Level::kInfo, "edge", clock);
  Logger http = root.child("http");
  http.debug("hidden");
  http.info("listening", {{"port", 8080}});
  EXPECT_EQ(sink->lines().size(), 1u);
  EXPECT_TRUE(sink->contains({"component=edge.http", "event=listening", "port=8080"}));
  root.set_level(Level::kDebug);  // children share the level
  http.debug("shown");
  EXPECT_TRUE(sink->contains({"level=debug", "event=shown"}));
}

TEST(LevelTest, ParsesKnownNamesOnly) {
  Level l = Level::kInfo;
  EXPECT_TRUE(parse_level("warn", &l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(parse_level("verbose", &l));
}

TEST(RateLimiterTest, BurstThenSuppressedThenReported) {
  RateLimiter limiter(2, 1000ms);
  FakeClock clock;
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(clock.mono_now(), &suppressed));
  EXPECT_TRUE(limiter.allow(clock.mono_now(), &suppressed));
  EXPECT_FALSE(limiter.allow(clock.mono_now(), &suppressed));
  EXPECT_FALSE(limiter.allow(clock.mono_now(), &suppressed));
  clock.advance(1000ms);
  EXPECT_TRUE(limiter.allow(clock.mono_now(), &suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace shopeasy::log
