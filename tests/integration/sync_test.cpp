// Edge-to-cloud sync with real processes: the cloud's catalog reaches the store, the
// store's stock reaches the cloud's customer catalog, a partition drains when the cloud
// returns, and every bad batch is refused with nothing applied.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "common/geohash/geohash.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "blr-1";
constexpr const char* kStoreSecret = "store-secret-0123456789";
constexpr const char* kCustomerToken = "customer-token";
constexpr const char* kMilkEan = "4006381333931";
constexpr double kLat = 12.9719;
constexpr double kLon = 77.6412;

std::string cloud_tokens() { return tokens_json({{"app", "customer", kCustomerToken}}); }

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("sync");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    start_cloud(0);
    ASSERT_EQ(cloud_call("PUT", std::string("/v1/stores/") + kStoreId,
                         json{{"name", "Indiranagar"},
                              {"lat", kLat},
                              {"lon", kLon},
                              {"service_radius_m", 3000},
                              {"secret", kStoreSecret}}
                             .dump())
                  .status,
              200);
    ASSERT_EQ(cloud_call("PUT", "/v1/catalog/MILK-1L",
                         json{{"name", "Milk 1 L"},
                              {"price_cents", 6500},
                              {"category", "dairy"},
                              {"barcodes", {"04006381333931"}}}
                             .dump())
                  .status,
              200);
  }

  void start_cloud(int port) {
    auto cloud = start_daemon("shopeasy-cloud", {"--http.port=" + std::to_string(port),
                                                 "--state_dir=" + dir_->file("cloud").string(),
                                                 "--auth.tokens=" + cloud_tokens()});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }
  void start_edge(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--http.port=0",
        "--state_dir=" + dir_->file("edge").string(),
        "--mqtt.enabled=false",
        "--store.id=" + std::string(kStoreId),
        "--auth.tokens=" + admin_tokens_json(),
        "--sync.enabled=true",
        "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
        "--sync.heartbeat_ms=200"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto started =
        start_daemon("shopeasy-edge", args, {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    edge_.emplace(std::move(*started));
  }
  HttpReply cloud_call(const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& token = kAdminToken) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  HttpReply edge_call(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    auto headers = bearer();
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", edge_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  std::int64_t cloud_available(const std::string& sku) {
    auto cell = geohash::encode({kLat, kLon}, 7);
    auto r = cloud_call("GET", "/api/inventory?geo_hash=" + *cell, "", kCustomerToken);
    if (r.status != 200) {
      last_inventory_error_ = r.body;
      return -1;
    }
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      if (item["sku"] == sku) return item["available"].get<std::int64_t>();
    }
    last_inventory_error_ = r.body;
    return -2;
  }
  HttpReply receive(const std::string& id, int qty) {
    return edge_call("POST", "/api/scans",
                     json{{"scan_id", id},
                          {"scanner_id", "h1"},
                          {"code", kMilkEan},
                          {"action", "receive"},
                          {"qty", qty},
                          {"bin", "A-01"}}
                         .dump());
  }

  std::string last_inventory_error_;
  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(SyncTest, CatalogFlowsDownAndStockFlowsUp) {
  start_edge();
  // The cloud's catalog item reaches the store: its barcode becomes scannable.
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s))
      << edge_->process.describe();
  ASSERT_EQ(receive("r1", 12).status, 200);
  // The store's stock reaches customers.
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s))
      << cloud_available("MILK-1L") << "\n"
      << edge_->process.describe();
  auto status = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/sync-status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body)["online"], true);
  // The edge hears the acknowledgement a moment after the cloud applies the change.
  json health;
  EXPECT_TRUE(wait_for(
      [&] {
        health = json::parse(edge_call("GET", "/health").body);
        return health["sync"]["backlog"] == 0;
      },
      10s))
      << health.dump();
}

TEST_F(SyncTest, AStoreRegisteredLaterGetsTheWholeCatalog) {
  ASSERT_EQ(cloud_call("PUT", "/v1/stores/late-store",
                       json{{"name", "Late"},
                            {"lat", kLat},
                            {"lon", kLon},
                            {"secret", "another-secret-0123456789"}}
                           .dump())
                .status,
            200);
  auto edge = start_daemon(
      "shopeasy-edge",
      {"--http.port=0", "--state_dir=" + dir_->file("late").string(), "--mqtt.enabled=false",
       "--store.id=late-store", "--auth.tokens=" + admin_tokens_json(), "--sync.enabled=true",
       "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
       "--sync.heartbeat_ms=200"},
      {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", "another-secret-0123456789"}});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  EXPECT_TRUE(wait_for(
      [&] {
        auto r =
            http_request("127.0.0.1", edge->http_port, "GET", "/api/stock/MILK-1L", "", bearer());
        return r && r->status == 200;
      },
      10s))
      << edge->process.describe();
}

TEST_F(SyncTest, ADivergedReplicaIsDetectedAndRepaired) {
  start_edge({"--sync.reconcile_every_ms=300"});
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 12).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s));
  // Damage the cloud's replica behind its back.
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  {
    auto db = db::Database::open(dir_->file("cloud/cloud.db").string());
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    ASSERT_TRUE(db->run("UPDATE replica SET on_hand = 999 WHERE sku = 'MILK-1L'").is_ok());
  }
  start_cloud(port);
  ASSERT_EQ(cloud_available("MILK-1L"), 999);
  // The store's next checksums disagree; it re-sends the bucket and the replica heals.
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s))
      << edge_->process.describe();
  EXPECT_NE(cloud_call("GET", "/metrics").body.find("cloud_reconcile_mismatched_buckets_total 1"),
            std::string::npos);
}

TEST_F(SyncTest, PartitionDrainsWhenTheCloudReturns) {
  start_edge();
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  const int cloud_port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.kill9(), -9);
  cloud_.reset();
  // The store keeps taking scans with the cloud gone.
  for (int i = 0; i < 50; ++i) ASSERT_EQ(receive("p" + std::to_string(i), 1).status, 200);
  EXPECT_TRUE(wait_for(
      [&] { return json::parse(edge_call("GET", "/health").body)["sync"].contains("last_error"); },
      10s));
  start_cloud(cloud_port);
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 50; }, 20s))
      << cloud_available("MILK-1L") << "\n"
      << edge_->process.describe();
}

TEST_F(SyncTest, BadBatchesAreRefusedAndNothingIsApplied) {
  auto sync = [&](const json& batch, const std::string& token,
                  const std::string& store = kStoreId) {
    auto headers = bearer(token);
    headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, "POST", "/v1/stores/" + store + "/sync",
                        batch.dump(), headers)
        .value_or(HttpReply{});
  };
  const std::string store_token = std::string(kStoreId) + ":" + kStoreSecret;
  auto change = [](std::int64_t seq, std::int64_t on_hand) {
    return json{
        {"seq", seq},
        {"kind", "stock.changed"},
        {"body",
         {{"sku", "MILK-1L"}, {"sku_on_hand", on_hand}, {"sku_reserved", 0}, {"version", seq}}}};
  };
  auto batch = [&](std::int64_t first, std::vector<json> changes, std::int64_t sent_at_ms) {
    return json{{"store_id", kStoreId},
                {"first_seq", first},
                {"changes", changes},
                {"downstream_cursor", 0},
                {"sent_at_ms", sent_at_ms}};
  };
  const std::int64_t now = 1767225600000;
  // Wrong credentials.
  EXPECT_EQ(
      sync(batch(1, {change(1, 5)}, now), std::string(kStoreId) + ":wrong-secret-xxxxxxx").status,
      401);
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), "nobody:whatever").status, 401);
  // A customer token cannot sync.
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), kCustomerToken).status, 403);
  // Another store's id in the path.
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), store_token, "other-store").status, 403);
  // A gap: nothing applied, the expected seq named.
  auto gap = sync(batch(3, {change(3, 7)}, now), store_token);
  EXPECT_EQ(gap.status, 409);
  EXPECT_EQ(json::parse(gap.body)["expected_seq"], 1);
  // Malformed and non-consecutive.
  auto bad = sync(json{{"store_id", kStoreId}}, store_token);
  EXPECT_EQ(bad.status, 400);
  auto holes = batch(1, {change(1, 5), change(3, 6)}, now);
  EXPECT_EQ(sync(holes, store_token).status, 400);
  auto before = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/sync-status");
  EXPECT_EQ(json::parse(before.body)["last_applied_seq"], 0) << before.body;
  // Applied once, then a replay is a no-op, even with the edge's clock a day off.
  ASSERT_EQ(sync(batch(1, {change(1, 5), change(2, 4)}, now), store_token).status, 200);
  auto replay = sync(batch(1, {change(1, 99), change(2, 99)}, now + 86400000), store_token);
  ASSERT_EQ(replay.status, 200);
  EXPECT_EQ(json::parse(replay.body)["acked_seq"], 2);
  // The store counts as online after syncing, so its catalog is visible.
  EXPECT_EQ(cloud_available("MILK-1L"), 4) << last_inventory_error_;
  auto metrics = cloud_call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("cloud_sync_duplicates_total 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cloud_sync_refused_total{reason=\"gap\"}"), std::string::npos);
}

TEST_F(SyncTest, CustomerCatalogNeedsAServedCell) {
  auto far = cloud_call("GET", "/api/inventory?geo_hash=u4pruydqqvj", "", kCustomerToken);
  EXPECT_EQ(far.status, 404);
  EXPECT_NE(far.body.find("no store serves geohash u4pruydqqvj"), std::string::npos) << far.body;
  auto bad = cloud_call("GET", "/api/inventory?geo_hash=tdr!", "", kCustomerToken);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "geo_hash");
  auto none = cloud_call("GET", "/api/inventory", "", kCustomerToken);
  EXPECT_EQ(none.status, 400);
  auto stores = cloud_call("GET", "/api/stores?geo_hash=tdr1w", "", kCustomerToken);
  ASSERT_EQ(stores.status, 200) << stores.body;
}

}  // namespace
}  // namespace shopeasy::testing
