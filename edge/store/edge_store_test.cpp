#include "edge/store/edge_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "common/db/migration.hpp"
#include "edge/store/schema.hpp"

namespace shopeasy::edge::store {
namespace {

using namespace std::chrono_literals;

class EdgeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edge-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    open_store();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_store(std::function<Status()> sync_wal = {}) {
    StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.sync_wal = std::move(sync_wal);
    auto s = EdgeStore::open(o, clock_, bus_, log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  std::int64_t count_events() {
    return store_->read([](db::Database& db) {
      return db.query_one<std::int64_t>("SELECT count(*) FROM events").value().value_or(-1);
    });
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<EdgeStore> store_;
};

TEST_F(EdgeStoreTest, WriteCommitsEffectAndEventTogether) {
  const auto from = bus_.head();
  auto r = store_->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("INSERT INTO bins (code, walk_order) VALUES (?, ?)", std::string("A1"), 1));
    auto seq = ctx.emit("bin.created", {{"code", "A1"}});
    if (!seq.ok()) return seq.status();
    return nlohmann::json{{"seq", *seq}};
  });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["seq"], 1);
  auto published = bus_.read(from, 10, 0ms);
  ASSERT_EQ(published.events.size(), 1u);
  EXPECT_EQ(published.events[0].type, "bin.created");
  EXPECT_EQ(published.events[0].seq, 1);
  EXPECT_EQ(count_events(), 1);
}

TEST_F(EdgeStoreTest, FailedWriteRollsBackAloneAndEmitsNothing) {
  const auto from = bus_.head();
  auto bad = store_->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("INSERT INTO bins (code) VALUES ('B1')"));
    auto seq = ctx.emit("bin.created", {{"code", "B1"}});
    (void)seq;
    return failed_precondition("changed my mind");
  });
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  auto good = store_->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    auto seq = ctx.emit("x", {});
    if (!seq.ok()) return seq.status();
    return nlohmann::json(*seq);
  });
  ASSERT_TRUE(good.ok());
  // The failed write's event row was rolled back, so sequence numbers stay gapless.
  EXPECT_EQ(*good, 1);
  EXPECT_EQ(bus_.read(from, 10, 0ms).events.size(), 1u);
  auto bins = store_->read([](db::Database& db) {
    return db.query_one<std::int64_t>("SELECT count(*) FROM bins").value().value_or(-1);
  });
  EXPECT_EQ(bins, 0);
}

TEST_F(EdgeStoreTest, ExceptionInWriteIsAnInternalErrorNotACrash) {
  auto r = store_->write(
      [](WriteContext&) -> StatusOr<nlohmann::json> { throw std::runtime_error("oops"); });
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(
      store_->write([](WriteContext&) -> StatusOr<nlohmann::json> { return nlohmann::json(1); })
          .ok());
}

TEST_F(EdgeStoreTest, ConcurrentWritersShareCommitsAndAllLand) {
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = store_->write([t, i](WriteContext& ctx) -> StatusOr<nlohmann::json> {
          auto seq = ctx.emit("n", {{"t", t}, {"i", i}});
          if (!seq.ok()) return seq.status();
          return nlohmann::json(*seq);
        });
        if (r.ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(count_events(), kThreads * kEach);
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("edge_store_writes_total{result=\"ok\"} 400"), std::string::npos) << text;
}

TEST_F(EdgeStoreTest, CommittedWritesSurviveReopen) {
  ASSERT_TRUE(store_
                  ->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
                    auto seq = ctx.emit("kept", {});
                    if (!seq.ok()) return seq.status();
                    return nlohmann::json(*seq);
                  })
                  .ok());
  store_.reset();
  open_store();
  EXPECT_EQ(count_events(), 1);
}

// A write function's own result type comes back as is, no JSON in between.
struct BinCreated {
  std::string code;
  std::int64_t seq = 0;
};

TEST_F(EdgeStoreTest, TypedWriteReturnsTheFunctionsStruct) {
  StatusOr<BinCreated> r = store_->write([](WriteContext& ctx) -> StatusOr<BinCreated> {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("INSERT INTO bins (code) VALUES ('T1')"));
    SHOPEASY_ASSIGN_OR_RETURN(auto seq, ctx.emit("bin.created", {{"code", "T1"}}));
    return BinCreated{"T1", seq};
  });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->code, "T1");
  EXPECT_EQ(r->seq, 1);

  // A plain integer, and a plain value from a function that cannot fail.
  StatusOr<std::int64_t> changed = store_->write([](WriteContext& ctx) -> StatusOr<std::int64_t> {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("UPDATE bins SET walk_order = 5 WHERE code = 'T1'"));
    return ctx.db().changes();
  });
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 1);
  StatusOr<std::string> plain = store_->write([](WriteContext&) { return std::string("done"); });
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "done");
}

TEST_F(EdgeStoreTest, TypedWriteThatFailsRollsBackAndReturnsOnlyTheError) {
  const auto from = bus_.head();
  StatusOr<BinCreated> r = store_->write([](WriteContext& ctx) -> StatusOr<BinCreated> {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("INSERT INTO bins (code) VALUES ('T2')"));
    SHOPEASY_RETURN_IF_ERROR(ctx.emit("bin.created", {{"code", "T2"}}).status());
    return conflict("lost a race");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(r.status().message(), "lost a race");
  EXPECT_TRUE(bus_.read(from, 10, 0ms).events.empty());
  EXPECT_EQ(count_events(), 0);
  auto bins = store_->read([](db::Database& db) {
    return db.query_one<std::int64_t>("SELECT count(*) FROM bins").value().value_or(-1);
  });
  EXPECT_EQ(bins, 0);

  // A write that throws after producing nothing is kInternal, and rolled back too.
  StatusOr<BinCreated> thrown = store_->write([](WriteContext& ctx) -> StatusOr<BinCreated> {
    (void)ctx.db().run("INSERT INTO bins (code) VALUES ('T3')");
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->read([](db::Database& db) {
    return db.query_one<std::int64_t>("SELECT count(*) FROM bins").value().value_or(-1);
  }),
            0);
}

TEST_F(EdgeStoreTest, WriteWithoutAValueReturnsAStatus) {
  Status ok = store_->write([](WriteContext& ctx) -> Status {
    return ctx.db().run("INSERT INTO bins (code) VALUES ('V1')");
  });
  EXPECT_TRUE(ok.is_ok()) << ok.to_string();
  Status refused = store_->write([](WriteContext& ctx) -> Status {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("INSERT INTO bins (code) VALUES ('V2')"));
    return failed_precondition("not today");
  });
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  bool ran = false;
  Status nothing_to_say = store_->write([&ran](WriteContext&) { ran = true; });
  EXPECT_TRUE(nothing_to_say.is_ok());
  EXPECT_TRUE(ran);
  auto codes = store_->read([](db::Database& db) {
    return db.query_one<std::string>("SELECT group_concat(code) FROM bins").value().value_or("");
  });
  EXPECT_EQ(codes, "V1");
  store_->stop();
  EXPECT_EQ(store_->write([](WriteContext&) -> Status { return Status::ok(); }).code(),
            StatusCode::kUnavailable);
}

TEST_F(EdgeStoreTest, WriteAfterStopIsUnavailable) {
  store_->stop();
  auto r =
      store_->write([](WriteContext&) -> StatusOr<nlohmann::json> { return nlohmann::json(); });
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

StatusOr<nlohmann::json> emit_one(WriteContext& ctx) {
  auto seq = ctx.emit("held", {});
  if (!seq.ok()) return seq.status();
  return nlohmann::json(*seq);
}

// A durable write is answered, and its event published, only after the WAL sync that
// covers its commit has returned.
TEST_F(EdgeStoreTest, DurableWriteIsAnsweredOnlyAfterItsWalSync) {
  std::promise<void> entered;
  std::promise<void> disk_done;
  auto disk = disk_done.get_future().share();
  bool first = true;
  store_.reset();
  open_store([&]() -> Status {
    if (first) {
      first = false;
      entered.set_value();
      disk.wait();
    }
    return Status::ok();
  });
  const auto from = bus_.head();
  auto answer = std::async(std::launch::async, [&] { return store_->write(emit_one); });
  entered.get_future().wait();  // committed to the WAL, its sync under way
  EXPECT_EQ(answer.wait_for(0ms), std::future_status::timeout);
  EXPECT_TRUE(bus_.read(from, 10, 0ms).events.empty());
  EXPECT_EQ(count_events(), 1);  // committed, readable, not yet acknowledged
  // The writer does not wait for the disk: the next write runs meanwhile, in an open
  // transaction that commits once the sync under way is done.
  std::atomic<bool> second_ran{false};
  auto second = std::async(std::launch::async, [&] {
    return store_->write([&](WriteContext& ctx) {
      second_ran = true;
      return emit_one(ctx);
    });
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!second_ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_TRUE(second_ran);
  EXPECT_EQ(second.wait_for(0ms), std::future_status::timeout);
  // A disk that hangs is a stalled store, though the writer itself is free.
  EXPECT_FALSE(store_->stalled(30s));
  clock_.advance(31s);
  EXPECT_TRUE(store_->stalled(30s));
  disk_done.set_value();
  auto r = answer.get();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(second.get().ok());
  EXPECT_FALSE(store_->stalled(30s));
  EXPECT_EQ(bus_.read(from, 10, 0ms).events.size(), 2u);
}

TEST_F(EdgeStoreTest, FailedWalSyncRefusesTheWaitingWriteAndEveryLaterOne) {
  store_.reset();
  open_store([] { return unavailable("EIO"); });
  const auto from = bus_.head();
  auto r = store_->write(emit_one);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(bus_.read(from, 10, 0ms).events.empty());
  EXPECT_TRUE(store_->stalled(std::chrono::seconds(3600)));  // the watchdog restarts the daemon
  EXPECT_EQ(store_->write(emit_one).status().code(), StatusCode::kUnavailable);
  EXPECT_NE(metrics_.render().find("edge_store_sync_failures_total 1"), std::string::npos);
}

TEST_F(EdgeStoreTest, DurableStoreSyncsTheRealWalFile) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->write(emit_one).ok());
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("edge_store_sync_seconds_count"), std::string::npos);
  EXPECT_EQ(text.find("edge_store_sync_seconds_count 0"), std::string::npos);
  EXPECT_NE(text.find("edge_store_sync_failures_total 0"), std::string::npos);
}

// A store's database from before picker claims (version 4) is brought to the newest
// version on open: its orders stay, unclaimed and without a bag count, and the new columns take
// values (bags within 1..50 only).
TEST_F(EdgeStoreTest, AVersion4DatabaseGainsPickerClaimsAndBags) {
  store_.reset();
  const std::string path = dir_ + "/old.db";
  {
    auto db = db::Database::open(path);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    const auto all = edge_migrations();
    ASSERT_GE(all.size(), 4u);
    ASSERT_EQ(all[3].version, 4);
    ASSERT_TRUE(db::migrate(*db, all.first(4), clock_).is_ok());
    ASSERT_TRUE(db->run("INSERT INTO orders (order_id, customer_id, status, lat, lon, "
                        "promised_at_ms, total_cents, received_at_ms, updated_at_ms, body) "
                        "VALUES ('o-1', 'c-1', 'accepted', 1, 2, 3, 4, 5, 6, '{}')")
                    .is_ok());
  }
  StoreOptions o;
  o.path = path;
  auto s = EdgeStore::open(o, clock_, bus_, log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  store_ = std::move(*s);
  auto version = store_->read([](db::Database& db) { return db::schema_version(db); });
  ASSERT_TRUE(version.ok());
  // Brought to the newest version, whichever that is now.
  EXPECT_EQ(*version, edge_migrations().back().version);
  auto unclaimed = store_->read([](db::Database& db) {
    return db.query_one<std::int64_t>(
        "SELECT count(*) FROM orders WHERE order_id = 'o-1' AND picker IS NULL AND "
        "picker_seen_at_ms IS NULL AND bags IS NULL");
  });
  ASSERT_TRUE(unclaimed.ok()) << unclaimed.status().to_string();
  EXPECT_EQ(unclaimed->value_or(0), 1);
  auto claimed = store_->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("UPDATE orders SET picker = 'ann', picker_seen_at_ms = 7, bags = 2 WHERE "
                     "order_id = 'o-1'"));
    return nlohmann::json::object();
  });
  EXPECT_TRUE(claimed.ok()) << claimed.status().to_string();
  auto too_many = store_->write([](WriteContext& ctx) -> StatusOr<nlohmann::json> {
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run("UPDATE orders SET bags = 51 WHERE order_id = 'o-1'"));
    return nlohmann::json::object();
  });
  EXPECT_FALSE(too_many.ok());
}

}  // namespace
}  // namespace shopeasy::edge::store
