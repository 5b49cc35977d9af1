#include "edge/telemetry/trail_store.hpp"

#include <gtest/gtest.h>

#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;
constexpr std::int64_t kT0 = 1'767'225'600'000;
constexpr double kMetresPerDegLat = 111'195.0;

TrailPoint at(std::int64_t ts, double north_m = 0) {
  return TrailPoint{ts, kLat + north_m / kMetresPerDegLat, kLon, 5.0, std::nullopt, std::nullopt};
}

class TrailStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("trail-test");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    dir_.emplace(std::move(*dir));
    open();
  }
  void open(std::size_t purge_batch = 5000) {
    store_.reset();
    TrailOptions o;
    o.path = dir_->file("telemetry.db").string();
    o.min_interval_s = 10;
    o.min_distance_m = 25;
    o.purge_batch_rows = purge_batch;
    auto s = TrailStore::open(o, log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  std::vector<TrailPoint> all(const std::string& runner) {
    EXPECT_TRUE(store_->flush(10s).is_ok());
    auto r = store_->trail(runner, 0, INT64_MAX, 1'000'000);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : std::vector<TrailPoint>{};
  }

  std::optional<testing::TempDir> dir_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<TrailStore> store_;
};

TEST_F(TrailStoreTest, StandingStillKeepsOnePointPerInterval) {
  int kept = 0;
  for (int i = 0; i < 60; ++i) kept += store_->offer("r1", at(kT0 + i * 1000)) ? 1 : 0;
  EXPECT_EQ(kept, 6);  // 0, 10, 20, 30, 40, 50 s
  auto points = all("r1");
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[1].ts_ms, kT0 + 10'000);
  EXPECT_EQ(points[1].accuracy_m, 5.0);
  EXPECT_FALSE(points[1].speed_mps.has_value());
}

TEST_F(TrailStoreTest, MovingKeepsOnePointPerDistance) {
  // 10 m/s: 25 m is reached every 3rd second, well before 10 s.
  for (int i = 0; i <= 30; ++i) store_->offer("r1", at(kT0 + i * 1000, 10.0 * i));
  auto points = all("r1");
  EXPECT_EQ(points.size(), 11u);
  EXPECT_EQ(points[1].ts_ms, kT0 + 3000);
}

TEST_F(TrailStoreTest, RunnersAreSampledAndQueriedSeparately) {
  store_->offer("r1", at(kT0));
  store_->offer("r2", at(kT0 + 1000));
  store_->offer("r2", at(kT0 + 2000, 100));
  EXPECT_EQ(all("r1").size(), 1u);
  EXPECT_EQ(all("r2").size(), 2u);
  EXPECT_TRUE(all("nobody").empty());
}

TEST_F(TrailStoreTest, RangeIsInclusiveOrderedAndLimited) {
  for (int i = 0; i < 10; ++i) store_->offer("r1", at(kT0 + i * 10'000));
  ASSERT_TRUE(store_->flush(10s).is_ok());
  auto r = store_->trail("r1", kT0 + 20'000, kT0 + 50'000, 100);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ(r->front().ts_ms, kT0 + 20'000);
  EXPECT_EQ(r->back().ts_ms, kT0 + 50'000);
  auto limited = store_->trail("r1", kT0, kT0 + 90'000, 3);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 3u);
  EXPECT_EQ(limited->back().ts_ms, kT0 + 20'000);
}

TEST_F(TrailStoreTest, BacklogIsThinnedAmongItselfAndStored) {
  ASSERT_TRUE(store_->offer("r1", at(kT0 + 3'600'000)));
  int kept = 0;
  for (int i = 0; i < 100; ++i) kept += store_->offer("r1", at(kT0 + i * 1000)) ? 1 : 0;
  EXPECT_EQ(kept, 10);
  EXPECT_EQ(all("r1").size(), 11u);
}

TEST_F(TrailStoreTest, SamePointTwiceIsStoredOnce) {
  store_->offer("r1", at(kT0));
  store_->forget("r1");
  store_->offer("r1", at(kT0));
  EXPECT_EQ(all("r1").size(), 1u);
}

TEST_F(TrailStoreTest, PurgeDeletesOnlyOldRowsInSmallBatches) {
  open(/*purge_batch=*/7);
  for (const char* runner : {"a", "b", "c"}) {
    for (int i = 0; i < 40; ++i) store_->offer(runner, at(kT0 + i * 10'000));
  }
  ASSERT_TRUE(store_->flush(10s).is_ok());
  // Rows before kT0 + 300 s: 30 per runner.
  auto deleted = store_->purge(kT0 + 300'000, 30s);
  ASSERT_TRUE(deleted.ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 90);
  for (const char* runner : {"a", "b", "c"}) {
    auto left = all(runner);
    ASSERT_EQ(left.size(), 10u) << runner;
    EXPECT_EQ(left.front().ts_ms, kT0 + 300'000);
  }
  auto again = store_->purge(kT0 + 300'000, 30s);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_NE(metrics_.render().find("edge_telemetry_trail_rows_purged_total 90"), std::string::npos);
}

TEST_F(TrailStoreTest, PointsSurviveAReopen) {
  store_->offer("r1", at(kT0));
  store_->offer("r1", at(kT0 + 10'000));
  store_->stop();
  open();
  EXPECT_EQ(all("r1").size(), 2u);
}

TEST_F(TrailStoreTest, StoppedStoreRefusesQuietly) {
  store_->stop();
  store_->stop();
  EXPECT_FALSE(store_->offer("r1", at(kT0)));
  EXPECT_EQ(store_->flush(1s).code(), StatusCode::kFailedPrecondition);
}

TEST_F(TrailStoreTest, BadOptionsAreRejected) {
  TrailOptions o;
  EXPECT_EQ(
      TrailStore::open(o, log::Logger(sink_, log::Level::kInfo, "t"), metrics_).status().code(),
      StatusCode::kInvalidArgument);
  o.path = dir_->file("x.db").string();
  o.min_distance_m = -1;
  EXPECT_EQ(
      TrailStore::open(o, log::Logger(sink_, log::Level::kInfo, "t"), metrics_).status().field(),
      "min_distance_m");
}

TEST_F(TrailStoreTest, UnopenableFileIsUnavailable) {
  TrailOptions o;
  o.path = dir_->file("no/such/dir/telemetry.db").string();
  auto s = TrailStore::open(o, log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
