#include "cloud/api/order_event_hub.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/db/database.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::cloud::api {
namespace {

using namespace std::chrono_literals;
using Kind = OrderEventHub::Wake::Kind;

// The hub reads what any instance wrote to order_events; the test writes those rows
// directly, as another instance would.
class OrderEventHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("order-event-hub");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto opened = storage::open_sqlite_store(dir_->file("cloud.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().is_ok());
    auto writer = db::Database::open(dir_->file("cloud.db").string());
    ASSERT_TRUE(writer.ok());
    writer_.emplace(std::move(*writer));
    hub_ = std::make_unique<OrderEventHub>(
        *store_, clock_, OrderEventHub::Options{.poll_every = 5ms}, log::Logger(), metrics_);
  }

  void add_event(const std::string& order_id, std::int64_t seq, std::int64_t at_ms) {
    ASSERT_TRUE(writer_
                    ->run("INSERT INTO order_events (order_id, seq, kind, body, at_ms) VALUES "
                          "(?, ?, 'status', '{}', ?)",
                          order_id, seq, at_ms)
                    .is_ok());
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }

  FakeClock clock_;
  metrics::Registry metrics_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<storage::CloudStore> store_;
  std::optional<db::Database> writer_;
  std::unique_ptr<OrderEventHub> hub_;
};

TEST_F(OrderEventHubTest, KnowsEachOrdersLatestEventInsideTheWindow) {
  add_event("o-1", 1, now_ms());
  add_event("o-1", 2, now_ms());
  add_event("o-old", 1, now_ms() - 60000);  // outside the 10 s window
  EXPECT_EQ(hub_->poll_once(), 1);
  EXPECT_EQ(hub_->wait("o-1", 1, 0ms).kind, Kind::kLook);      // seq 2 is past 1: no waiting
  EXPECT_EQ(hub_->wait("o-1", 2, 1ms).kind, Kind::kTimedOut);  // nothing past 2 yet
  EXPECT_EQ(hub_->wait("o-old", 0, 1ms).kind, Kind::kTimedOut);
  EXPECT_EQ(hub_->poll_once(), 0);  // nothing new
  add_event("o-1", 3, now_ms());
  EXPECT_EQ(hub_->poll_once(), 1);
  EXPECT_EQ(hub_->wait("o-1", 2, 0ms).kind, Kind::kLook);
}

// Streams waiting on an order the hub already knows get its new events from one read.
TEST_F(OrderEventHubTest, HandsTheNewEventsToEveryWaitingStream) {
  add_event("o-1", 1, now_ms());
  hub_->poll_once();
  hub_->start();
  std::vector<OrderEventHub::Wake> wakes(3);
  std::vector<std::thread> streams;
  for (auto& wake : wakes) {
    streams.emplace_back([&] { wake = hub_->wait("o-1", 1, 10s); });
  }
  ASSERT_TRUE(testing::wait_for(
      [&] { return metrics_.render().find("cloud_order_streams_waiting 3") != std::string::npos; },
      5s));
  // Both in one statement, as one commit: the hub sees them together.
  ASSERT_TRUE(writer_
                  ->run("INSERT INTO order_events (order_id, seq, kind, body, at_ms) VALUES "
                        "('o-1', 2, 'status', '{}', ?), ('o-1', 3, 'status', '{}', ?)",
                        now_ms(), now_ms())
                  .is_ok());
  for (auto& t : streams) t.join();
  for (const auto& wake : wakes) {
    ASSERT_EQ(wake.kind, Kind::kEvents);
    ASSERT_EQ(wake.events.size(), 2u);
    EXPECT_EQ(wake.events[0].seq, 2);
    EXPECT_EQ(wake.events[1].seq, 3);
  }
}

TEST_F(OrderEventHubTest, WakesOnlyTheStreamsOfTheOrderThatMoved) {
  hub_->start();
  std::atomic<int> woken_a{0};
  std::atomic<int> woken_b{0};
  std::thread a([&] { woken_a = hub_->wait("o-a", 0, 10s).kind == Kind::kTimedOut ? 2 : 1; });
  std::thread b([&] { woken_b = hub_->wait("o-b", 0, 300ms).kind == Kind::kTimedOut ? 2 : 1; });
  ASSERT_TRUE(testing::wait_for(
      [&] { return metrics_.render().find("cloud_order_streams_waiting 2") != std::string::npos; },
      5s));
  const auto added = std::chrono::steady_clock::now();
  add_event("o-a", 1, now_ms());
  a.join();
  const auto latency = std::chrono::steady_clock::now() - added;
  b.join();
  EXPECT_EQ(woken_a.load(), 1);
  EXPECT_EQ(woken_b.load(), 2);  // timed out: its order had no event
  EXPECT_LT(latency, 5s);
}

TEST_F(OrderEventHubTest, StopReleasesEveryWaiter) {
  hub_->start();
  std::atomic<bool> returned{false};
  std::thread t([&] {
    EXPECT_EQ(hub_->wait("o-1", 0, 60s).kind, Kind::kTimedOut);
    returned = true;
  });
  ASSERT_TRUE(testing::wait_for(
      [&] { return metrics_.render().find("cloud_order_streams_waiting 1") != std::string::npos; },
      5s));
  hub_->stop();
  t.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(hub_->wait("o-1", 0, 60s).kind, Kind::kTimedOut);  // a stopped hub never blocks
}

}  // namespace
}  // namespace shopeasy::cloud::api
