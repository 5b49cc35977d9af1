#include "edge/sync/sync_client.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/http/server.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::edge::sync {
namespace {

using namespace std::chrono_literals;

// A store with no cloud reachable: what /health says about the outbox must come from
// the outbox, not from the last exchange.
class SyncStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edge-sync-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    auto s = store::EdgeStore::open(o, clock_, bus_, log::Logger(sink_, log::Level::kInfo, "t"),
                                    metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    make_client(2000);
  }
  void TearDown() override {
    client_.reset();
    if (cloud_) cloud_->stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void make_client(std::size_t max_changes) {
    SyncOptions options;
    options.stock_cover = stock_cover_;
    options.cloud_url = "http://127.0.0.1:" + std::to_string(cloud_port_);
    options.store_id = "s1";
    options.store_secret = "x";
    options.max_changes = max_changes;
    options.reconcile_every = std::chrono::milliseconds(0);
    client_ = std::make_unique<SyncClient>(options, *store_, bus_, DownstreamApplier{}, clock_,
                                           log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
  }
  // An in-process stand-in for the cloud that applies everything it is sent and keeps
  // each batch as the store sent it.
  void start_cloud() {
    cloud_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, nullptr, log::Logger(sink_, log::Level::kInfo, "cloud"), metrics_);
    cloud_->route(
        "POST", "/v1/stores/s1/sync", http::Access::public_route(),
        [this](const http::Request& r) {
          if (refuse_) {
            return http::Response::error(Status(StatusCode::kUnavailable, "refused by the test"));
          }
          StatusOr<wire::SyncBatch> batch = wire::parse_sync_batch(r.body);
          if (!batch.ok()) return http::Response::error(batch.status());
          std::lock_guard lock(batches_mutex_);
          batches_.push_back(*batch);
          wire::SyncReply reply;
          reply.acked_seq =
              batch->changes.empty() ? batch->first_seq - 1 : batch->changes.back().seq;
          reply.next_cursor = batch->downstream_cursor;
          return http::Response::json(200, wire::encode(reply));
        },
        http::BodyOptions{.accept_gzip = true});
    auto port = cloud_->start();
    ASSERT_TRUE(port.ok()) << port.status().to_string();
    cloud_port_ = *port;
  }

  void emit_changes(int n) {
    for (int i = 0; i < n; ++i) {
      Status written = store_->write([&](store::WriteContext& ctx) -> Status {
        return ctx.emit("note.added", {{"i", i}}).status();
      });
      ASSERT_TRUE(written.is_ok()) << written.to_string();
    }
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<http::HttpServer> cloud_;
  int cloud_port_ = 1;
  std::unique_ptr<SyncClient> client_;
  // What the clients make_client() builds report as stock cover (unset: none).
  std::function<std::optional<std::vector<wire::StockCover>>()> stock_cover_;
  std::atomic<bool> refuse_{false};  // the stand-in cloud answers 503 while set
  std::mutex batches_mutex_;         // guards batches_ (the server's threads append)
  std::vector<wire::SyncBatch> batches_;
};

TEST_F(SyncStatusTest, AnEmptyOutboxIsCaughtUp) {
  const nlohmann::json s = client_->status();
  EXPECT_EQ(s["newest_seq"], 0);
  EXPECT_EQ(s["backlog"], 0);
  EXPECT_EQ(s["lag_s"], 0.0);
}

// No exchange has run since these changes committed (as when they commit while one is
// under way): the backlog and the lag still count them.
TEST_F(SyncStatusTest, ChangesCommittedAfterTheLastExchangeAreBacklog) {
  emit_changes(3);
  clock_.advance(5s);
  const nlohmann::json s = client_->status();
  EXPECT_EQ(s["acked_seq"], 0);
  EXPECT_EQ(s["newest_seq"], 3);
  EXPECT_EQ(s["backlog"], 3);
  EXPECT_DOUBLE_EQ(s["lag_s"].get<double>(), 5.0);
}

// A backlog drained in several batches: each tells the cloud when the oldest change it
// leaves behind was made, and the last one, reaching the head, says nothing is left.
TEST_F(SyncStatusTest, EachBatchSaysHowOldTheBacklogItLeavesIs) {
  start_cloud();
  make_client(2);
  std::vector<std::int64_t> made_at;
  for (int i = 0; i < 5; ++i) {
    made_at.push_back(to_unix_ms(clock_.wall_now()));
    emit_changes(1);
    clock_.advance(1s);
  }
  ASSERT_TRUE(client_->start().is_ok());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (client_->status()["acked_seq"] != 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the sync thread's progress
  }
  client_->stop();
  EXPECT_EQ(client_->status()["backlog"], 0);
  std::lock_guard lock(batches_mutex_);
  std::vector<wire::SyncBatch> with_changes;
  for (const wire::SyncBatch& b : batches_) {
    if (!b.changes.empty()) with_changes.push_back(b);
  }
  ASSERT_EQ(with_changes.size(), 3u);
  EXPECT_EQ(with_changes[0].oldest_unsent_ts_ms, made_at[2]);
  EXPECT_EQ(with_changes[1].oldest_unsent_ts_ms, made_at[4]);
  EXPECT_EQ(with_changes[2].oldest_unsent_ts_ms, std::nullopt);
}

// The stock cover list rides along when it changed since the cloud acknowledged it,
// or when the acknowledged one is older than the refresh; not on every batch.
TEST_F(SyncStatusTest, StockCoverIsSentWhenItChangesOrAges) {
  start_cloud();
  std::vector<wire::StockCover> cover = {{"RICE", 90, 1.5}, {"MILK", 0, 12.0}};
  int asked = 0;
  stock_cover_ = [&]() -> std::optional<std::vector<wire::StockCover>> {
    ++asked;
    return cover;
  };
  make_client(2000);
  ASSERT_TRUE(client_->load().is_ok());
  auto last_batch = [&]() {
    std::lock_guard lock(batches_mutex_);
    return batches_.back();
  };
  auto first = client_->sync_once();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_TRUE(last_batch().stock_cover.has_value());
  EXPECT_EQ(*last_batch().stock_cover, cover);
  // Unchanged and acknowledged: not sent again.
  ASSERT_TRUE(client_->sync_once().ok());
  EXPECT_FALSE(last_batch().stock_cover.has_value());
  // Changed: sent, even empty (no SKU is overstocked or scarce any more).
  cover.clear();
  ASSERT_TRUE(client_->sync_once().ok());
  ASSERT_TRUE(last_batch().stock_cover.has_value());
  EXPECT_TRUE(last_batch().stock_cover->empty());
  ASSERT_TRUE(client_->sync_once().ok());
  EXPECT_FALSE(last_batch().stock_cover.has_value());
  // A minute on: sent again so the cloud's copy stays fresh.
  clock_.advance(60s);
  ASSERT_TRUE(client_->sync_once().ok());
  EXPECT_TRUE(last_batch().stock_cover.has_value());
  EXPECT_EQ(asked, 5);
}

TEST_F(SyncStatusTest, StockCoverNotAcknowledgedIsSentAgainAndUnreadableIsNotSent) {
  start_cloud();
  std::optional<std::vector<wire::StockCover>> cover =
      std::vector<wire::StockCover>{{"RICE", 90, 1.5}};
  stock_cover_ = [&]() { return cover; };
  make_client(2000);
  ASSERT_TRUE(client_->load().is_ok());
  // The cloud refuses the exchange: the list was not acknowledged, so it goes again.
  refuse_ = true;
  EXPECT_FALSE(client_->sync_once().ok());
  refuse_ = false;
  ASSERT_TRUE(client_->sync_once().ok());
  {
    std::lock_guard lock(batches_mutex_);
    ASSERT_EQ(batches_.size(), 1u);
    ASSERT_TRUE(batches_.back().stock_cover.has_value());
    EXPECT_EQ(batches_.back().stock_cover->size(), 1u);
  }
  // Unreadable (nullopt): nothing is said, and the cloud keeps the last list until it
  // ages out there.
  cover.reset();
  clock_.advance(60s);
  ASSERT_TRUE(client_->sync_once().ok());
  std::lock_guard lock(batches_mutex_);
  EXPECT_FALSE(batches_.back().stock_cover.has_value());
}

}  // namespace
}  // namespace shopeasy::edge::sync
