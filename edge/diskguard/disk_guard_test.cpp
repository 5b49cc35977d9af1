#include "edge/diskguard/disk_guard.hpp"

#include <gtest/gtest.h>

namespace shopeasy::edge::diskguard {
namespace {

TEST(DiskGuardTest, PurgesLeastValuableFirstAndAlertsOnLevels) {
  std::int64_t used = 95;
  std::vector<std::string> order;
  auto sink = std::make_shared<log::MemorySink>();
  metrics::Registry metrics;
  DiskGuard guard(
      {"/x", 100, 0.70, 0.90},
      [&] {
        return DiskUsage{used, 100};
      },
      log::Logger(sink, log::Level::kInfo, "t"), metrics);
  guard.add_purger(20, "acked_events", [&] {
    order.push_back("acked_events");
    used -= 10;
    return std::int64_t{10};
  });
  guard.add_purger(10, "telemetry_trails", [&] {
    order.push_back("telemetry_trails");
    used -= 10;
    return std::int64_t{10};
  });
  guard.tick();
  // Trails went first; events only because trails were not enough to get under 70%.
  ASSERT_EQ(order, (std::vector<std::string>{"telemetry_trails", "acked_events"}));
  EXPECT_EQ(guard.status()["level"], "warning");
  EXPECT_TRUE(sink->contains({"event=disk_alert", "level=warning"}));
  used = 50;
  guard.tick();
  EXPECT_EQ(guard.status()["level"], "ok");
  EXPECT_TRUE(sink->contains({"event=disk_alert_cleared"}));
  EXPECT_NE(metrics.render().find("edge_disk_purged_total{kind=\"telemetry_trails\"} 10"),
            std::string::npos);
}

TEST(DiskGuardTest, NothingIsPurgedBelowTheWarningLevel) {
  metrics::Registry metrics;
  bool purged = false;
  DiskGuard guard(
      {"/x", 100},
      [] {
        return DiskUsage{40, 100};
      },
      log::Logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"), metrics);
  guard.add_purger(1, "trails", [&] {
    purged = true;
    return std::int64_t{0};
  });
  guard.tick();
  EXPECT_FALSE(purged);
  EXPECT_EQ(guard.status()["level"], "ok");
}

TEST(DiskGuardTest, DirectoryProbeMeasuresAgainstTheCap) {
  auto probe = filesystem_probe({"/nonexistent-dir", 1000});
  EXPECT_EQ(probe().used_bytes, 0);
  EXPECT_EQ(probe().total_bytes, 1000);
  auto fs = filesystem_probe({"/tmp", 0});
  EXPECT_GT(fs().total_bytes, 0);
}

}  // namespace
}  // namespace shopeasy::edge::diskguard
