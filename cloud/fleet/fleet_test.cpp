// FleetStats against SQLite and a throwaway PostgreSQL server (rows written behind the
// store's back, at exact times), and FleetService's figures on top of them.
#include <gtest/gtest.h>

#include <optional>

#include "cloud/fleet/fleet_service.hpp"
#include "cloud/fleet/fleet_stats.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/db/database.hpp"
#include "tests/harness/postgres_server.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::cloud::fleet {
namespace {

using shopeasy::testing::PostgresServer;
using shopeasy::testing::TempDir;

#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    const ::shopeasy::Status assert_ok_status_ = (expr);                     \
    ASSERT_TRUE(assert_ok_status_.is_ok()) << assert_ok_status_.to_string(); \
  } while (false)

template <typename T>
T value_of(StatusOr<T> result, const char* what) {
  if (!result.ok()) {
    ADD_FAILURE() << what << ": " << result.status().to_string();
    return T{};
  }
  return std::move(result).value();
}
#define VALUE(expr) value_of((expr), #expr)

constexpr std::int64_t kMin = 60'000;

TEST(DeliveryFigures, PercentilesAndPromise) {
  std::vector<DeliveredOrder> orders;
  // Ten orders taking 1..10 minutes, promised 5 minutes: 5 on time, 5 late.
  for (int i = 1; i <= 10; ++i) {
    orders.push_back(DeliveredOrder{.order_id = "o" + std::to_string(i),
                                    .store_id = "s1",
                                    .created_at_ms = 1000,
                                    .delivered_at_ms = 1000 + i * kMin,
                                    .promised_at_ms = 1000 + 5 * kMin});
  }
  orders.push_back(DeliveredOrder{.order_id = "np", .created_at_ms = 0, .delivered_at_ms = 0});
  const DeliveryFigures f = delivery_figures(orders);
  EXPECT_EQ(f.delivered, 11);
  EXPECT_EQ(f.with_promise, 10);
  EXPECT_EQ(f.on_time, 5);
  EXPECT_EQ(f.late, 5);
  ASSERT_TRUE(f.on_time_share);
  EXPECT_DOUBLE_EQ(*f.on_time_share, 0.5);
  EXPECT_DOUBLE_EQ(*f.p50_s, 300);  // nearest rank 6 of 0,1..10 minutes
  EXPECT_DOUBLE_EQ(*f.p90_s, 540);
  EXPECT_DOUBLE_EQ(*f.p99_s, 600);
  EXPECT_DOUBLE_EQ(*f.promised_p50_min, 5);
  const DeliveryFigures none = delivery_figures({});
  EXPECT_FALSE(none.p50_s);
  EXPECT_FALSE(none.on_time_share);
}

TEST(DeliveryFigures, NearestRank) {
  EXPECT_EQ(percentile({}, 0.5), 0);
  EXPECT_EQ(percentile({7}, 0.99), 7);
  EXPECT_EQ(percentile({1, 2, 3, 4}, 0.5), 2);
  EXPECT_EQ(percentile({1, 2, 3, 4}, 0.75), 3);
  EXPECT_EQ(percentile({1, 2, 3, 4}, 1.0), 4);
}

class FleetStatsTest : public ::testing::TestWithParam<std::string> {
 protected:
  static std::optional<PostgresServer>& server() {
    static std::optional<PostgresServer> instance;
    return instance;
  }
  static void TearDownTestSuite() { server().reset(); }
  bool is_postgres() const { return GetParam() == "postgres"; }

  void SetUp() override {
    if (is_postgres()) {
      if (!server()) {
        StatusOr<PostgresServer> started = PostgresServer::start({.settings = {"fsync=off"}});
        ASSERT_TRUE(started.ok()) << started.status().to_string();
        server().emplace(std::move(*started));
      }
      static int databases = 0;
      db_name_ = "fleet_" + std::to_string(++databases);
      ASSERT_OK(server()->create_database(db_name_));
      auto opened = storage::open_postgres_store(server()->dsn(db_name_), 2);
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      store_ = std::move(*opened);
    } else {
      StatusOr<TempDir> dir = TempDir::create("shopeasy-fleet");
      ASSERT_TRUE(dir.ok()) << dir.status().to_string();
      dir_.emplace(std::move(*dir));
      auto opened = storage::open_sqlite_store(dir_->file("cloud.db").string());
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      store_ = std::move(*opened);
    }
    ASSERT_OK(store_->migrate());
    auto stats = is_postgres() ? open_postgres_fleet_stats(server()->dsn(db_name_))
                               : open_sqlite_fleet_stats(dir_->file("cloud.db").string());
    ASSERT_TRUE(stats.ok()) << stats.status().to_string();
    stats_ = std::move(*stats);
    for (const char* id : {"s1", "s2"}) {
      storage::StoreRegistration reg;
      reg.id = id;
      reg.name = std::string("Store ") + id;
      reg.lat = 12.97;
      reg.lon = 77.59;
      reg.secret_sha256 = std::string(64, 'a');
      ASSERT_OK(store_->upsert_store(reg));
    }
  }

  Status run_sql(const std::string& sql) {
    if (is_postgres()) return server()->execute(db_name_, sql);
    StatusOr<db::Database> db = db::Database::open(dir_->file("cloud.db").string());
    if (!db.ok()) return db.status();
    return db->exec(sql);
  }

  // An order row as the store keeps it, with only what the statistics read in its doc.
  Status add_order(const std::string& id, const std::string& store, const std::string& status,
                   std::int64_t created, std::int64_t updated, std::int64_t promised) {
    return run_sql(
        "INSERT INTO orders (order_id, customer_id, store_id, status, payment_due_ms, "
        "accept_by_ms, refund_due, created_at_ms, updated_at_ms, doc) VALUES ('" +
        id + "', 'c1', '" + store + "', '" + status + "', 0, 0, false, " + std::to_string(created) +
        ", " + std::to_string(updated) +
        ", '{\"order\": " + "{\"promised_at_ms\": " + std::to_string(promised) + "}}')");
  }

  Status add_notification(int n, const std::string& channel, const std::string& state,
                          std::int64_t updated) {
    return run_sql(
        "INSERT INTO notify_outbox (dedupe_key, order_id, event_seq, customer_id, channel, "
        "kind, body, state, next_at_ms, created_at_ms, updated_at_ms) VALUES ('k" +
        std::to_string(n) + "', 'o1', " + std::to_string(n) + ", 'c1', '" + channel +
        "', 'delivered', '{}', '" + state + "', 0, " + std::to_string(updated) + ", " +
        std::to_string(updated) + ")");
  }

  std::optional<TempDir> dir_;
  std::string db_name_;
  std::unique_ptr<storage::CloudStore> store_;
  std::unique_ptr<FleetStats> stats_;
};

TEST_P(FleetStatsTest, CountsOrdersPerMinuteInTheWindowOnly) {
  const std::int64_t since = 100 * kMin;
  ASSERT_OK(add_order("before", "s1", "confirmed", since - 1, since, 0));
  ASSERT_OK(add_order("a", "s1", "confirmed", since, since, 0));
  ASSERT_OK(add_order("b", "s2", "delivered", since + 30'000, since, 0));
  ASSERT_OK(add_order("c", "s1", "picking", since + 2 * kMin + 5, since, 0));
  ASSERT_OK(add_order("after", "s1", "picking", since + 3 * kMin, since, 0));
  EXPECT_EQ(VALUE(stats_->orders_per_minute(since, 3, "")), (std::vector<std::int64_t>{2, 0, 1}));
  EXPECT_EQ(VALUE(stats_->orders_per_minute(since, 3, "s1")), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_EQ(stats_->orders_per_minute(since, 0, "").status().field(), "minutes");
  EXPECT_EQ(stats_->orders_per_minute(since, 1441, "").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(FleetStatsTest, ReadsDeliveredOrdersWithTheirPromiseNewestFirst) {
  ASSERT_OK(add_order("d1", "s1", "delivered", 1000, 10 * kMin, 20 * kMin));
  ASSERT_OK(add_order("d2", "s2", "delivered", 2000, 30 * kMin, 20 * kMin));
  ASSERT_OK(add_order("old", "s1", "delivered", 0, kMin - 1, 0));
  ASSERT_OK(add_order("open", "s1", "out_for_delivery", 0, 15 * kMin, 0));
  auto all = VALUE(stats_->delivered(kMin, 60 * kMin, "", 100));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].order_id, "d2");
  EXPECT_EQ(all[0].store_id, "s2");
  EXPECT_EQ(all[0].created_at_ms, 2000);
  EXPECT_EQ(all[0].delivered_at_ms, 30 * kMin);
  EXPECT_EQ(all[0].promised_at_ms, 20 * kMin);
  EXPECT_EQ(all[1].order_id, "d1");
  auto one = VALUE(stats_->delivered(kMin, 60 * kMin, "s1", 100));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].order_id, "d1");
  EXPECT_EQ(VALUE(stats_->delivered(kMin, 60 * kMin, "", 1)).size(), 1u);
  EXPECT_EQ(stats_->delivered(0, 1, "", 0).status().field(), "limit");
}

TEST_P(FleetStatsTest, CountsOpenOrdersByStoreAndStatus) {
  ASSERT_OK(add_order("a", "s1", "picking", 0, 0, 0));
  ASSERT_OK(add_order("b", "s1", "picking", 0, 0, 0));
  ASSERT_OK(add_order("c", "s1", "routed", 0, 0, 0));
  ASSERT_OK(add_order("d", "s2", "out_for_delivery", 0, 0, 0));
  ASSERT_OK(add_order("e", "s2", "delivered", 0, 0, 0));
  ASSERT_OK(add_order("f", "s2", "cancelled", 0, 0, 0));
  std::map<std::string, std::int64_t> seen;
  for (const auto& c : VALUE(stats_->open_orders(""))) seen[c.store_id + "/" + c.status] = c.count;
  EXPECT_EQ(seen, (std::map<std::string, std::int64_t>{
                      {"s1/picking", 2}, {"s1/routed", 1}, {"s2/out_for_delivery", 1}}));
  seen.clear();
  for (const auto& c : VALUE(stats_->open_orders("s2")))
    seen[c.store_id + "/" + c.status] = c.count;
  EXPECT_EQ(seen, (std::map<std::string, std::int64_t>{{"s2/out_for_delivery", 1}}));
}

TEST_P(FleetStatsTest, CountsRecentNotificationFailuresByChannel) {
  ASSERT_OK(add_notification(1, "sms", "dead", 10 * kMin));
  ASSERT_OK(add_notification(2, "sms", "dead", 11 * kMin));
  ASSERT_OK(add_notification(3, "webhook", "failed", 12 * kMin));
  ASSERT_OK(add_notification(4, "webhook", "sent", 12 * kMin));
  ASSERT_OK(add_notification(5, "webhook", "pending", 12 * kMin));
  ASSERT_OK(add_notification(6, "sms", "dead", kMin));  // before the window
  std::map<std::string, std::int64_t> seen;
  for (const auto& c : VALUE(stats_->notification_failures(5 * kMin))) {
    seen[c.channel + "/" + c.state] = c.count;
  }
  EXPECT_EQ(seen, (std::map<std::string, std::int64_t>{{"sms/dead", 2}, {"webhook/failed", 1}}));
}

TEST_P(FleetStatsTest, SummaryJoinsFiguresStoresAndPricing) {
  const std::int64_t now = 1'795'000'000'000;
  FakeClock clock(from_unix_ms(now));
  // s1: 4 delivered with a 20-minute promise, 3 of them late; s2: 3 on time.
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(add_order("s1-" + std::to_string(i), "s1", "delivered", now - 40 * kMin,
                        now - 10 * kMin + i, now - 20 * kMin + (i == 0 ? 40 * kMin : 0)));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(add_order("s2-" + std::to_string(i), "s2", "delivered", now - 30 * kMin,
                        now - 20 * kMin, now - 5 * kMin));
  }
  ASSERT_OK(add_order("open", "s2", "picking", now - 30'000, now - 30'000, 0));
  ASSERT_OK(add_notification(1, "webhook", "dead", now - kMin));
  std::vector<std::string> asked;
  FleetService service(
      *store_, *stats_,
      [&](const std::vector<std::string>& ids) -> StatusOr<PricingState> {
        asked = ids;
        PricingState p;
        p.enabled = false;
        p.surge["s1"] = SurgeState{.step = 2, .fee_cents = 4900, .reason = "busy"};
        return p;
      },
      clock, FleetOptions{.breach_late_share = 0.2, .breach_min_delivered = 3});
  nlohmann::json s = VALUE(service.summary(3600));
  EXPECT_EQ(asked, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(s["orders_per_minute"]["counts"].size(), 60u);
  EXPECT_EQ(s["orders_per_minute"]["total"], 8);  // every order was created within the hour
  EXPECT_EQ(s["delivery"]["delivered"], 7);
  EXPECT_EQ(s["delivery"]["late"], 3);
  EXPECT_EQ(s["delivery"]["on_time"], 4);
  ASSERT_EQ(s["breaching"].size(), 1u);
  EXPECT_EQ(s["breaching"][0]["store_id"], "s1");
  EXPECT_EQ(s["breaching"][0]["late_share"], 0.75);
  EXPECT_EQ(s["pricing"]["kill_switch"], true);
  ASSERT_EQ(s["stores"].size(), 2u);
  EXPECT_EQ(s["stores"][0]["surge"]["fee_cents"], 4900);
  EXPECT_TRUE(s["stores"][1]["surge"].is_null());
  EXPECT_EQ(s["stores"][1]["open_orders"], 1);
  ASSERT_EQ(s["notifications"]["channels"].size(), 1u);
  EXPECT_EQ(s["notifications"]["channels"][0]["dead"], 1);
  EXPECT_EQ(service.summary(59).status().field(), "window_s");

  // The database figures are shared for a moment; the pricing state is read every time.
  ASSERT_OK(add_order("late-comer", "s2", "confirmed", now - kMin, now - kMin, 0));
  asked.clear();
  EXPECT_EQ(VALUE(service.summary(3600))["orders_per_minute"]["total"], 8);
  EXPECT_EQ(asked.size(), 2u);
  clock.advance(std::chrono::milliseconds(FleetService::kFiguresTtlMs));
  EXPECT_EQ(VALUE(service.summary(3600))["orders_per_minute"]["total"], 9);

  nlohmann::json d = VALUE(service.store("s1", 3600));
  EXPECT_EQ(d["store"]["id"], "s1");
  EXPECT_EQ(d["late_orders"].size(), 3u);
  EXPECT_EQ(d["open_orders"]["picking"], 0);
  EXPECT_EQ(d["store"]["surge"]["step"], 2);
  EXPECT_EQ(service.store("nope", 3600).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service.order("nope").status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, FleetStatsTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

}  // namespace
}  // namespace shopeasy::cloud::fleet
