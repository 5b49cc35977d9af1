#include "cloud/daemon/registry_watcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "tests/harness/harness.hpp"

namespace shopeasy::cloud {
namespace {

using namespace std::chrono_literals;

storage::StoreRegistration registration(const std::string& id, double lat) {
  storage::StoreRegistration r;
  r.id = id;
  r.name = "Store " + id;
  r.lat = lat;
  r.lon = 77.64;
  return r;
}

class RegistryWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = storage::open_sqlite_store(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().is_ok());
    watcher_ = std::make_unique<RegistryWatcher>(
        *store_, clock_, RegistryWatcher::Options{.poll_every = 5ms, .full_read_every = 10s},
        [this](const std::vector<storage::StoreRecord>& stores) {
          last_size_ = stores.size();
          ++reads_;
        },
        [this](const std::vector<storage::StoreSeen>& seen) {
          for (const auto& s : seen) visits_.push_back(s.id + "@" + std::to_string(s.last_seen_ms));
        },
        log::Logger());
  }

  FakeClock clock_;
  std::unique_ptr<storage::CloudStore> store_;
  std::atomic<std::size_t> last_size_{0};
  std::atomic<int> reads_{0};
  std::vector<std::string> visits_;  // read on the test's thread only (poll_once)
  std::unique_ptr<RegistryWatcher> watcher_;
};

TEST_F(RegistryWatcherTest, ReadsOnlyWhenTheRegistryMovedOrAFullReadIsDue) {
  EXPECT_TRUE(watcher_->poll_once());  // the first check always reads
  EXPECT_FALSE(watcher_->poll_once());
  ASSERT_TRUE(store_->upsert_store(registration("s1", 12.97)).is_ok());
  EXPECT_TRUE(watcher_->poll_once());
  EXPECT_EQ(last_size_.load(), 1u);
  // Being heard from is not a registry change; the periodic full read picks it up.
  ASSERT_TRUE(store_->touch_store("s1", 1000).is_ok());
  EXPECT_FALSE(watcher_->poll_once());
  clock_.advance(9s);
  EXPECT_FALSE(watcher_->poll_once());
  clock_.advance(1s);
  EXPECT_TRUE(watcher_->poll_once());
  EXPECT_EQ(reads_.load(), 3);
}

// A sync taken by another instance moves only last_seen_ms: it reaches this instance's
// online flags within seen_every, without a full read.
TEST_F(RegistryWatcherTest, VisitsThroughAnyInstanceArriveBetweenFullReads) {
  ASSERT_TRUE(store_->upsert_store(registration("s1", 12.97)).is_ok());
  ASSERT_TRUE(store_->upsert_store(registration("s2", 12.99)).is_ok());
  EXPECT_TRUE(watcher_->poll_once());
  ASSERT_TRUE(store_->touch_store("s1", 5000).is_ok());
  EXPECT_FALSE(watcher_->poll_once());  // not due yet
  EXPECT_TRUE(visits_.empty());
  clock_.advance(1s);
  EXPECT_FALSE(watcher_->poll_once());
  EXPECT_EQ(visits_, std::vector<std::string>{"s1@5000"});
  // Later visits only (with the overlap): s1 again within 3 s of the newest is fine.
  ASSERT_TRUE(store_->touch_store("s2", 9000).is_ok());
  clock_.advance(1s);
  watcher_->poll_once();
  EXPECT_EQ(visits_.back(), "s2@9000");
  EXPECT_EQ(reads_.load(), 1);  // no full read was needed
}

TEST_F(RegistryWatcherTest, ItsThreadSeesAChangeAndStops) {
  watcher_->start();
  ASSERT_TRUE(store_->upsert_store(registration("s1", 12.97)).is_ok());
  ASSERT_TRUE(store_->upsert_store(registration("s2", 12.99)).is_ok());
  EXPECT_TRUE(testing::wait_for([&] { return last_size_.load() == 2; }, 5s));
  watcher_->stop();
  watcher_->stop();  // idempotent
}

}  // namespace
}  // namespace shopeasy::cloud
